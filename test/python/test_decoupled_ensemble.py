"""
An ensemble with a decoupled first step (Triton's qa repeat_square) through tritonclient.grpc's
streaming API, as Triton's L0_decoupled test drives its ensembles: one response per element,
the error of a decoupled step mid-stream with Triton's "in ensemble" prefix, and the plain infer
refused as for any decoupled model.
"""
import queue

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from conftest import FIXTURES

MODEL = "repeat_square"


@pytest.fixture
def client(start_server):
    server = start_server(FIXTURES / "decoupled-repo", FIXTURES / "decoupled-ensemble-repo",
                          args=["--model-control-mode", "explicit", "--load-model", MODEL])
    c = grpcclient.InferenceServerClient(server.grpc_url)
    yield c
    c.close()


def inputs(values):
    i = grpcclient.InferInput("IN", [len(values)], "INT32")
    i.set_data_from_numpy(np.array(values, dtype=np.int32))
    return [i]


def run_stream(client, values, parameters=None):
    """Sends one request on a stream; returns the (result, error) pairs up to the final flag."""
    results = queue.Queue()
    client.start_stream(callback=lambda result, error: results.put((result, error)))
    try:
        client.async_stream_infer(MODEL, inputs(values), request_id="r", parameters=parameters,
                                  enable_empty_final_response=True)
        got = []
        while True:
            result, error = results.get(timeout=30)
            got.append((result, error))
            if error is not None:
                return got
            if result.get_response().parameters["triton_final_response"].bool_param:
                return got
    finally:
        client.stop_stream()


def test_decoupled_ensemble_streams_one_response_per_element(client):
    config = client.get_model_config(MODEL, as_json=True)["config"]
    assert config["model_transaction_policy"] == {"decoupled": True}
    got = run_stream(client, [2, 3, 4])
    assert all(error is None for _, error in got)
    answers = [r for r, _ in got if r.as_numpy("OUT") is not None]
    pairs = sorted((int(r.as_numpy("IDX")[0]), int(r.as_numpy("OUT")[0])) for r in answers)
    assert pairs == [(0, 4), (1, 9), (2, 16)]
    assert all(r.get_response().id == "r" and r.get_response().model_name == MODEL for r, _ in got)


def test_decoupled_ensemble_error_mid_stream(client):
    got = run_stream(client, [2, 3, 4], parameters={"mode": "error_mid", "delay_ms": 150})
    assert len(got) == 2
    first, error = got[0]
    assert error is None and int(first.as_numpy("OUT")[0]) == 4
    _, error = got[1]
    assert isinstance(error, InferenceServerException)
    assert error.message() == "in ensemble 'repeat_square', bad element at 1"


def test_decoupled_ensemble_refuses_plain_infer(client):
    with pytest.raises(InferenceServerException) as e:
        client.infer(MODEL, inputs([1]))
    assert e.value.status() == "StatusCode.UNIMPLEMENTED"
    assert e.value.message() == "ModelInfer RPC doesn't support models with decoupled transaction policy"
