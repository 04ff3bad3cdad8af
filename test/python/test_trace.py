"""The trace extension through the official clients (update_trace_settings / get_trace_settings,
HTTP and gRPC), against a server tracing in Triton's mode to a trace file: the settings' shapes and
values, per-model settings falling back to the global ones, clearing with None, Triton's refusals,
and the trace file the traced requests are written to."""
import json
import os

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from clients import client, tensor
from conftest import FIXTURES


def settings_of(c, protocol, model_name=None, update=None):
    """The trace settings as one dict of str / list, whichever the protocol (gRPC: its JSON form)."""
    if update is None:
        r = c.get_trace_settings(model_name=model_name) if protocol == "http" else c.get_trace_settings(model_name=model_name, as_json=True)
    elif protocol == "http":
        r = c.update_trace_settings(model_name=model_name, settings=update)
    else:
        r = c.update_trace_settings(model_name=model_name, settings=update, as_json=True)
    if protocol == "http":
        return r
    out = {}
    for k, v in r["settings"].items():
        values = v.get("value", [])
        out[k] = values if k == "trace_level" else (values[0] if values else "")
    return out


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_trace_settings(start_server, tmp_path, protocol):
    trace_file = str(tmp_path / "trace.json")
    server = start_server(FIXTURES / "ensemble-repo", args=[
        "--trace-config", "triton,file=%s" % trace_file, "--trace-config", "level=OFF", "--trace-config", "rate=1000"])
    m = httpclient if protocol == "http" else grpcclient
    c = client(server, protocol)

    assert settings_of(c, protocol) == {
        "trace_level": ["OFF"], "trace_rate": "1000", "trace_count": "-1", "log_frequency": "0",
        "trace_file": trace_file, "trace_mode": "triton",
    }
    s = settings_of(c, protocol, update={"trace_level": ["TIMESTAMPS"], "trace_rate": "1", "log_frequency": "2"})
    assert s["trace_level"] == ["TIMESTAMPS"] and s["trace_rate"] == "1" and s["log_frequency"] == "2"

    # A model's own setting; the others follow the global one.
    s = settings_of(c, protocol, model_name="add_one", update={"trace_rate": "3", "trace_count": "5"})
    assert (s["trace_rate"], s["trace_count"], s["trace_level"]) == ("3", "5", ["TIMESTAMPS"])
    assert settings_of(c, protocol, model_name="double")["trace_rate"] == "1"
    # Cleared with None: the global value again.
    s = settings_of(c, protocol, model_name="add_one", update={"trace_rate": None, "trace_count": None})
    assert (s["trace_rate"], s["trace_count"]) == ("1", "-1")

    with pytest.raises(InferenceServerException, match="trace file location can not be updated through network protocol"):
        settings_of(c, protocol, update={"trace_file": "other.json"})
    with pytest.raises(InferenceServerException, match="Expect only one trace level 'OFF' is specified"):
        settings_of(c, protocol, update={"trace_level": ["OFF", "TIMESTAMPS"]})
    with pytest.raises(InferenceServerException, match="Request for unknown model : nope"):
        settings_of(c, protocol, model_name="nope")

    # Two traced requests make one indexed file (log_frequency 2).
    for v in (1.0, 2.0):
        c.infer("add_one", [tensor(m, "IN", np.array([v], np.float32))])
    assert os.path.exists(trace_file + ".0")
    with open(trace_file + ".0") as f:
        entries = json.load(f)
    heads = [e for e in entries if "model_name" in e]
    assert [h["model_name"] for h in heads] == ["add_one", "add_one"]
    names = [e["timestamps"][0]["name"] for e in entries if e.get("id") == heads[0]["id"] and "timestamps" in e]
    assert names[0] == "REQUEST_START" and names[-1] == "REQUEST_END" and "COMPUTE_START" in names

    s = settings_of(c, protocol, update={"trace_level": ["OFF"]})
    assert s["trace_level"] == ["OFF"]
