"""Sequence batching through tritonclient, over HTTP and gRPC: infer(..., sequence_id=,
sequence_start=, sequence_end=) with uint64 and string ids, interleaved sequences from concurrent
clients, control inputs and flags as the handler saw them, implicit state (the bundled
running_mean), idle release, the oldest strategy's batches, and Triton's error texts."""
import threading
import time

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from clients import PROTOCOLS, client, tensor
from conftest import EXAMPLES, FIXTURES, Server

SEQUENCE_REPO = FIXTURES / "sequence-repo"


@pytest.fixture(scope="module")
def seq_server():
    s = Server([SEQUENCE_REPO, EXAMPLES])
    yield s
    assert s.stop() == 0, s.log


def step(c, protocol, model, seq, value, start=False, end=False, batched=False):
    module = PROTOCOLS[protocol][0]
    x = np.array([[value]] if batched else [value], dtype=np.int32)
    r = c.infer(model, [tensor(module, "INPUT", x)], sequence_id=seq, sequence_start=start, sequence_end=end)
    return r


def run_sequence(c, protocol, model, seq, values, batched=False):
    out = []
    for i, v in enumerate(values):
        r = step(c, protocol, model, seq, v, start=i == 0, end=i == len(values) - 1, batched=batched)
        out.append(r)
    return out


def scalar(r, name):
    return r.as_numpy(name).flatten()[0]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_uint64_ids_flags_and_controls(seq_server, protocol):
    c = client(seq_server, protocol)
    results = run_sequence(c, protocol, "seq_direct", 4242, [3, 4, 5], batched=True)
    assert [int(scalar(r, "OUTPUT")) for r in results] == [3, 7, 12]
    assert [int(scalar(r, "FLAGS")) for r in results] == [1, 0, 2]
    assert [list(r.as_numpy("CTRL").flatten()) for r in results] == [[1, 0, 1], [0, 0, 1], [0, 1, 1]]
    assert scalar(results[0], "CORRID") == b"bigint:4242|"
    # uint64 through a CORRID control of TYPE_UINT64
    big = run_sequence(c, protocol, "seq_uint64", 2**40 + 7, [1, 1])
    assert [int(scalar(r, "OUTPUT")) for r in big] == [1, 2]
    assert scalar(big[0], "CORRID") == b"bigint:%d|ctl=%d" % (2**40 + 7, 2**40 + 7)
    # past 2^53 the id stays exact: up to 2^64 - 1 over HTTP; gRPC's int64_param holds up to 2^63 - 1
    huge = 2**64 - 1 if protocol == "http" else 2**63 - 1
    for k, ident in enumerate([2**53 + 1, huge]):
        steps = run_sequence(c, protocol, "seq_uint64", ident, [k + 1, 10])
        assert [int(scalar(r, "OUTPUT")) for r in steps] == [k + 1, k + 11]
        assert scalar(steps[1], "CORRID") == b"bigint:%d|ctl=%d" % (ident, ident)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_string_ids(seq_server, protocol):
    c = client(seq_server, protocol)
    results = run_sequence(c, protocol, "seq_string", "user-%s" % protocol, [10, 20, 30])
    assert [int(scalar(r, "OUTPUT")) for r in results] == [10, 30, 60]
    assert scalar(results[0], "CORRID") == ("string:user-%s|ctl" % protocol).encode()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_interleaved_sequences_from_concurrent_clients(seq_server, protocol):
    errors, sums = [], {}

    def worker(k):
        try:
            c = client(seq_server, protocol)
            values = [k * 10 + i for i in range(12)]
            rs = run_sequence(c, protocol, "seq_direct", 7000 + k + (100 if protocol == "grpc" else 0), values, batched=True)
            sums[k] = ([int(scalar(r, "OUTPUT")) for r in rs], list(np.cumsum(values)), {int(scalar(r, "PID")) for r in rs})
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(sums) == 8
    for got, want, pids in sums.values():
        assert got == want
        assert len(pids) == 1  # one instance for the sequence's lifetime


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_running_mean_example_with_implicit_state(seq_server, protocol):
    module = PROTOCOLS[protocol][0]
    c = client(seq_server, protocol)
    values = [4.0, 8.0, 15.0, 16.0, 23.0, 42.0]
    means = []
    for i, v in enumerate(values):
        r = c.infer("running_mean", [tensor(module, "VALUE", np.array([[v]], dtype=np.float32))],
                    sequence_id="mean-%s" % protocol, sequence_start=i == 0, sequence_end=i == len(values) - 1)
        means.append(float(scalar(r, "MEAN")))
        assert r.as_numpy("STATE_OUT") is None  # the state stays in the instance
    assert means == pytest.approx([np.mean(values[: i + 1]) for i in range(len(values))])


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_triton_error_texts(seq_server, protocol):
    module = PROTOCOLS[protocol][0]
    c = client(seq_server, protocol)
    x = [tensor(module, "INPUT", np.array([[1]], dtype=np.int32))]
    with pytest.raises(InferenceServerException) as e:
        c.infer("seq_direct", x)
    assert "inference request to model 'seq_direct' must specify a non-zero or non-empty correlation ID" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        c.infer("seq_direct", x, sequence_id=99999)
    assert e.value.message().endswith(
        "inference request for sequence 99999 to model 'seq_direct' must specify the START flag on the first request of the sequence")
    y = [tensor(module, "INPUT", np.array([1], dtype=np.int32))]
    with pytest.raises(InferenceServerException) as e:
        c.infer("seq_uint64", y, sequence_id="text", sequence_start=True)
    assert e.value.message().endswith(
        "sequence batching control 'CORRID_IN' data-type is 'BYTES', but model 'seq_uint64' expects 'UINT64'")
    with pytest.raises(InferenceServerException) as e:
        c.infer("seq_string", y, sequence_id=5, sequence_start=True)
    assert e.value.message().endswith(
        "sequence batching control 'CORRID_IN' data-type is 'UINT64', but model 'seq_string' expects 'BYTES'")


