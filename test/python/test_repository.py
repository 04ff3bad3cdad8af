"""The model repository extension: index (and its ready filter), load and unload in explicit mode,
load with a config override, and the errors Triton answers for each."""
import json

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import FIXTURES, Server
from clients import client, tensor

MODULES = {"http": httpclient, "grpc": grpcclient}
REPO = FIXTURES / "repository-repo"


@pytest.fixture(scope="module")
def explicit_server():
    """repository-repo (simple, other) in explicit mode, nothing loaded at start. Each test leaves
    both models unloaded."""
    s = Server([REPO], ["--model-control-mode", "explicit"])
    yield s
    assert s.stop() == 0, s.log


def http_index(c, ready=None):
    body = "" if ready is None else json.dumps({"ready": ready})
    r = c._post("v2/repository/index", body, None, None)
    assert r.status_code == 200, r.read()
    return {m["name"]: m for m in json.loads(r.read())}


def grpc_index(c, ready=False):
    from tritonclient.grpc import service_pb2

    resp = c._client_stub.RepositoryIndex(service_pb2.RepositoryIndexRequest(ready=ready))
    return {m.name: m for m in resp.models}


def infer_simple(c, protocol):
    m = MODULES[protocol]
    return c.infer("simple", [tensor(m, "INPUT0", np.array([1, 2], np.float32))])


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_load_infer_unload(explicit_server, protocol):
    c = client(explicit_server, protocol)
    assert not c.is_model_ready("simple")
    c.load_model("simple")
    assert c.is_model_ready("simple") and c.is_model_ready("simple", "1")
    np.testing.assert_array_equal(infer_simple(c, protocol).as_numpy("OUTPUT0"), [1, 2])
    c.unload_model("simple")
    assert not c.is_model_ready("simple")
    with pytest.raises(InferenceServerException) as e:
        infer_simple(c, protocol)
    assert "Request for unknown model: 'simple' has no available versions" in e.value.message()


def test_index_and_ready_filter(explicit_server):
    h = client(explicit_server, "http")
    g = client(explicit_server, "grpc")
    before = http_index(h)
    assert set(before) == {"simple", "other"}
    assert http_index(h, ready=True) == {}
    h.load_model("other")
    try:
        ready = http_index(h, ready=True)
        assert set(ready) == {"other"}
        assert ready["other"]["state"] == "READY" and ready["other"]["version"] == "1"
        assert {m["name"] for m in h.get_model_repository_index()} == {"simple", "other"}
        assert set(grpc_index(g, ready=True)) == {"other"}
        assert grpc_index(g)["other"].state == "READY"
        assert len(g.get_model_repository_index().models) == 2
    finally:
        h.unload_model("other")
    # After an unload, Triton keeps the model in the index: UNAVAILABLE, reason "unloaded".
    after = http_index(h)["other"]
    assert after["state"] == "UNAVAILABLE" and after["reason"] == "unloaded"
    assert grpc_index(g)["other"].reason == "unloaded"
    assert http_index(h, ready=True) == {}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_load_with_config_override(explicit_server, protocol):
    c = client(explicit_server, protocol)
    config = {
        "name": "simple", "backend": "typescript", "max_batch_size": 4,
        "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
        "output": [{"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
    }
    c.load_model("simple", config=json.dumps(config))
    try:
        got = c.get_model_config("simple") if protocol == "http" else c.get_model_config("simple", as_json=True)["config"]
        assert int(got["max_batch_size"]) == 4
        r = c.infer("simple", [tensor(MODULES[protocol], "INPUT0", np.ones((2, 3), np.float32))])
        assert r.as_numpy("OUTPUT0").shape == (2, 3)
        # The handler saw the override too (it reports the max_batch_size it was given).
        if protocol == "http":
            assert r.get_response()["parameters"]["max_batch_size"] == 4
        else:
            assert r.get_response().parameters["max_batch_size"].int64_param == 4
    finally:
        c.unload_model("simple")


def test_reload_keeps_config_override(explicit_server):
    c = client(explicit_server, "http")
    config = {
        "name": "simple", "backend": "typescript", "max_batch_size": 4,
        "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
        "output": [{"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
    }
    c.load_model("simple", config=json.dumps(config))
    try:
        c.load_model("simple")
        assert c.get_model_config("simple")["max_batch_size"] == 4
    finally:
        c.unload_model("simple")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_load_with_invalid_config_override(explicit_server, protocol):
    c = client(explicit_server, protocol)
    with pytest.raises(InferenceServerException) as e:
        c.load_model("simple", config="{not json")
    assert e.value.status() == ("400" if protocol == "http" else "StatusCode.INVALID_ARGUMENT")
    assert not c.is_model_ready("simple")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_load_unknown_model(explicit_server, protocol):
    c = client(explicit_server, protocol)
    with pytest.raises(InferenceServerException) as e:
        c.load_model("unknown_model")
    assert "failed to load 'unknown_model', failed to poll from model repository" in e.value.message()
    assert e.value.status() == ("500" if protocol == "http" else "StatusCode.INTERNAL")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_unload_unknown_model_succeeds(explicit_server, protocol):
    # Triton's L0_lifecycle: "Unload non-existing model, nothing should happen".
    client(explicit_server, protocol).unload_model("unknown_model")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_load_unload_refused_without_explicit_mode(examples_server, protocol):
    c = client(examples_server, protocol)
    for call in (c.load_model, c.unload_model):
        with pytest.raises(InferenceServerException) as e:
            call("add_sub")
        assert "explicit model load / unload is not allowed if polling is enabled" in e.value.message()
        assert e.value.status() == ("503" if protocol == "http" else "StatusCode.UNAVAILABLE")
    assert c.is_model_ready("add_sub")
