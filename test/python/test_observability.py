"""Logging extension, handlers' custom metrics and handlers' readiness as tritonclient users see
them: get/update_log_settings over HTTP and gRPC (log_file refused), a handler's MetricFamily
series on the metrics port, and is_model_ready / is_server_ready following the handler's isReady()."""
import re
import time
import urllib.request

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from conftest import FIXTURES
from clients import PROTOCOLS, client, tensor

REPO = FIXTURES / "observability-repo"
LOG_FILE_REFUSED = "log file location can not be updated through network protocol"


def one(module, n=1):
    return [tensor(module, "INPUT0", np.arange(n, dtype=np.float32))]


def wait(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def grpc_settings(c):
    """gRPC get/update answers LogSettingsResponse JSON: each value under its oneof field."""
    raw = c.get_log_settings(as_json=True)["settings"]
    return {k: next(iter(v.values())) for k, v in raw.items()}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_log_settings(start_server, protocol):
    server = start_server(REPO)
    c = client(server, protocol)
    read = (lambda: c.get_log_settings()) if protocol == "http" else (lambda: grpc_settings(c))
    settings = read()
    assert settings["log_file"] == ""
    assert settings["log_info"] is True and settings["log_warning"] is True and settings["log_error"] is True
    assert int(settings["log_verbose_level"]) == 0
    assert settings["log_format"] == "default"
    c.update_log_settings({"log_verbose_level": 1, "log_format": "ISO8601", "log_warning": False})
    settings = read()
    assert int(settings["log_verbose_level"]) == 1 and settings["log_format"] == "ISO8601" and settings["log_warning"] is False
    with pytest.raises(InferenceServerException, match=LOG_FILE_REFUSED):
        c.update_log_settings({"log_file": "/tmp/elsewhere.log"})
    assert read()["log_file"] == ""
    # The handler's verbose line now shows, in the ISO8601 shape.
    c.infer("talker", one(PROTOCOLS[protocol][0]), request_id="py-verbose")
    line = server.wait_for(r"\S+ V \d+ talker:1:talker_0_0\] talker verbose line for 'py-verbose'").group(0)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ V ", line)
    assert "talker warning line for 'py-verbose'" not in server.log
    c.update_log_settings({"log_format": "default", "log_warning": True})


def scrape(url):
    with urllib.request.urlopen("http://%s/metrics" % url) as r:
        return r.read().decode()


def sample(text, name, labels):
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"^(\w+)\{([^}]*)\} (\S+)$", line)
        if m and m.group(1) == name and ",".join(sorted(m.group(2).split(","))) == want:
            return float(m.group(3))
    return None


def test_custom_metrics(start_server):
    server = start_server(REPO, args=("--allow-metrics", "true", "--metrics-port", "0"))
    metrics_url = server.wait_for(r"Started Metrics Service at (\S+)").group(1)
    labels = {"model": "custom_metrics", "version": "1"}
    c = client(server, "grpc")
    import tritonclient.grpc as grpcclient

    for n in (2, 5, 30):
        result = c.infer("custom_metrics", one(grpcclient, n))
    assert result.as_numpy("OUTPUT0").tolist() == [3.0, 30.0]
    text = wait(lambda: (lambda t: t if sample(t, "handler_requests_total", labels) == 3 else None)(scrape(metrics_url)))
    assert "# TYPE handler_requests_total counter" in text
    assert "# TYPE handler_input_size histogram" in text
    assert sample(text, "handler_last_size", labels) == 30
    assert sample(text, "handler_input_size_bucket", dict(labels, le="4")) == 1
    assert sample(text, "handler_input_size_bucket", dict(labels, le="+Inf")) == 3
    assert sample(text, "handler_input_size_count", labels) == 3
    assert "nv_inference_request_success" in text
    with pytest.raises(InferenceServerException, match="Error when creating MetricFamily: Invalid metric name"):
        c.infer("custom_metrics", one(grpcclient), parameters={"probe": "name"})
    with pytest.raises(InferenceServerException, match="TRITONSERVER_METRIC_KIND_COUNTER can only be incremented monotonically"):
        c.infer("custom_metrics", one(grpcclient), parameters={"probe": "negative"})


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_handler_readiness(start_server, repo_copy, protocol):
    repo = repo_copy(REPO)
    server = start_server(repo)
    c = client(server, protocol)
    assert c.is_model_ready("ready_gate") and c.is_server_ready()
    (repo / "ready_gate" / "NOT_READY").write_text("")
    assert not c.is_model_ready("ready_gate")
    assert not c.is_server_ready()  # --strict-readiness (the default) follows the models
    assert c.is_model_ready("talker")
    (repo / "ready_gate" / "NOT_READY").unlink()
    assert c.is_model_ready("ready_gate") and c.is_server_ready()
    (repo / "ready_gate" / "THROW").write_text("")
    assert not c.is_model_ready("ready_gate")
    (repo / "ready_gate" / "THROW").unlink()
    assert c.is_model_ready("ready_gate")


def test_readiness_without_strict(start_server, repo_copy):
    repo = repo_copy(REPO)
    server = start_server(repo, args=("--strict-readiness", "false"))
    c = client(server, "http")
    (repo / "ready_gate" / "NOT_READY").write_text("")
    assert not c.is_model_ready("ready_gate")
    assert c.is_server_ready()
