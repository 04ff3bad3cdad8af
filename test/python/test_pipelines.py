"""The bundled repository's three pipelines through tritonclient, as their users call them: the
Korean text embedding ensemble (the tutorial's request verbatim), the ppocr_cls classifier with
class_count, and full OCR."""
import struct
import zlib

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from clients import client, PROTOCOLS

HEADLINES = ["슈퍼 엔저 장기화에…한국 수출∙경상수지에 비상등", "엔저 기조 끝날까… 기나긴 하락 끝에 엔-원 환율 반등"]

# The 5x7 pixel digits of test/fixtures/ocr/render-text.ts.
FONT = {
    "0": ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
    "1": ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    "2": ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    "3": ["11111", "00010", "00100", "00010", "00001", "10001", "01110"],
    "4": ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    "5": ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    "6": ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    "7": ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    "8": ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    "9": ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
}


def render(lines, width, height, scale=4):
    """RGB uint8 [height, width, 3], dark digits on white; each line is (text, x, y)."""
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    for text, x, y in lines:
        for i, ch in enumerate(text):
            glyph = np.array([[c == "1" for c in row] for row in FONT[ch]])
            block = np.kron(glyph, np.ones((scale, scale), dtype=bool))
            left = x + i * 7 * scale
            img[y:y + 7 * scale, left:left + 5 * scale][block] = 20
    return img


def png(img):
    """A minimal PNG file (8-bit RGB, no filter) of `img`."""
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_tutorial_embedding_request_verbatim(examples_server):
    # The tutorial's code, unchanged but for the server's URL.
    text = np.array([['슈퍼 엔저 장기화에…한국 수출∙경상수지에 비상등'.encode('utf-8')],
                     ['엔저 기조 끝날까… 기나긴 하락 끝에 엔-원 환율 반등'.encode('utf-8')]], dtype=np.bytes_)
    input_text = httpclient.InferInput("input_text", list(text.shape), datatype="BYTES")
    input_text.set_data_from_numpy(text, binary_data=True)
    outputs = httpclient.InferRequestedOutput("output__0", binary_data=True)
    client_ = httpclient.InferenceServerClient(url=examples_server.http_url)
    result = client_.infer(model_name='embedding', inputs=[input_text], outputs=[outputs])
    out = result.as_numpy('output__0')
    assert out.shape == (2, 384)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)


def embed(c, module, texts):
    arr = np.array([[t if isinstance(t, bytes) else t.encode("utf-8")] for t in texts], dtype=np.object_)
    x = module.InferInput("input_text", list(arr.shape), "BYTES")
    x.set_data_from_numpy(arr)
    return c.infer("embedding", [x]).as_numpy("output__0")


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_embedding_properties(examples_server, protocol):
    module = PROTOCOLS[protocol][0]
    c = client(examples_server, protocol)
    texts = [f"{HEADLINES[i % 2]} {i}" for i in range(32)]
    batch = embed(c, module, texts)
    alone = embed(c, module, [texts[7]])
    np.testing.assert_array_equal(alone, embed(c, module, [texts[7]]))  # deterministic
    np.testing.assert_allclose(alone[0], batch[7], atol=1e-5)        # alone = in a batch of 32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1, atol=1e-5)
    edge = embed(c, module, ["", "가" * 10_000])
    np.testing.assert_allclose(np.linalg.norm(edge, axis=1), 1, atol=1e-5)
    with pytest.raises(InferenceServerException) as e:
        embed(c, module, [b"\xff\xfeA"])
    assert "not valid UTF-8" in e.value.message()
    assert e.value.status() in ("400", "StatusCode.INVALID_ARGUMENT")


def test_tokenizer_answers_ids_and_mask(examples_server):
    c = client(examples_server, "http")
    arr = np.array([[h.encode("utf-8")] for h in HEADLINES], dtype=np.object_)
    x = httpclient.InferInput("input_text", [2, 1], "BYTES")
    x.set_data_from_numpy(arr)
    r = c.infer("tokenizer", [x])
    ids, mask = r.as_numpy("input_ids"), r.as_numpy("attention_mask")
    assert ids.shape == mask.shape == (2, 64) and ids.dtype == np.int64
    for row in range(2):
        n = int(mask[row].sum())
        assert mask[row].tolist() == [1] * n + [0] * (64 - n)
        assert ids[row, n - 1] == 151643  # <|endoftext|>


def cls_input(turned):
    line = render([("20260", 12, 10)], 192, 48).astype(np.float32)
    if turned:
        line = line[::-1, ::-1]
    return ((line / 255 - 0.5) / 0.5).transpose(2, 0, 1)


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_ppocr_cls_class_count_labels(examples_server, protocol):
    module = PROTOCOLS[protocol][0]
    c = client(examples_server, protocol)
    x = module.InferInput("x", [2, 3, 48, 192], "FP32")
    x.set_data_from_numpy(np.stack([cls_input(False), cls_input(True)]))
    out = module.InferRequestedOutput("softmax_0.tmp_0", class_count=1)
    r = c.infer("ppocr_cls", [x], outputs=[out]).as_numpy("softmax_0.tmp_0")
    assert r.shape == (2, 1)
    score0, index0, label0 = r[0][0].decode().split(":")
    score1, index1, label1 = r[1][0].decode().split(":")
    assert (index0, label0, index1, label1) == ("0", "0", "1", "180")
    assert float(score0) > 0.5 and float(score1) > 0.5


LINES = [("31415", 40, 60), ("2718", 120, 200), ("16180", 60, 360)]


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_ocr_reads_lines(examples_server, protocol):
    module = PROTOCOLS[protocol][0]
    c = client(examples_server, protocol)
    img = render(LINES, 640, 480)
    x = module.InferInput("image", [1], "BYTES")
    x.set_data_from_numpy(np.array([png(img)], dtype=np.object_))
    r = c.infer("ocr", [x])
    assert [t.decode() for t in r.as_numpy("text")] == [t for t, _, _ in LINES]
    boxes = r.as_numpy("boxes")
    assert boxes.shape == (3, 4, 2)
    for (text, lx, ly), box in zip(LINES, boxes):
        # The box's centre lies inside its rendered line.
        cx, cy = box.mean(axis=0)
        assert lx <= cx <= lx + len(text) * 28 and ly <= cy <= ly + 28, (text, box)
    assert (r.as_numpy("scores") > 0.8).all()
    raw = module.InferInput("image_rgb", list(img.shape), "UINT8")
    raw.set_data_from_numpy(img)
    assert [t.decode() for t in c.infer("ocr", [raw]).as_numpy("text")] == [t for t, _, _ in LINES]
