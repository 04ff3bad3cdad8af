"""BYTES round trips and element counts, repository parameter types and file: overrides, as
Triton answers them, through tritonclient's HTTP and gRPC clients."""
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import FIXTURES

REPO = FIXTURES / "bytes-repo"


@pytest.fixture(scope="module")
def server():
    from conftest import Server

    s = Server([REPO], args=["--model-control-mode", "explicit", "--load-model", "*"])
    yield s
    assert s.stop() == 0, s.log


@pytest.fixture
def http(server):
    c = httpclient.InferenceServerClient(server.http_url)
    yield c
    c.close()


@pytest.fixture
def grpc(server):
    c = grpcclient.InferenceServerClient(server.grpc_url)
    yield c
    c.close()


def post(server, path, body):
    req = urllib.request.Request(f"http://{server.http_url}{path}", data=body if isinstance(body, bytes) else body.encode())
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def random_elements(seed):
    rng = np.random.default_rng(seed)
    out = [b"", b"\x00", b"a\x00b", b"\xff\xfe\xfd", b"\xed\xa0\x80", b"\xc3", "héllo 日本".encode()]
    out += [bytes(rng.integers(0, 256, int(rng.integers(0, 40)), dtype=np.uint8)) for _ in range(12)]
    return out


def echo(client, module, arr, binary_in=True, binary_out=True):
    i = module.InferInput("INPUT0", list(arr.shape), "BYTES")
    if module is httpclient:
        i.set_data_from_numpy(arr, binary_data=binary_in)
        outs = [module.InferRequestedOutput("OUTPUT0", binary_data=binary_out)]
    else:
        i.set_data_from_numpy(arr)
        outs = [module.InferRequestedOutput("OUTPUT0")]
    return client.infer("string_identity", [i], outputs=outs).as_numpy("OUTPUT0")


def as_bytes(values):
    # JSON outputs come back as str: Python's json reads raw bytes with 'surrogatepass'.
    return [v if isinstance(v, bytes) else v.encode("utf-8", "surrogatepass") for v in values]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bytes_round_trip_binary_and_grpc(http, grpc, seed):
    elements = random_elements(seed)
    arr = np.array(elements, dtype=np.object_)
    assert as_bytes(echo(http, httpclient, arr).tolist()) == elements
    assert as_bytes(echo(grpc, grpcclient, arr).tolist()) == elements
    # numpy |S arrays: numpy itself drops trailing NULs, so send elements without them.
    s = np.array([e for e in elements if not e.endswith(b"\x00")], dtype=np.bytes_)
    assert as_bytes(echo(http, httpclient, s).tolist()) == s.tolist()
    assert as_bytes(echo(grpc, grpcclient, s).tolist()) == s.tolist()
    assert as_bytes(echo(http, httpclient, s.reshape(1, -1)[0]).tolist()) == s.tolist()


def test_bytes_json_output_keeps_invalid_utf8(server, http):
    # Binary in, JSON out: the bytes go back as they came, inside the JSON string, as Triton's
    # rapidjson writes them (the broken case: they came back as U+FFFD, silently changed).
    elements = [b"\xed\xa0\x80", b"ok", b"\x00", b"", b"\xff"]
    raw = b"".join(len(e).to_bytes(4, "little") + e for e in elements)
    header = json.dumps({"inputs": [{"name": "INPUT0", "shape": [5], "datatype": "BYTES", "parameters": {"binary_data_size": len(raw)}}],
                         "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": False}}]}).encode()
    req = urllib.request.Request(f"http://{server.http_url}/v2/models/string_identity/infer", data=header + raw,
                                 headers={"Inference-Header-Content-Length": str(len(header))})
    with urllib.request.urlopen(req) as r:
        body = r.read()
    data = json.loads(body.decode("latin-1"))["outputs"][0]["data"]
    assert [d.encode("latin-1") for d in data] == elements
    # tritonclient then refuses the body exactly as it refuses Triton's own: with its advice.
    with pytest.raises(InferenceServerException, match="Please use binary_data=True"):
        echo(http, httpclient, np.array(elements, dtype=np.object_), binary_in=True, binary_out=False)


def test_bytes_round_trip_json_in_and_out(http):
    elements = [b"", b"\x00", b"a\x00b", "héllo 日本 \u2028".encode(), b'quote " backslash \\ \n\t\x01']
    arr = np.array(elements, dtype=np.object_)
    for binary_out in (False, True):
        assert as_bytes(echo(http, httpclient, arr, binary_in=False, binary_out=binary_out).tolist()) == elements


def pair_inputs(module, n, first_dtype="INT32"):
    i0 = module.InferInput("INPUT0", [2], first_dtype)
    i0.set_data_from_numpy(np.zeros(2, dtype=np.int32 if first_dtype == "INT32" else np.float32))
    i1 = module.InferInput("INPUT1", [n], "BYTES")
    data = np.array([b"x%d" % k for k in range(n)], dtype=np.object_)
    if module is httpclient:
        i1.set_data_from_numpy(data.reshape(-1), binary_data=True)
    else:
        i1.set_data_from_numpy(data.reshape(-1))
    # The clients check the shape against the data; claim 16 as a misbehaving client would.
    i1.set_shape([16])
    return i0, i1


