"""Inference through tritonclient: JSON and binary over HTTP, gRPC, gRPC aio, BYTES, classification,
request ids, requested outputs, async calls, and the decoupled refusal of unary calls."""
import asyncio
import queue

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aioclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from clients import add_sub_inputs, client, tensor

MODULES = {"http": httpclient, "grpc": grpcclient}


@pytest.fixture(scope="module")
def http(examples_server):
    c = client(examples_server, "http")
    yield c
    c.close()


@pytest.mark.parametrize("binary", [False, True])
def test_http_infer_json_and_binary(http, binary):
    inputs, a, b = add_sub_inputs(httpclient, binary)
    outputs = [httpclient.InferRequestedOutput("OUTPUT0", binary_data=binary), httpclient.InferRequestedOutput("OUTPUT1", binary_data=binary)]
    r = http.infer("add_sub", inputs, outputs=outputs, request_id="r1")
    np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(r.as_numpy("OUTPUT1"), a - b)
    resp = r.get_response()
    assert resp["id"] == "r1" and resp["model_name"] == "add_sub" and resp["model_version"] == "1"
    assert {o["name"]: o["datatype"] for o in resp["outputs"]} == {"OUTPUT0": "FP32", "OUTPUT1": "FP32"}
    # Binary outputs carry their size in parameters and no `data`; JSON ones the reverse.
    for o in resp["outputs"]:
        assert ("data" in o) != binary
        if binary:
            assert o["parameters"]["binary_data_size"] == 16


def test_http_binary_inputs_json_outputs(http):
    inputs, a, b = add_sub_inputs(httpclient, True)
    r = http.infer("add_sub", inputs, outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=False)])
    np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), a + b)
    assert r.get_response()["outputs"][0]["data"] == [1, 2, 3, 4]


def test_grpc_infer(examples_server):
    grpc = client(examples_server, "grpc")
    inputs, a, b = add_sub_inputs(grpcclient)
    r = grpc.infer("add_sub", inputs, request_id="g1", model_version="1")
    np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(r.as_numpy("OUTPUT1"), a - b)
    resp = r.get_response()
    assert resp.id == "g1" and resp.model_name == "add_sub" and resp.model_version == "1"
    assert r.get_output("OUTPUT1").datatype == "FP32" and list(r.get_output("OUTPUT1").shape) == [4]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_requested_outputs_subset(examples_server, protocol):
    m = MODULES[protocol]
    c = client(examples_server, protocol)
    inputs, a, b = add_sub_inputs(m)
    r = c.infer("add_sub", inputs, outputs=[m.InferRequestedOutput("OUTPUT1")])
    np.testing.assert_array_equal(r.as_numpy("OUTPUT1"), a - b)
    assert r.as_numpy("OUTPUT0") is None


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_unknown_requested_output(examples_server, protocol):
    m = MODULES[protocol]
    c = client(examples_server, protocol)
    inputs, _, _ = add_sub_inputs(m)
    with pytest.raises(InferenceServerException) as e:
        c.infer("add_sub", inputs, outputs=[m.InferRequestedOutput("NOPE")])
    assert "unexpected inference output 'NOPE' for model 'add_sub'" in e.value.message()
    assert e.value.status() == ("400" if protocol == "http" else "StatusCode.INVALID_ARGUMENT")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_wrong_shape_is_invalid_arg(examples_server, protocol):
    m = MODULES[protocol]
    c = client(examples_server, protocol)
    x = np.zeros(3, dtype=np.float32)
    with pytest.raises(InferenceServerException) as e:
        c.infer("add_sub", [tensor(m, "INPUT0", x), tensor(m, "INPUT1", x)])
    assert "unexpected shape for input 'INPUT0' for model 'add_sub'. Expected [4], got [3]" in e.value.message()
    assert e.value.status() == ("400" if protocol == "http" else "StatusCode.INVALID_ARGUMENT")


@pytest.mark.parametrize("protocol,binary", [("http", False), ("http", True), ("grpc", None)])
def test_bytes_object_arrays(fixtures_server, protocol, binary):
    m = MODULES[protocol]
    c = client(fixtures_server, protocol)
    words = np.array(["hello", "", "wörld", "a b c"], dtype=object)
    raw = np.array([b"x", b"yz"], dtype=object)
    f = np.zeros((1, 1), dtype=np.float32)
    r = c.infer("echo", [tensor(m, "IN_FP32", f, binary), tensor(m, "IN_BYTES", words, binary)])
    out = r.as_numpy("OUT_BYTES")
    assert out.dtype == object and out.shape == (4,)
    assert [x.decode("utf-8") for x in out] == list(words)
    r = c.infer("echo", [tensor(m, "IN_FP32", f, binary), tensor(m, "IN_BYTES", raw, binary)])
    assert list(r.as_numpy("OUT_BYTES")) == [b"x", b"yz"]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_int64_and_bool(fixtures_server, protocol):
    m = MODULES[protocol]
    c = client(fixtures_server, protocol)
    f = np.arange(6, dtype=np.float32).reshape(2, 3)
    i = np.array([-(2**40), 0, 2**40], dtype=np.int64)
    b = np.array([True, False], dtype=bool)
    r = c.infer("echo", [tensor(m, "IN_FP32", f), tensor(m, "IN_INT64", i), tensor(m, "IN_BOOL", b)])
    np.testing.assert_array_equal(r.as_numpy("OUT_FP32"), f)
    np.testing.assert_array_equal(r.as_numpy("OUT_INT64"), i)
    np.testing.assert_array_equal(r.as_numpy("OUT_BOOL"), b)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_classification(fixtures_server, protocol):
    m = MODULES[protocol]
    c = client(fixtures_server, protocol)
    scores = np.array([0.1, 0.5, 0.2, 0.9, 0.3], dtype=np.float32)
    r = c.infer("classifier", [tensor(m, "INPUT0", scores)], outputs=[m.InferRequestedOutput("OUTPUT0", class_count=2)])
    out = r.as_numpy("OUTPUT0")
    meta = r.get_output("OUTPUT0")
    assert out.shape == (2,) and (meta["datatype"] if protocol == "http" else meta.datatype) == "BYTES"
    # Triton's text: "<value>:<index>:<label>", the value with six decimals, highest first.
    assert [x.decode() for x in out] == ["0.900000:3:fish", "0.500000:1:dog"]


