"""Model lifecycle as Triton users drive it with tritonclient: model_warmup (the samples reach every
instance before the model is ready), --model-control-mode=poll (repository edits picked up; the
load API refused with Triton's text), and load overrides in explicit mode (config and file:
parameters over HTTP and gRPC, --model-config-name)."""
import json
import shutil
import time

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from conftest import FIXTURES
from clients import PROTOCOLS, client, tensor

REPO = FIXTURES / "lifecycle-repo"
HANDLER = (REPO / "warm" / "1" / "model.ts").read_bytes()
CONFIG = json.dumps({
    "backend": "typescript", "max_batch_size": 0,
    "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
    "output": [{"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [-1]}, {"name": "HISTORY", "data_type": "TYPE_STRING", "dims": [1]}],
})
POLL_REFUSED = "explicit model load / unload is not allowed if polling is enabled"


def history(c, module, model, version=""):
    """The recorder's HISTORY for one request (see lifecycle-repo/warm/1/model.ts)."""
    result = c.infer(model, [tensor(module, "INPUT0", np.array([1.0], dtype=np.float32))], model_version=version,
                     outputs=[module.InferRequestedOutput("HISTORY")])
    return json.loads(result.as_numpy("HISTORY")[0])


def wait(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_warmup_runs_on_every_instance_before_ready(start_server, protocol):
    server = start_server(REPO, args=["--model-control-mode=explicit", "--load-model=warm"])
    module, _ = PROTOCOLS[protocol]
    c = client(server, protocol)
    assert c.is_model_ready("warm")
    seen = {}
    for _ in range(6):
        h = history(c, module, "warm")
        seen.setdefault(h["instance"], h)
    assert sorted(seen) == ["warm_0_0", "warm_0_1"]
    for h in seen.values():
        calls = h["calls"][:4]
        # Sample "files": 2 requests a call, 3 calls, the data from warmup/; then "zeros"; batch 0 skipped.
        assert [c_["requests"] for c_ in calls] == [2, 2, 2, 1]
        assert calls[0]["input0"] == [[1.5, 2.5, 3.5, 4.5]] * 2 and calls[0]["text"] == [["hello", "wörld"]] * 2
        assert calls[3]["input0"] == [[0, 0, 0]]


def test_warmup_failure_fails_the_load(start_server):
    server = start_server(REPO, args=["--model-control-mode=explicit"])
    c = client(server, "http")
    with pytest.raises(InferenceServerException) as e:
        c.load_model("warm_fails")
    assert "failed to run warmup sample 'bad': no warm welcome" in e.value.message()
    assert not c.is_model_ready("warm_fails")


def test_poll_mode(start_server, repo_copy):
    repo = repo_copy(REPO)
    for m in ["warm_fails", "warm_decoupled", "controller"]:
        shutil.rmtree(repo / m)
    server = start_server(repo, args=["--model-control-mode=poll", "--repository-poll-secs=0.25"])
    http, grpc = client(server, "http"), client(server, "grpc")
    assert http.is_model_ready("cold") and http.is_model_ready("warm")
    for c in (http, grpc):
        for call in (c.load_model, c.unload_model):
            with pytest.raises(InferenceServerException) as e:
                call("cold")
            assert POLL_REFUSED in e.value.message()
    # A new version takes over; a removed model is unloaded; an instance-count edit applies in place.
    shutil.copytree(repo / "cold" / "1", repo / "cold" / "2")
    wait(lambda: grpc.is_model_ready("cold", "2") and not grpc.is_model_ready("cold", "1"))
    shutil.rmtree(repo / "warm")
    wait(lambda: not http.is_model_ready("warm"))
    config = repo / "cold" / "config.pbtxt"
    config.write_text(config.read_text().replace("count: 1", "count: 3"))
    wait(lambda: http.get_model_config("cold")["instance_group"][0]["count"] == 3)
    server.wait_for(r"updated the instance groups of 'cold' in place", timeout=10)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_load_with_file_override_and_config(start_server, protocol):
    server = start_server(REPO, args=["--model-control-mode=explicit"])
    module, _ = PROTOCOLS[protocol]
    c = client(server, protocol)
    c.load_model("override_model", config=CONFIG, files={"file:1/model.ts": HANDLER})
    assert c.is_model_ready("override_model", "1")
    repository = history(c, module, "override_model")["repository"]
    assert str(REPO) not in repository
    c.unload_model("override_model")
    wait(lambda: not c.is_model_ready("override_model"))
    import os
    wait(lambda: not os.path.exists(repository))
    # A config override alone replaces config.pbtxt for a repository model.
    c.load_model("cold", config=json.dumps({**json.loads(CONFIG), "parameters": {"first_call_ms": {"string_value": "5"}}}))
    cfg = c.get_model_config("cold")
    params = cfg["parameters"] if protocol == "http" else {k: {"string_value": v.string_value} for k, v in cfg.config.parameters.items()}
    assert params["first_call_ms"]["string_value"] == "5"
    # A path that leaves the model folder: Triton's failed poll.
    with pytest.raises(InferenceServerException) as e:
        c.load_model("cold", config=CONFIG, files={"file:../escape": b"x"})
    assert e.value.message() == "failed to load 'cold', failed to poll from model repository"
    # The log line may reach the test's reader after the response does.
    server.wait_for(r"must stay within model directory", timeout=10)


def test_model_config_name(start_server):
    server = start_server(REPO, args=["--model-control-mode=explicit", "--load-model=cold", "--load-model=warm", "--model-config-name=alt"])
    c = client(server, "http")
    assert c.get_model_config("cold")["instance_group"][0]["count"] == 2  # configs/alt.pbtxt
    assert c.get_model_config("warm")["instance_group"][0]["count"] == 2  # no alt: config.pbtxt
    assert "model_warmup" in c.get_model_config("warm")
