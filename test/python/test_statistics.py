"""Statistics after inferences: the counts must match what was sent (Triton's rules: a batch of n
counts n inferences and one execution; a failed request counts in `fail`, not in the counts)."""
import queue
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from clients import client, tensor


def stats_of(c, model, protocol):
    """The model's statistics as a dict (the gRPC message through its JSON form, numbers as ints)."""
    if protocol == "http":
        s = c.get_inference_statistics(model)["model_stats"]
    else:
        s = c.get_inference_statistics(model, as_json=True)["model_stats"]
    assert len(s) == 1 and s[0]["name"] == model
    return s[0]


def n(stats, *path):
    v = stats
    for k in path:
        v = v.get(k, 0) if isinstance(v, dict) else 0
    return int(v)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_counts_match_what_was_sent(fixtures_server, protocol):
    m = httpclient if protocol == "http" else grpcclient
    c = client(fixtures_server, protocol)
    before = stats_of(c, "batched", protocol)
    t0 = int(time.time() * 1000)
    for rows in (1, 2, 3):
        c.infer("batched", [tensor(m, "INPUT0", np.ones((rows, 3), np.float32))])
    after = stats_of(c, "batched", protocol)
    assert after["version"] == "1"
    assert n(after, "inference_count") - n(before, "inference_count") == 6
    assert n(after, "execution_count") - n(before, "execution_count") == 3
    for phase in ("success", "queue", "compute_input", "compute_infer", "compute_output"):
        assert n(after, "inference_stats", phase, "count") - n(before, "inference_stats", phase, "count") == 3, phase
    assert n(after, "inference_stats", "success", "ns") > n(before, "inference_stats", "success", "ns")
    assert n(after, "inference_stats", "fail", "count") == n(before, "inference_stats", "fail", "count")
    assert n(after, "last_inference") >= t0 - 1000
    sizes = {int(b["batch_size"]): b for b in after.get("batch_stats", [])}
    assert {1, 2, 3} <= set(sizes)


def test_failed_requests_count_as_fail(fixtures_server):
    c = client(fixtures_server, "http")
    x = tensor(httpclient, "IN_FP32", np.zeros((1, 1), np.float32))
    before = stats_of(c, "echo", "http")
    c.infer("echo", [x])
    with pytest.raises(InferenceServerException):
        c.infer("echo", [x], parameters={"throw": "on purpose"})
    after = stats_of(c, "echo", "http")
    assert n(after, "inference_stats", "success", "count") - n(before, "inference_stats", "success", "count") == 1
    assert n(after, "inference_stats", "fail", "count") - n(before, "inference_stats", "fail", "count") == 1
    assert n(after, "inference_count") - n(before, "inference_count") == 1


def test_statistics_of_all_models_and_of_unknown(fixtures_server):
    h = client(fixtures_server, "http")
    names = {s["name"] for s in h.get_inference_statistics()["model_stats"]}
    assert {"batched", "classifier", "echo", "repeat"} <= names
    with pytest.raises(InferenceServerException) as e:
        h.get_inference_statistics("no_such_model")
    # Triton's TRITONSERVER_ServerModelStatistics text (INVALID_ARG), not the inference path's.
    assert e.value.status() == "400"
    assert "requested model 'no_such_model' is not available" in e.value.message()
    g = client(fixtures_server, "grpc")
    assert {s.name for s in g.get_inference_statistics().model_stats} >= {"batched", "echo"}
    with pytest.raises(InferenceServerException) as e:
        g.get_inference_statistics("no_such_model")
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "requested model 'no_such_model' is not available" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        h.get_inference_statistics("echo", "9")
    assert "requested model version is not available for model 'echo'" in e.value.message()


def stream_repeat(g, values):
    """Streams `values` through the decoupled `repeat`; returns when all its responses came."""
    got = queue.Queue()
    g.start_stream(callback=lambda result, error: got.put((result, error)))
    g.async_stream_infer("repeat", [tensor(grpcclient, "IN", np.array(values, np.int32))])
    for _ in values:
        r, e = got.get(timeout=30)
        assert e is None
    g.stop_stream()


def test_decoupled_request_counts(fixtures_server):
    g = client(fixtures_server, "grpc")
    before = stats_of(g, "repeat", "grpc")
    stream_repeat(g, [7, 8, 9])
    after = stats_of(g, "repeat", "grpc")
    assert n(after, "inference_stats", "success", "count") - n(before, "inference_stats", "success", "count") == 1
    assert n(after, "execution_count") - n(before, "execution_count") == 1
    assert n(after, "inference_count") - n(before, "inference_count") == 1


def test_decoupled_response_stats(fixtures_server):
    g = client(fixtures_server, "grpc")
    before = stats_of(g, "repeat", "grpc")
    stream_repeat(g, [7, 8, 9])
    after = stats_of(g, "repeat", "grpc")
    rs = after.get("response_stats", {})
    assert set(rs) >= {"0", "1", "2"}
    assert n(rs, "0", "success", "count") - n(before.get("response_stats", {}), "0", "success", "count") == 1