def test_idle_release_over_both_protocols(seq_server):
    h = client(seq_server, "http")
    g = client(seq_server, "grpc")
    assert int(scalar(step(h, "http", "seq_idle", 31, 5, start=True), "OUTPUT")) == 5
    assert int(scalar(step(g, "grpc", "seq_idle", 31, 6), "OUTPUT")) == 11  # same sequence, other protocol
    time.sleep(0.5)  # max_sequence_idle_microseconds: 300000
    with pytest.raises(InferenceServerException) as e:
        step(g, "grpc", "seq_idle", 31, 1)
    assert "must specify the START flag" in e.value.message()


def test_oldest_strategy_batches(seq_server):
    results, errors = {}, []

    def one(k):
        try:
            c = client(seq_server, "http")
            results[k] = int(scalar(step(c, "http", "seq_oldest", 3100 + k, k, start=True, end=True, batched=True), "BATCH"))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results.values()) == [4, 4, 4, 4]  # one call of the preferred size 4


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_iterative_sequence_reschedules_itself(seq_server, protocol):
    results, errors = {}, []

    def one(n):
        try:
            module = PROTOCOLS[protocol][0]
            c = client(seq_server, protocol)
            r = c.infer("seq_iterative", [tensor(module, "N", np.array([[n]], dtype=np.int32))])
            results[n] = list(r.as_numpy("OUT").flatten())
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=one, args=(n,)) for n in (3, 6, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    for n, (steps, max_batch, starts) in results.items():
        assert (steps, starts) == (n, 1)
        assert 1 < max_batch <= 4  # steps of several requests shared calls


def test_iterative_decoder_streams_over_grpc(seq_server):
    import queue

    import tritonclient.grpc as grpcclient

    events = queue.Queue()
    c = client(seq_server, "grpc")
    c.start_stream(callback=lambda result, error: events.put((result, error)))
    try:
        for rid, n in (("x", 3), ("y", 5)):
            c.async_stream_infer("seq_iterative_stream", [tensor(grpcclient, "N", np.array([[n]], dtype=np.int32))],
                                 request_id=rid, enable_empty_final_response=True)
        tokens, finals = {"x": [], "y": []}, set()
        while len(finals) < 2:
            result, error = events.get(timeout=60)
            assert error is None, error
            response = result.get_response()
            if response.outputs:
                tokens[response.id].append(int(result.as_numpy("TOKEN").flatten()[0]))
            if response.parameters["triton_final_response"].bool_param:
                finals.add(response.id)
        assert tokens == {"x": [1, 2, 3], "y": [1, 2, 3, 4, 5]}
    finally:
        c.stop_stream()
