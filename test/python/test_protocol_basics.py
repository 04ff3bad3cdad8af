"""Health, metadata, config and inference through tritonclient's HTTP and gRPC clients."""
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


@pytest.fixture
def http(examples_server):
    c = httpclient.InferenceServerClient(examples_server.http_url)
    yield c
    c.close()


@pytest.fixture
def grpc(examples_server):
    c = grpcclient.InferenceServerClient(examples_server.grpc_url)
    yield c
    c.close()


def add_sub_inputs(module, binary=None):
    a = np.arange(4, dtype=np.float32)
    b = np.ones(4, dtype=np.float32)
    inputs = [module.InferInput("INPUT0", [4], "FP32"), module.InferInput("INPUT1", [4], "FP32")]
    for i, x in zip(inputs, (a, b)):
        if binary is None:
            i.set_data_from_numpy(x)
        else:
            i.set_data_from_numpy(x, binary_data=binary)
    return inputs, a, b


def test_health_over_both_protocols(http, grpc):
    assert http.is_server_live() and http.is_server_ready()
    assert grpc.is_server_live() and grpc.is_server_ready()
    assert http.is_model_ready("add_sub") and grpc.is_model_ready("add_sub")
    assert not http.is_model_ready("no_such_model")
    assert not grpc.is_model_ready("no_such_model")


def test_server_and_model_metadata(http, grpc):
    meta = http.get_server_metadata()
    assert "binary_tensor_data" in meta["extensions"] and meta["version"]
    assert "model_repository" in grpc.get_server_metadata().extensions
    m = http.get_model_metadata("add_sub")
    assert m["name"] == "add_sub"
    assert [(t["name"], t["datatype"], t["shape"]) for t in m["inputs"]] == [("INPUT0", "FP32", [4]), ("INPUT1", "FP32", [4])]
    g = grpc.get_model_metadata("add_sub")
    assert [o.name for o in g.outputs] == ["OUTPUT0", "OUTPUT1"]


def test_model_config_over_both_protocols(http, grpc):
    assert http.get_model_config("add_sub")["name"] == "add_sub"
    assert grpc.get_model_config("add_sub").config.name == "add_sub"


@pytest.mark.parametrize("binary", [False, True])
def test_http_infer_json_and_binary(http, binary):
    inputs, a, b = add_sub_inputs(httpclient, binary)
    outputs = [httpclient.InferRequestedOutput("OUTPUT0", binary_data=binary), httpclient.InferRequestedOutput("OUTPUT1", binary_data=binary)]
    r = http.infer("add_sub", inputs, outputs=outputs, request_id="r1")
    np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(r.as_numpy("OUTPUT1"), a - b)
    assert r.get_response()["id"] == "r1"


def test_grpc_infer(grpc):
    inputs, a, b = add_sub_inputs(grpcclient)
    r = grpc.infer("add_sub", inputs)
    np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(r.as_numpy("OUTPUT1"), a - b)


def test_unknown_model_is_triton_error(http, grpc):
    inputs, _, _ = add_sub_inputs(httpclient)
    with pytest.raises(InferenceServerException) as e:
        http.infer("no_such_model", inputs)
    assert "Request for unknown model: 'no_such_model' is not found" in e.value.message()
    inputs, _, _ = add_sub_inputs(grpcclient)
    with pytest.raises(InferenceServerException) as e:
        grpc.infer("no_such_model", inputs)
    assert e.value.status() == "StatusCode.NOT_FOUND"
