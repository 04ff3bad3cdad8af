"""
HTTP bodies as Triton's qa/L0_http tests them (issue 12, deviations 1-4): raw binary deduction,
chunked bodies, gzip/deflate both ways, JSON nesting depth and exact shapes. tritonclient.http
where it can express the case; http.client/socket for the raw ones.
"""
import http.client
import json
import socket
import struct
import urllib.parse

import numpy as np
import pytest
import tritonclient.http as httpclient

from conftest import FIXTURES


@pytest.fixture(scope="module")
def bodies_server():
    from conftest import Server

    s = Server([FIXTURES / "bodies-repo"], grpc=False)
    yield s
    assert s.stop() == 0, s.log


def hostport(server):
    u = urllib.parse.urlsplit("http://" + server.http_url)
    return u.hostname, u.port


def post(server, path, body, headers=None):
    c = http.client.HTTPConnection(*hostport(server), timeout=30)
    c.request("POST", path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def raw_exchange(server, request):
    with socket.create_connection(hostport(server), timeout=30) as s:
        s.sendall(request)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks)


def test_raw_binary_with_two_variable_dims_is_refused(bodies_server):
    r, data = post(bodies_server, "/v2/models/two_variable/infer", np.ones(4, np.float32).tobytes(),
                   {"Inference-Header-Content-Length": "0"})
    assert r.status == 400
    assert json.loads(data)["error"] == (
        "The shape of the raw input 'INPUT0' can not be deduced because there are more than one variable-sized dimension")


def test_raw_binary_is_deduced(bodies_server):
    x = np.arange(8, dtype=np.float32).tobytes()
    r, data = post(bodies_server, "/v2/models/identity_fp32/infer", x, {"Inference-Header-Content-Length": "0"})
    assert r.status == 200
    n = int(r.getheader("Inference-Header-Content-Length"))
    assert json.loads(data[:n])["outputs"][0]["shape"] == [8]
    assert data[n:] == x


def test_raw_bytes_input_is_one_element(bodies_server):
    r, data = post(bodies_server, "/v2/models/identity_bytes/infer", b"427", {"Inference-Header-Content-Length": "0"})
    assert r.status == 200
    n = int(r.getheader("Inference-Header-Content-Length"))
    assert data[n + 4:] == b"427"


@pytest.mark.parametrize("stray_content_length", [False, True])
def test_chunked_raw_binary(bodies_server, stray_content_length):
    # qa's test_content_encoding_chunked_manually: requests sends its own Content-Length beside
    # the Transfer-Encoding header, which Triton serves; so must we.
    x = np.arange(8, dtype=np.float32).tobytes()
    body = b"%X\r\n" % len(x) + x + b"\r\n0\r\n\r\n"
    head = ("POST /v2/models/identity_fp32/infer HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            "Inference-Header-Content-Length: 0\r\nTransfer-Encoding: chunked\r\n")
    if stray_content_length:
        head += "Content-Length: %d\r\n" % len(body)
    reply = raw_exchange(bodies_server, head.encode() + b"\r\n" + body)
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]
    assert reply.endswith(x)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_request_and_response_compression_with_tritonclient(bodies_server, algorithm):
    client = httpclient.InferenceServerClient(bodies_server.http_url)
    try:
        x = np.arange(1000, dtype=np.float32)
        for binary in (True, False):
            i = httpclient.InferInput("INPUT0", [1000], "FP32")
            i.set_data_from_numpy(x, binary_data=binary)
            out = httpclient.InferRequestedOutput("OUTPUT0", binary_data=binary)
            result = client.infer("identity_fp32", [i], outputs=[out],
                                  request_compression_algorithm=algorithm,
                                  response_compression_algorithm=algorithm)
            np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), x)
            assert result.get_response()["model_name"] == "identity_fp32"
    finally:
        client.close()


def test_response_is_compressed_on_the_wire(bodies_server):
    import zlib

    body = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [3], "data": [1, 2, 3]}]})
    r, data = post(bodies_server, "/v2/models/identity_fp32/infer", body, {"Accept-Encoding": "deflate;q=0.4, gzip;q=0.9"})
    assert r.status == 200
    assert r.getheader("Content-Encoding") == "gzip"
    assert json.loads(zlib.decompress(data, 16 + zlib.MAX_WBITS))["outputs"][0]["data"] == [1, 2, 3]


def test_unknown_content_encoding(bodies_server):
    r, data = post(bodies_server, "/v2/models/identity_fp32/infer", b"{}", {"Content-Encoding": "br"})
    assert r.status == 501
    assert r.getheader("Accept-Encoding") == "gzip, deflate"
    assert json.loads(data)["error"] == "Unsupported compression type"


def nested(depth, inner):
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize("depth,ok", [(50, True), (99, True), (100, False), (120, False)])
def test_json_data_nesting_depth(bodies_server, depth, ok):
    body = '{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1],"data":%s}]}' % nested(depth, "1.5")
    r, data = post(bodies_server, "/v2/models/identity_fp32/infer", body, {"Content-Type": "application/json"})
    if ok:
        assert r.status == 200, data
        assert json.loads(data)["outputs"][0]["data"] == [1.5]
    else:
        assert r.status == 400
        assert json.loads(data)["error"] == "JSON nesting depth exceeds maximum allowed limit (100)"


def test_deep_repository_body(bodies_server):
    r, data = post(bodies_server, "/v2/repository/index", '{"ready":%s}' % nested(250000, "true"))
    assert r.status == 400
    assert json.loads(data)["error"] == "JSON nesting depth exceeds maximum allowed limit (100)"
    c = httpclient.InferenceServerClient(bodies_server.http_url)
    assert c.is_server_live()
    c.close()


def shape_body(shape):
    return '{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":%s,"data":[1.0]}]}' % shape


def test_element_count_overflow(bodies_server):
    # qa's test_buffer_size_overflow, with both of its payloads.
    r, data = post(bodies_server, "/v2/models/identity_fp32/infer", shape_body("[16, %d]" % (2**60 + 2)))
    assert r.status == 400
    assert json.loads(data)["error"] == (
        "invalid shape for input 'INPUT0': shape [16,%d] causes total element count to exceed maximum size of "
        "9223372036854775807" % (2**60 + 2))
    r, data = post(bodies_server, "/v2/models/identity_fp32/infer", shape_body("[4, %d]" % (2**60 + 2)))
    assert r.status == 400
    assert "byte size overflow for input 'INPUT0': element count (%d)" % (4 * (2**60 + 2)) in json.loads(data)["error"]


def test_exact_dims_in_binary_size_text(bodies_server):
    header = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [2**60 + 1],
                                     "parameters": {"binary_data_size": 4}}]}).encode()
    r, data = post(bodies_server, "/v2/models/identity_fp32/infer", header + struct.pack("<f", 1.0),
                   {"Inference-Header-Content-Length": str(len(header))})
    assert r.status == 400
    assert "Expected %d, got 4" % ((2**60 + 1) * 4) in json.loads(data)["error"]


def test_negative_dimension(bodies_server):
    r, data = post(bodies_server, "/v2/models/identity_fp32/infer", shape_body("[2, -5]"))
    assert r.status == 500
    assert json.loads(data)["error"] == (
        "Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer")
