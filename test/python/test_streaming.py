"""gRPC streaming (ModelStreamInfer) through tritonclient: start_stream + async_stream_infer, and
the aio client's stream_infer, on decoupled models: several responses per request, the empty final
response, an error in the middle of a stream, and a clean close."""
import asyncio
import queue

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aioclient
from tritonclient.utils import InferenceServerException

from clients import add_sub_inputs, client, tensor


def is_final(result):
    p = result.get_response().parameters
    return "triton_final_response" in p and p["triton_final_response"].bool_param


class Stream:
    """One gRPC stream; `collect(request_id)` reads its events until the final response."""

    def __init__(self, server):
        self.client = client(server, "grpc")
        self.events = queue.Queue()
        self.client.start_stream(callback=lambda result, error: self.events.put((result, error)))

    def collect(self, count=1, timeout=60):
        """Events (result, error) until `count` final responses came."""
        got, finals = [], 0
        while finals < count:
            result, error = self.events.get(timeout=timeout)
            got.append((result, error))
            if error is None and is_final(result):
                finals += 1
        return got

    def close(self):
        self.client.stop_stream()
        self.client.close()


@pytest.fixture
def stream(fixtures_server):
    s = Stream(fixtures_server)
    yield s
    s.close()


def repeat_inputs(values):
    return [tensor(grpcclient, "IN", np.array(values, np.int32))]


def test_decoupled_responses_then_empty_final(stream):
    stream.client.async_stream_infer("repeat", repeat_inputs([4, 5, 6]), request_id="r-1", enable_empty_final_response=True)
    events = stream.collect()
    assert all(e is None for _, e in events)
    data = [r for r, _ in events if r.as_numpy("OUT") is not None]
    assert [int(r.as_numpy("OUT")[0]) for r in data] == [4, 5, 6]
    assert [int(r.as_numpy("IDX")[0]) for r in data] == [0, 1, 2]
    assert all(r.get_response().id == "r-1" for r, _ in events)
    final = events[-1][0]
    assert is_final(final) and len(final.get_response().outputs) == 0
    assert not any(is_final(r) for r in data)
    assert stream.events.empty()


def test_no_empty_final_response_unless_asked(stream):
    stream.client.async_stream_infer("repeat", repeat_inputs([1, 2]), request_id="r-2", parameters={"delay_ms": 1})
    got = [stream.events.get(timeout=30) for _ in range(2)]
    assert [int(r.as_numpy("OUT")[0]) for r, e in got] == [1, 2]
    # A marker request on the same stream: its responses come after nothing else from "r-2".
    stream.client.async_stream_infer("repeat", repeat_inputs([9]), request_id="marker", enable_empty_final_response=True)
    rest = stream.collect()
    assert {r.get_response().id for r, _ in rest} == {"marker"}


def test_error_mid_stream_keeps_the_stream(stream):
    stream.client.async_stream_infer("repeat", repeat_inputs([10, 11, 12]), request_id="e-1",
                                     parameters={"mode": "error_mid"}, enable_empty_final_response=True)
    events = stream.collect()
    errors = [e for _, e in events if e is not None]
    assert len(errors) == 1 and "bad element at 1" in errors[0].message()
    values = [int(r.as_numpy("OUT")[0]) for r, e in events if e is None and r.as_numpy("OUT") is not None]
    assert values == [10, 12]
    # The stream stays usable after the error response.
    stream.client.async_stream_infer("repeat", repeat_inputs([3]), request_id="e-2", enable_empty_final_response=True)
    after = stream.collect()
    assert [int(r.as_numpy("OUT")[0]) for r, e in after if r.as_numpy("OUT") is not None] == [3]


def test_execute_error_in_stream(stream):
    stream.client.async_stream_infer("repeat", repeat_inputs([1]), request_id="t-1", parameters={"mode": "throw"})
    result, error = stream.events.get(timeout=30)
    assert result is None and "execute failed on purpose" in error.message()


def test_unknown_model_in_stream(stream):
    stream.client.async_stream_infer("no_such_model", repeat_inputs([1]))
    result, error = stream.events.get(timeout=30)
    assert result is None and "Request for unknown model: 'no_such_model' is not found" in error.message()


