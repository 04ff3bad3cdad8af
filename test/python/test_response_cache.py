"""The response cache through the official clients, as Triton's L0_response_cache checks it:
--cache-config local,size=N with response_cache in the model's config; a repeated request is
answered from the cache (the model does not run: its call count and execution count stay put);
an ensemble's top-level hit runs none of its steps; the statistics' cache_hit / cache_miss count
it; a decoupled model with the cache fails its load with Triton's text; without a server cache
the model's response_cache does nothing."""
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from clients import client, tensor
from conftest import FIXTURES

REPO = FIXTURES / "cache-repo"
LOADED = ["--model-control-mode=explicit", "--load-model=add_sub_cache", "--load-model=add_sub_plain", "--load-model=sum_cache"]


@pytest.fixture(scope="module")
def cache_server():
    from conftest import Server

    s = Server([REPO], ["--cache-config", "local,size=1048576", *LOADED])
    yield s
    assert s.stop() == 0, s.log


def stats_of(c, model, protocol):
    s = c.get_inference_statistics(model) if protocol == "http" else c.get_inference_statistics(model, as_json=True)
    return s["model_stats"][0]


def count(stats, *path):
    v = stats
    for k in path:
        v = v.get(k, 0) if isinstance(v, dict) else 0
    return int(v)


def add_sub(c, m, a, b):
    r = c.infer("add_sub_cache", [tensor(m, "A", np.array([a], np.float32)), tensor(m, "B", np.array([b], np.float32))])
    return r.as_numpy("SUM"), int(r.as_numpy("CALLS")[0][0])


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_repeated_request_is_a_hit(cache_server, protocol):
    m = httpclient if protocol == "http" else grpcclient
    c = client(cache_server, protocol)
    a = [1.0, 2.0, 3.0] if protocol == "http" else [4.0, 5.0, 6.0]
    before = stats_of(c, "add_sub_cache", protocol)
    s1, calls1 = add_sub(c, m, a, [1.0, 1.0, 1.0])
    s2, calls2 = add_sub(c, m, a, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(s1, np.array([a], np.float32) + 1)
    assert calls2 == calls1
    after = stats_of(c, "add_sub_cache", protocol)
    assert count(after, "inference_stats", "cache_hit", "count") - count(before, "inference_stats", "cache_hit", "count") == 1
    assert count(after, "inference_stats", "cache_miss", "count") - count(before, "inference_stats", "cache_miss", "count") == 1
    assert count(after, "inference_stats", "success", "count") - count(before, "inference_stats", "success", "count") == 2
    assert count(after, "execution_count") - count(before, "execution_count") == 1
    assert count(after, "inference_stats", "cache_hit", "ns") > count(before, "inference_stats", "cache_hit", "ns")


def test_other_inputs_miss(cache_server):
    c = client(cache_server, "http")
    _, calls1 = add_sub(c, httpclient, [7.0, 7.0], [0.0, 0.0])
    _, calls2 = add_sub(c, httpclient, [7.0, 7.0], [0.0, 1.0])
    assert calls2 == calls1 + 1


def test_ensemble_top_level_hit_runs_no_step(cache_server):
    c = client(cache_server, "http")
    x = [tensor(httpclient, "X", np.array([[2.0, 4.0]], np.float32))]
    first = c.infer("sum_cache", x).as_numpy("S")
    steps = stats_of(c, "add_sub_plain", "http")
    second = c.infer("sum_cache", x).as_numpy("S")
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(second, np.array([[4.0, 8.0]], np.float32))
    assert count(stats_of(c, "add_sub_plain", "http"), "execution_count") == count(steps, "execution_count")
    ensemble = stats_of(c, "sum_cache", "http")
    assert count(ensemble, "inference_stats", "cache_hit", "count") >= 1
    assert count(ensemble, "inference_stats", "cache_miss", "count") >= 1


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_decoupled_model_with_cache_fails_to_load(cache_server, protocol):
    c = client(cache_server, protocol)
    with pytest.raises(InferenceServerException) as e:
        c.load_model("decoupled_cache")
    assert ("Response Cache does not currently support model decoupled_cache with 'decoupled' transaction policy. "
            "Please disable the response cache.") in str(e.value)


def test_no_server_cache_means_no_caching(start_server):
    s = start_server(REPO, args=["--model-control-mode=explicit", "--load-model=add_sub_cache"])
    c = client(s, "http")
    _, calls1 = add_sub(c, httpclient, [1.0], [1.0])
    _, calls2 = add_sub(c, httpclient, [1.0], [1.0])
    assert calls2 == calls1 + 1
    st = stats_of(c, "add_sub_cache", "http")
    assert count(st, "inference_stats", "cache_hit", "count") == 0
    assert count(st, "inference_stats", "cache_miss", "count") == 0
