"""
Issue 21 through the official tritonclient (test/fixtures/senders-repo): response senders of a
model that is not decoupled (Triton's qa/L0_backend_python/response_sender), BLS streams with a
bare final and cancel() (qa/L0_backend_python/decoupled), header forwarding with Triton's case
rules and reserved names (qa/L0_parameters), and the classification size limit.
"""
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import FIXTURES

MORE_THAN_ONE = "Unable to send response. Non-decoupled model cannot send more than one response."


@pytest.fixture(scope="module")
def server():
    from conftest import Server

    s = Server([FIXTURES / "senders-repo"], args=(
        "--http-header-forward-pattern", "MY_HEADER.*",
        "--grpc-header-forward-pattern", "(?-i)MY_HEADER.*|my_grpc.*",
    ))
    yield s
    assert s.stop() == 0, s.log


def int_input(module, name, value, shape=(1,)):
    i = module.InferInput(name, list(shape), "INT32")
    i.set_data_from_numpy(np.array(value, dtype=np.int32).reshape(shape))
    return i


def coupled(server, value, mode):
    with httpclient.InferenceServerClient(server.http_url) as c:
        return c.infer("coupled_sender", [int_input(httpclient, "IN", [value], (1, 1))], parameters={"mode": mode})


def test_two_sends_before_return_deliver_the_first(server):
    assert coupled(server, 1, "two_pre").as_numpy("OUT").tolist() == [[101]]
    server.wait_for(r"Failed to process the request\(s\) for model 'coupled_sender_0_0', message: TritonError: " + MORE_THAN_ONE.replace(".", r"\."))


def test_send_and_return_delivers_the_sent_one(server):
    assert coupled(server, 5, "send_and_return").as_numpy("OUT").tolist() == [[105]]
    server.wait_for(r"Failed to process the request\(s\) for model 'coupled_sender_0_0', message: " + MORE_THAN_ONE.replace(".", r"\.") + "$")


def test_none_entry_for_a_sent_response(server):
    assert coupled(server, 2, "send").as_numpy("OUT").tolist() == [[102]]


def test_bls_stream_counts_the_bare_final_and_cancels(server):
    with grpcclient.InferenceServerClient(server.grpc_url) as c:
        counted = c.infer("bls_streamer", [int_input(grpcclient, "IN", [3])], parameters={"mode": "count"})
        assert counted.as_numpy("OUT").tolist() == [4, 1]
        cancelled = c.infer("bls_streamer", [int_input(grpcclient, "IN", [3])], parameters={"mode": "cancel"}, request_id="py-cancel")
        n, total, last_empty = cancelled.as_numpy("OUT").tolist()
        assert n == 3 and 3 < total < 100 and last_empty == 1
        server.wait_for(r"ticker 'py-cancel' stopped after \d+: request\.isCancelled\(\)=true")
        after = c.infer("bls_streamer", [int_input(grpcclient, "IN", [2])], parameters={"mode": "cancel_after"})
        assert after.as_numpy("OUT").tolist() == [3, 1]


def test_http_headers_forwarded_case_insensitively(server):
    with httpclient.InferenceServerClient(server.http_url) as c:
        r = c.infer("echo_params", [int_input(httpclient, "IN", [1])],
                    headers={"my_header_1": "v1", "my_header_2": 'a "quoted" \\ value', "other": "x"})
        params = r.get_response()["parameters"]
        assert params == {"my_header_1": "v1", "my_header_2": 'a "quoted" \\ value'}


def test_grpc_case_sensitive_pattern_matches_no_lower_case_key(server):
    with grpcclient.InferenceServerClient(server.grpc_url) as c:
        r = c.infer("echo_params", [int_input(grpcclient, "IN", [1])], headers={"my_header_1": "a", "my_grpc_x": "b"})
        params = {k: v.string_param for k, v in r.get_response().parameters.items()}
        assert params == {"my_grpc_x": "b"}


def test_reserved_headers_refused(start_server):
    s = start_server(FIXTURES / "senders-repo", args=(
        "--http-header-forward-pattern", ".*", "--grpc-header-forward-pattern", ".*",
        "--model-control-mode=explicit", "--load-model=echo_params"))
    for key in ("sequence_id", "timeout", "binary_data_output", "triton_injected_via_header"):
        text = f"Header '{key}' is reserved for Triton usage and cannot be forwarded."
        with httpclient.InferenceServerClient(s.http_url) as c:
            with pytest.raises(InferenceServerException) as e:
                c.infer("echo_params", [int_input(httpclient, "IN", [1])], headers={key: "dummy-value"})
            assert e.value.status() == "400" and text in e.value.message()
        with grpcclient.InferenceServerClient(s.grpc_url) as c:
            with pytest.raises(InferenceServerException) as e:
                c.infer("echo_params", [int_input(grpcclient, "IN", [1])], headers={key: "dummy-value"})
            assert e.value.status() == "StatusCode.INVALID_ARGUMENT" and e.value.message() == text


def test_classification_output_too_large(server):
    with httpclient.InferenceServerClient(server.http_url) as c:
        with pytest.raises(InferenceServerException) as e:
            c.infer("big_output", [int_input(httpclient, "N", [1_000_001])],
                    outputs=[httpclient.InferRequestedOutput("OUT", class_count=2)])
        assert e.value.status() == "400" and e.value.message() == "classification output tensor too large"
    with grpcclient.InferenceServerClient(server.grpc_url) as c:
        with pytest.raises(InferenceServerException) as e:
            c.infer("big_output", [int_input(grpcclient, "N", [1_000_001])],
                    outputs=[grpcclient.InferRequestedOutput("OUT", class_count=2)])
        assert e.value.status() == "StatusCode.INVALID_ARGUMENT" and e.value.message() == "classification output tensor too large"