def test_many_requests_interleaved_on_one_stream(stream):
    for k in range(5):
        stream.client.async_stream_infer("repeat", repeat_inputs([k, k]), request_id=f"m-{k}", enable_empty_final_response=True)
    events = stream.collect(count=5)
    by_id = {}
    for r, e in events:
        assert e is None
        if r.as_numpy("OUT") is not None:
            by_id.setdefault(r.get_response().id, []).append(int(r.as_numpy("OUT")[0]))
    assert by_id == {f"m-{k}": [k, k] for k in range(5)}


def test_non_decoupled_model_over_stream(examples_server):
    s = Stream(examples_server)
    try:
        inputs, a, b = add_sub_inputs(grpcclient)
        s.client.async_stream_infer("add_sub", inputs, request_id="u-1", enable_empty_final_response=True)
        [(r, e)] = s.collect()
        assert e is None and is_final(r) and r.get_response().id == "u-1"
        np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), a + b)
    finally:
        s.close()


def test_text_generator_streams_tokens(examples_server):
    s = Stream(examples_server)
    try:
        s.client.async_stream_infer(
            "text_generator",
            [tensor(grpcclient, "text_input", np.array(["the "], dtype=object)), tensor(grpcclient, "max_tokens", np.array([8], np.int32))],
            request_id="tg", parameters={"token_interval_ms": 0}, enable_empty_final_response=True)
        events = s.collect()
        assert all(e is None for _, e in events)
        tokens = [r.as_numpy("text_output")[0] for r, _ in events if r.as_numpy("text_output") is not None]
        assert 1 <= len(tokens) <= 8 and all(isinstance(t, bytes) and len(t.decode()) == 1 for t in tokens)
        # A bad parameter is an in-stream error, then the final flag.
        s.client.async_stream_infer("text_generator", [tensor(grpcclient, "text_input", np.array(["x"], dtype=object))],
                                    parameters={"token_interval_ms": -1}, enable_empty_final_response=True)
        result, error = s.events.get(timeout=30)
        assert result is None and "token_interval_ms" in error.message()
    finally:
        s.close()


def test_stop_stream_closes_cleanly(fixtures_server):
    s = Stream(fixtures_server)
    s.client.async_stream_infer("repeat", repeat_inputs([1, 2, 3]), enable_empty_final_response=True)
    s.collect()
    s.client.stop_stream()  # waits for the server to end the stream: no error event comes
    assert s.events.empty()
    # A new stream on the same client works.
    s.client.start_stream(callback=lambda result, error: s.events.put((result, error)))
    s.client.async_stream_infer("repeat", repeat_inputs([5]), enable_empty_final_response=True)
    assert [int(r.as_numpy("OUT")[0]) for r, e in s.collect() if r.as_numpy("OUT") is not None] == [5]
    s.close()


def test_aio_stream_infer(fixtures_server):
    """The aio client has no enable_empty_final_response: the stream ends when the request iterator
    is done and every request has had its responses (the server closes it with OK)."""
    async def main():
        c = aioclient.InferenceServerClient(fixtures_server.grpc_url)

        async def requests():
            for k, mode in enumerate(["", "error_mid", ""]):
                yield {
                    "model_name": "repeat",
                    "inputs": [tensor(aioclient, "IN", np.array([k, k + 1, k + 2], np.int32))],
                    "request_id": f"aio-{k}",
                    "parameters": {"mode": mode, "delay_ms": 5} if mode else {"delay_ms": 5},
                }

        values, errors = {}, []
        try:
            async for result, error in c.stream_infer(inputs_iterator=requests()):
                if error is not None:
                    errors.append(error)
                else:
                    values.setdefault(result.get_response().id, []).append(int(result.as_numpy("OUT")[0]))
        finally:
            await c.close()
        assert values == {"aio-0": [0, 1, 2], "aio-1": [1, 3], "aio-2": [2, 3, 4]}
        assert len(errors) == 1 and "bad element at 1" in errors[0].message()

    asyncio.run(asyncio.wait_for(main(), 60))
