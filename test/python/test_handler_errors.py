"""
Handler failures as Triton's python backend reports them, seen through the official tritonclient:
execute() throwing (HTTP and gRPC), response parameters pb_utils refuses, and gRPC streams with
and without the `triton_grpc_error` header (Triton's stream_infer_handler.cc: the first error
response ends the stream with its gRPC status).
"""
import queue

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import FIXTURES

PREFIX = "Failed to process the request(s) for model 'errors_0_0', message: "
# Frames are named relative to the model repository: clients never see the server's paths.
MODEL_TS = "errors/1/model.ts"


@pytest.fixture
def server(start_server):
    return start_server(FIXTURES / "stub-repo", args=("--model-control-mode=explicit", "--load-model=errors"))


def http_inputs():
    i = httpclient.InferInput("INPUT0", [3], "FP32")
    i.set_data_from_numpy(np.array([1, 2.5, -4], dtype=np.float32))
    return [i]


def grpc_inputs():
    i = grpcclient.InferInput("INPUT0", [3], "FP32")
    i.set_data_from_numpy(np.array([1, 2.5, -4], dtype=np.float32))
    return [i]


def test_execute_throwing_over_http(server):
    client = httpclient.InferenceServerClient(server.http_url)
    with pytest.raises(InferenceServerException) as e:
        client.infer("errors", http_inputs(), parameters={"mode": "plain_error"})
    assert e.value.message() == f"{PREFIX}Error: plain Error thrown by execute\n\nAt:\n  {MODEL_TS}(15): Errors.execute\n"
    assert e.value.status() == "500"
    # a TritonError thrown with INVALID_ARG is INTERNAL too: Triton's exceptions carry no code
    with pytest.raises(InferenceServerException) as e:
        client.infer("errors", http_inputs(), parameters={"mode": "invalid_arg"})
    assert e.value.message().startswith(f"{PREFIX}TritonError: the input is unacceptable: INVALID_ARG from the handler\n\nAt:\n")
    assert e.value.status() == "500"
    # the instance stays up
    ok = client.infer("errors", http_inputs())
    assert ok.as_numpy("OUTPUT0").tolist() == [2, 5, -8]


def test_execute_throwing_over_grpc(server):
    client = grpcclient.InferenceServerClient(server.grpc_url)
    with pytest.raises(InferenceServerException) as e:
        client.infer("errors", grpc_inputs(), parameters={"mode": "plain_error"})
    assert e.value.message() == f"{PREFIX}Error: plain Error thrown by execute\n\nAt:\n  {MODEL_TS}(15): Errors.execute\n"
    assert e.value.status() == "StatusCode.INTERNAL"
    with pytest.raises(InferenceServerException) as e:
        client.infer("errors", grpc_inputs(), parameters={"mode": "throw_string"})
    assert e.value.message() == f"{PREFIX}a bare string was thrown"


@pytest.mark.parametrize("mode,pytype", [("bad_param_float", "float"), ("bad_param_null", "NoneType"), ("bad_param_object", "dict")])
def test_bad_response_parameters(server, mode, pytype):
    client = httpclient.InferenceServerClient(server.http_url)
    with pytest.raises(InferenceServerException) as e:
        client.infer("errors", http_inputs(), parameters={"mode": mode})
    assert e.value.message().startswith(
        f"{PREFIX}TritonError: Expect parameters values to have type bool/int/str, found type <class '{pytype}'>\n\nAt:\n")
    good = client.infer("errors", http_inputs(), parameters={"mode": "good_param"})
    assert good.get_response()["parameters"] == {"label": "ok", "count": 3, "flag": True}


def run_stream(server, modes, headers=None):
    """Sends one request per mode, each once the previous answered; returns what the callback got."""
    client = grpcclient.InferenceServerClient(server.grpc_url)
    results = queue.Queue()
    client.start_stream(callback=lambda result, error: results.put(error if error is not None else result), headers=headers)
    got = []
    try:
        for i, mode in enumerate(modes):
            params = {"mode": mode} if mode else {}
            try:
                client.async_stream_infer("errors", grpc_inputs(), request_id=str(i), parameters=params)
            except InferenceServerException as e:
                got.append(("send_failed", e))
                break
            try:
                got.append(("result", results.get(timeout=10)))
            except queue.Empty:
                got.append(("nothing", None))
    finally:
        client.stop_stream()
        client.close()
    return got


def test_stream_with_triton_grpc_error_ends_at_the_error(server):
    got = run_stream(server, [None, "plain_error", None], headers={"triton_grpc_error": "true"})
    kinds = [type(r).__name__ if k == "result" else k for k, r in got]
    assert kinds[0] == "InferResult"
    err = got[1][1]
    assert isinstance(err, InferenceServerException)
    assert str(err.status()) == "StatusCode.INTERNAL"
    assert err.message() == f"{PREFIX}Error: plain Error thrown by execute\n\nAt:\n  {MODEL_TS}(15): Errors.execute\n"
    # the stream has ended: the next request gets no answer (or cannot be sent)
    assert got[2][0] in ("nothing", "send_failed"), got[2]


def test_stream_without_the_header_stays_usable(server):
    got = run_stream(server, [None, "plain_error", None])
    assert [k for k, _ in got] == ["result", "result", "result"]
    err = got[1][1]
    assert isinstance(err, InferenceServerException)
    assert err.message().startswith(f"{PREFIX}Error: plain Error thrown by execute")
    last = got[2][1]
    assert not isinstance(last, InferenceServerException), last
    assert last.as_numpy("OUTPUT0").tolist() == [2, 5, -8]
