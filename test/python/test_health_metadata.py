"""Health, server and model metadata, and model configuration over HTTP, gRPC and gRPC aio."""
import asyncio

import pytest
import tritonclient.grpc.aio as aioclient
from tritonclient.utils import InferenceServerException

from clients import add_sub_inputs, client

import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient


@pytest.fixture(scope="module")
def http(examples_server):
    c = client(examples_server, "http")
    yield c
    c.close()


@pytest.fixture(scope="module")
def grpc(examples_server):
    c = client(examples_server, "grpc")
    yield c
    c.close()


def test_health_over_both_protocols(http, grpc):
    assert http.is_server_live() and http.is_server_ready()
    assert grpc.is_server_live() and grpc.is_server_ready()
    assert http.is_model_ready("add_sub") and grpc.is_model_ready("add_sub")
    assert not http.is_model_ready("no_such_model")
    assert not grpc.is_model_ready("no_such_model")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_model_ready_per_version(examples_server, protocol):
    c = client(examples_server, protocol)
    assert c.is_model_ready("add_sub", "1")
    assert not c.is_model_ready("add_sub", "2")
    assert not c.is_model_ready("no_such_model", "1")


def test_server_and_model_metadata(http, grpc):
    meta = http.get_server_metadata()
    assert "binary_tensor_data" in meta["extensions"] and meta["version"]
    assert "model_repository" in grpc.get_server_metadata().extensions
    m = http.get_model_metadata("add_sub")
    assert m["name"] == "add_sub"
    assert m["versions"] == ["1"]
    assert [(t["name"], t["datatype"], t["shape"]) for t in m["inputs"]] == [("INPUT0", "FP32", [4]), ("INPUT1", "FP32", [4])]
    assert [(t["name"], t["datatype"], t["shape"]) for t in m["outputs"]] == [("OUTPUT0", "FP32", [4]), ("OUTPUT1", "FP32", [4])]
    g = grpc.get_model_metadata("add_sub")
    assert g.name == "add_sub" and list(g.versions) == ["1"]
    assert [o.name for o in g.outputs] == ["OUTPUT0", "OUTPUT1"]
    assert [(t.name, t.datatype, list(t.shape)) for t in g.inputs] == [("INPUT0", "FP32", [4]), ("INPUT1", "FP32", [4])]
    # as_json: protobuf's JSON mapping (int64 shapes as strings), the same fields.
    j = grpc.get_model_metadata("add_sub", as_json=True)
    assert j["name"] == "add_sub" and j["inputs"][0]["shape"] == ["4"]


def test_server_metadata_extensions(http, grpc):
    for ext in ("classification", "model_repository", "model_configuration", "binary_tensor_data", "parameters", "statistics"):
        assert ext in http.get_server_metadata()["extensions"]
        assert ext in grpc.get_server_metadata(as_json=True)["extensions"]


def test_server_metadata_name_is_triton(http, grpc):
    assert http.get_server_metadata()["name"] == "triton"
    assert grpc.get_server_metadata().name == "triton"


def test_metadata_of_a_version(http, grpc):
    assert http.get_model_metadata("add_sub", "1")["name"] == "add_sub"
    assert grpc.get_model_metadata("add_sub", "1").name == "add_sub"
    with pytest.raises(InferenceServerException) as e:
        http.get_model_metadata("add_sub", "7")
    assert e.value.status() == "404"
    assert "Request for unknown model: 'add_sub' version 7 is not found" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        grpc.get_model_metadata("add_sub", "7")
    assert e.value.status() == "StatusCode.NOT_FOUND"


def test_metadata_and_config_of_unknown_model(http, grpc):
    for call in (http.get_model_metadata, http.get_model_config):
        with pytest.raises(InferenceServerException) as e:
            call("no_such_model")
        assert e.value.status() == "404"
        assert "Request for unknown model: 'no_such_model' is not found" in e.value.message()
    for call in (grpc.get_model_metadata, grpc.get_model_config):
        with pytest.raises(InferenceServerException) as e:
            call("no_such_model")
        assert e.value.status() == "StatusCode.NOT_FOUND"
        assert "Request for unknown model: 'no_such_model' is not found" in e.value.message()


def test_model_config_over_both_protocols(http, grpc):
    assert http.get_model_config("add_sub")["name"] == "add_sub"
    assert grpc.get_model_config("add_sub").config.name == "add_sub"


def test_model_config_contents(http, grpc):
    h = http.get_model_config("add_sub")
    assert h["backend"] == "python" and h["max_batch_size"] == 0
    assert [(i["name"], i["data_type"], i["dims"]) for i in h["input"]] == [("INPUT0", "TYPE_FP32", [4]), ("INPUT1", "TYPE_FP32", [4])]
    g = grpc.get_model_config("add_sub").config
    assert g.backend == "python" and [list(o.dims) for o in g.output] == [[4], [4]]
    j = grpc.get_model_config("add_sub", as_json=True)["config"]
    assert j["name"] == "add_sub" and j["input"][0]["data_type"] == "TYPE_FP32" and j["input"][0]["dims"] == ["4"]
    # The decoupled policy shows in the config, as users check it before streaming.
    t = http.get_model_config("text_generator")
    assert t["model_transaction_policy"]["decoupled"] is True
    assert grpc.get_model_config("text_generator").config.model_transaction_policy.decoupled


def test_unknown_model_is_triton_error(http, grpc):
    inputs, _, _ = add_sub_inputs(httpclient)
    with pytest.raises(InferenceServerException) as e:
        http.infer("no_such_model", inputs)
    assert "Request for unknown model: 'no_such_model' is not found" in e.value.message()
    inputs, _, _ = add_sub_inputs(grpcclient)
    with pytest.raises(InferenceServerException) as e:
        grpc.infer("no_such_model", inputs)
    assert e.value.status() == "StatusCode.NOT_FOUND"


def test_aio_health_and_metadata(examples_server):
    async def main():
        c = aioclient.InferenceServerClient(examples_server.grpc_url)
        try:
            assert await c.is_server_live() and await c.is_server_ready()
            assert await c.is_model_ready("add_sub") and not await c.is_model_ready("no_such_model")
            assert (await c.get_server_metadata(as_json=True))["version"]
            assert (await c.get_model_metadata("add_sub")).name == "add_sub"
            assert (await c.get_model_config("add_sub")).config.name == "add_sub"
            assert len((await c.get_model_repository_index()).models) == 10  # add_sub, my_python_model, running_mean, text_generator, and the three pipelines (embedding, tokenizer, text_encoder; ppocr_cls; ocr, ppocr_rec)
            with pytest.raises(InferenceServerException) as e:
                await c.get_model_metadata("no_such_model")
            assert e.value.status() == "StatusCode.NOT_FOUND"
        finally:
            await c.close()

    asyncio.run(main())