def test_classification_of_a_batch(fixtures_server):
    c = client(fixtures_server, "http")
    x = np.array([[1, 3, 2], [9, 8, 7]], dtype=np.float32)
    r = c.infer("batched", [tensor(httpclient, "INPUT0", x)], outputs=[httpclient.InferRequestedOutput("OUTPUT0", class_count=1)])
    out = r.as_numpy("OUTPUT0")
    assert out.shape == (2, 1)
    assert [x.decode() for x in out.ravel()] == ["3.000000:1:green", "9.000000:0:red"]


def test_http_async_infer(examples_server):
    c = httpclient.InferenceServerClient(examples_server.http_url, concurrency=4)
    try:
        pending = []
        for k in range(8):
            inputs, a, b = add_sub_inputs(httpclient)
            inputs[0].set_data_from_numpy(a + k)
            pending.append((k, c.async_infer("add_sub", inputs, request_id=f"a{k}")))
        for k, p in pending:
            r = p.get_result()
            assert r.get_response()["id"] == f"a{k}"
            np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), np.arange(4, dtype=np.float32) + k + 1)
    finally:
        c.close()


def test_grpc_async_infer_callback(examples_server):
    c = client(examples_server, "grpc")
    done = queue.Queue()
    for k in range(4):
        inputs, _, _ = add_sub_inputs(grpcclient)
        c.async_infer("add_sub", inputs, callback=lambda result, error: done.put((result, error)), request_id=f"c{k}")
    ids = set()
    for _ in range(4):
        r, e = done.get(timeout=30)
        assert e is None
        ids.add(r.get_response().id)
    assert ids == {"c0", "c1", "c2", "c3"}
    c.close()


def test_grpc_aio_infer(examples_server):
    async def main():
        c = aioclient.InferenceServerClient(examples_server.grpc_url)
        try:
            inputs, a, b = add_sub_inputs(aioclient)
            results = await asyncio.gather(*[c.infer("add_sub", inputs, request_id=f"x{k}") for k in range(4)])
            for k, r in enumerate(results):
                assert r.get_response().id == f"x{k}"
                np.testing.assert_array_equal(r.as_numpy("OUTPUT1"), a - b)
            with pytest.raises(InferenceServerException) as e:
                await c.infer("no_such_model", inputs)
            assert e.value.status() == "StatusCode.NOT_FOUND"
        finally:
            await c.close()

    asyncio.run(main())


def test_request_parameters_reach_the_model(fixtures_server):
    for protocol in ("http", "grpc"):
        m = MODULES[protocol]
        c = client(fixtures_server, protocol)
        r = c.infer("echo", [tensor(m, "IN_FP32", np.zeros((1, 1), np.float32))], parameters={"s": "v", "n": 3, "b": True})
        import json

        assert json.loads(r.as_numpy("PARAMS")[0]) == {"s": "v", "n": 3, "b": True}


def test_http_infer_of_decoupled_model_is_501(examples_server):
    h = client(examples_server, "http")
    text = np.array(["hi"], dtype=object)
    with pytest.raises(InferenceServerException) as e:
        h.infer("text_generator", [tensor(httpclient, "text_input", text)])
    assert "HTTP end point doesn't support models with decoupled transaction policy" in e.value.message()
    assert e.value.status() == "501"


def test_grpc_infer_of_decoupled_model_is_refused(examples_server):
    text = np.array(["hi"], dtype=object)
    g = client(examples_server, "grpc")
    with pytest.raises(InferenceServerException) as e:
        g.infer("text_generator", [tensor(grpcclient, "text_input", text)])
    assert e.value.status() == "StatusCode.UNIMPLEMENTED"
    assert "ModelInfer RPC doesn't support models with decoupled transaction policy" in e.value.message()



def test_grpc_infer_accepts_the_empty_final_response_flag(examples_server):
    """perf_analyzer sends triton_enable_empty_final_response on every gRPC infer; Triton accepts
    it (the Python client refuses it itself, so the request is built from Triton's protobufs)."""
    import grpc
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    def request(key):
        r = service_pb2.ModelInferRequest(model_name="add_sub")
        for name in ("INPUT0", "INPUT1"):
            t = r.inputs.add(name=name, datatype="FP32", shape=[4])
            t.contents.fp32_contents.extend([1, 2, 3, 4])
        r.parameters[key].bool_param = True
        return r

    with grpc.insecure_channel(examples_server.grpc_url) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        answer = stub.ModelInfer(request("triton_enable_empty_final_response"))
        out = np.frombuffer(answer.raw_output_contents[0], dtype=np.float32)
        np.testing.assert_array_equal(out, [2, 4, 6, 8])
        with pytest.raises(grpc.RpcError) as e:
            stub.ModelInfer(request("triton_other"))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "parameter keys starting with 'triton_' are reserved" in e.value.details()
