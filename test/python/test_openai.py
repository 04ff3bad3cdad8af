"""
The OpenAI-compatible front end (--openai-port) through the official `openai` Python package:
the bundled text_generator, and the echo models of test/fixtures/openai-repo (they answer their
prompt back, so a chat template's output shows).
"""
import json
import urllib.request

import openai
import pytest

from conftest import EXAMPLES, FIXTURES, Server

PROMPT = "Shall I compare thee"
SAMPLED = dict(model="text_generator", prompt=PROMPT, max_tokens=40, temperature=0.7, top_p=0.9, seed=1)


@pytest.fixture(scope="module")
def server():
    s = Server([EXAMPLES, FIXTURES / "openai-repo"], args=["--openai-port", "0"], grpc=False)
    yield s
    assert s.stop() == 0, s.log


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.openai_url, api_key="unused", max_retries=0, timeout=30)


def inference_count(server, model):
    with urllib.request.urlopen(f"http://{server.http_url}/v2/models/{model}/stats") as res:
        return json.load(res)["model_stats"][0]["inference_count"]


def test_models(client):
    ids = [m.id for m in client.models.list()]
    assert ids == ["counted", "echo", "hf_templated", "templated", "text_generator"]
    assert client.models.retrieve("text_generator").id == "text_generator"
    with pytest.raises(openai.NotFoundError) as e:
        client.models.retrieve("not_text")
    assert e.value.code == "model_not_found"


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no_such_model", messages=[{"role": "user", "content": "x"}])
    assert e.value.param == "model"
    assert e.value.status_code == 404


def test_completion_stop_and_seed(client):
    a = client.completions.create(**SAMPLED, stop=[","])
    b = client.completions.create(**SAMPLED, stop=",")
    assert a.choices[0].text == b.choices[0].text == "d swart on and the con al the maked"
    assert a.choices[0].finish_reason == "stop"


def test_completion_max_tokens(client):
    r = client.completions.create(**{**SAMPLED, "max_tokens": 6})
    assert len(r.choices[0].text) == 6
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 6


def test_completion_stream_matches_whole(client):
    whole = client.completions.create(**{**SAMPLED, "max_tokens": 15})
    chunks = list(client.completions.create(**{**SAMPLED, "max_tokens": 15}, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == whole.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_chat_template_and_plain_format(client):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    r = client.chat.completions.create(model="templated", messages=messages)
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == "<s><|system|>Be brief.\n<|user|>Hi\n<|assistant|>"
    r = client.chat.completions.create(model="echo", messages=messages)
    assert r.choices[0].message.content == "System: Be brief.\nUser: Hi\nAssistant:"


def test_chat_stream_with_usage(client):
    stream = client.chat.completions.create(
        model="text_generator", messages=[{"role": "user", "content": PROMPT}], max_tokens=8, seed=2,
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 8
    assert chunks[-2].choices[0].finish_reason == "length"
    text = "".join(c.choices[0].delta.content or "" for c in chunks[:-1])
    again = client.chat.completions.create(model="text_generator", messages=[{"role": "user", "content": PROMPT}], max_tokens=8, seed=2)
    assert again.choices[0].message.content == text


def test_bad_fields_name_the_field(client):
    for kwargs, param in [
        (dict(n=2), "n"), (dict(logprobs=1), "logprobs"), (dict(temperature=9), "temperature"), (dict(top_p=2), "top_p"),
    ]:
        with pytest.raises(openai.BadRequestError) as e:
            client.completions.create(model="echo", prompt="x", **kwargs)
        assert e.value.param == param
        assert e.value.status_code == 400


def test_error_mid_stream(client):
    stream = client.completions.create(model="echo", prompt="abcdef[error]", stream=True)
    texts = []
    with pytest.raises(openai.APIError) as e:
        for c in stream:
            texts.append(c.choices[0].text)
    assert texts == ["abc", "def"]
    assert "failed on purpose" in str(e.value)


def test_disconnect_cancels(server, client):
    before = inference_count(server, "echo")
    stream = client.completions.create(model="echo", prompt="[forever]", stream=True)
    for i, _ in enumerate(stream):
        if i == 2:
            break
    stream.close()
    server.wait_for(r"openai request cancelled after \d+ responses", timeout=10)
    assert inference_count(server, "echo") > before