@pytest.mark.parametrize("module", [httpclient, grpcclient], ids=["http", "grpc"])
def test_bytes_element_counts(http, grpc, module):
    client = http if module is httpclient else grpc
    i0, i1 = pair_inputs(module, 16)
    assert client.infer("bytes_pair", [i0, i1]).as_numpy("OUTPUT0").shape == (16,)
    for n, text in ((14, "expected 16 string elements for inference input 'INPUT1' for model 'bytes_pair', got 14"),
                    (17, "unexpected number of string elements 17 for inference input 'INPUT1' for model 'bytes_pair', expecting 16")):
        i0, i1 = pair_inputs(module, n)
        with pytest.raises(InferenceServerException) as e:
            client.infer("bytes_pair", [i0, i1])
        assert text in e.value.message()
    # Triton's order: INPUT0's datatype before INPUT1's count when INPUT0 comes first...
    i0, i1 = pair_inputs(module, 14, "FP32")
    with pytest.raises(InferenceServerException) as e:
        client.infer("bytes_pair", [i0, i1])
    assert "inference input 'INPUT0' data-type is 'FP32'" in e.value.message()
    # ...and INPUT1's count first when INPUT1 comes first.
    with pytest.raises(InferenceServerException) as e:
        client.infer("bytes_pair", [i1, i0])
    assert "expected 16 string elements for inference input 'INPUT1'" in e.value.message()


def test_bytes_element_counts_over_http_json(server):
    body = {"inputs": [{"name": "INPUT0", "shape": [2], "datatype": "INT32", "data": [1, 2]},
                       {"name": "INPUT1", "shape": [16], "datatype": "BYTES", "data": ["a"] * 14}]}
    status, text = post(server, "/v2/models/bytes_pair/infer", json.dumps(body))
    assert status == 400
    assert json.loads(text)["error"] == ("[request id: <id_unknown>] expected 16 string elements for inference input "
                                         "'INPUT1' for model 'bytes_pair', got 14")
    body["inputs"][1]["data"] = ["a"] * 17
    status, text = post(server, "/v2/models/bytes_pair/infer", json.dumps(body))
    assert status == 400 and "unexpected number of string elements 17" in json.loads(text)["error"]


def test_index_ready_must_be_a_boolean(server, http, grpc):
    for ready in ('"yes"', "1", "null", "[true]"):
        status, text = post(server, "/v2/repository/index", '{"ready":%s}' % ready)
        assert (status, json.loads(text)) == (400, {"error": "Invalid value for 'ready': expected a boolean"})
    assert {m["name"] for m in http.get_model_repository_index()} == {"string_identity", "bytes_pair"}
    assert {m.name for m in grpc.get_model_repository_index().models} == {"string_identity", "bytes_pair"}


def test_load_parameter_types(server, http, grpc):
    cases = [({"parameters": {"config": {"max_batch_size": 1}}}, 500, "attempt to access JSON non-string as string"),
             ({"parameters": {"colour": "red"}}, 500, "unexpected error on creating Triton parameter"),
             ({"parameters": []}, 500, "attempt to get members for non-object")]
    for body, code, text in cases:
        status, reply = post(server, "/v2/repository/models/string_identity/load", json.dumps(body))
        assert (status, json.loads(reply)) == (code, {"error": text})
    status, reply = post(server, "/v2/repository/models/string_identity/unload", '{"parameters":{"unload_dependents":"yes"}}')
    assert (status, json.loads(reply)) == (500, {"error": "Unable to parse 'unload_dependents': attempt to access JSON non-boolean as boolean"})
    with pytest.raises(InferenceServerException) as e:
        grpc.load_model("string_identity", files={"config": b"{}"})
    assert e.value.message() == "invalid value type for load parameter 'config', expected string_param."
    http.load_model("string_identity")
    assert http.is_model_ready("string_identity")


@pytest.mark.parametrize("path", ["A" * 256, "1/" + "d/" * 2100 + "m", "../outside", "1/model.onnx/x"])
def test_bad_file_override_fails_the_poll(server, http, grpc, path):
    files = {"file:" + path: b"\x01\x02"}
    if path.endswith("/x"):
        files["file:1/model.onnx"] = b"\x00"
    want = "failed to load 'string_identity', failed to poll from model repository"
    with pytest.raises(InferenceServerException) as e:
        http.load_model("string_identity", config="{}", files=files)
    assert e.value.message() == want and e.value.status() == "500"
    with pytest.raises(InferenceServerException) as e:
        grpc.load_model("string_identity", config="{}", files=files)
    assert e.value.message() == want and e.value.status() == "StatusCode.INTERNAL"
    assert http.is_server_live() and http.is_model_ready("string_identity")


def test_file_override_needs_a_config(http):
    with pytest.raises(InferenceServerException) as e:
        http.load_model("string_identity", files={"file:1/model.onnx": b"\x00"})
    assert e.value.message() == "failed to load 'string_identity', failed to poll from model repository"
