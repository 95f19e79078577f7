"""Streams: logits equal to the C++ API's, generation, reading the cache, recording attention."""

import subprocess

import numpy as np
import pytest

import kvlab
from conftest import build_dir


def cpp_logits(tmp_path, model_name, kv, max_batch, ids):
    """Logits of the C++ API (Model::Forward) for the same ids, via python/tests/logits_reference.cc."""
    program = build_dir() / "python" / "kvlab_logits_reference"
    out = tmp_path / "logits.f32"
    args = [model_name, kv, str(max_batch), str(kvlab.threads()), str(out), *map(str, ids)]
    subprocess.run([str(program), *args], check=True)
    return np.fromfile(out, dtype=np.float32)


@pytest.mark.parametrize("kv", ["full", "h2o:budget=24,recent=4"])
def test_logits_equal_the_cpp_api_bit_for_bit(model, story_ids, tmp_path, kv):
    ids = story_ids[:64]
    expected = cpp_logits(tmp_path, "stories260K", kv, 16, ids).reshape(len(ids), -1)
    stream = model.stream(kv=kv, max_batch=16)
    got = stream.feed(ids, all_logits=True)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.array_equal(got, expected)


def test_feed_returns_the_last_tokens_logits_and_advances(model, story_ids):
    whole = model.stream().feed(story_ids[:20], all_logits=True)
    stream = model.stream()
    last = stream.feed(story_ids[:20])
    assert stream.position == 20
    # The last row of all_logits comes from the same hidden state through a matrix product rather than a
    # matrix-vector product: equal to rounding.
    np.testing.assert_allclose(last, whole[-1], rtol=1e-5, atol=1e-5)
    # Token by token gives the same next-token logits as one chunk, to rounding (prefill uses GEMM).
    step = model.stream()
    for t in story_ids[:20]:
        one = step.feed([t])
    np.testing.assert_allclose(one, last, rtol=1e-4, atol=1e-4)


def test_generate_greedy_is_deterministic_and_decodes(model):
    a = model.stream(kv="window:budget=32").generate("Once upon a time", max_new_tokens=24)
    b = model.stream(kv="window:budget=32").generate("Once upon a time", max_new_tokens=24)
    assert a == b
    assert len(a["tokens"]) == 24 and a["stop_reason"] == "length"
    assert a["text"] == model.tokenizer.decode(a["tokens"])
    assert a["text"].strip()


def test_generate_continues_a_stream(model):
    stream = model.stream()
    stream.feed(model.tokenizer.encode("Once upon a time"))
    out = stream.generate(max_new_tokens=5)
    assert stream.position == 5 + 5  # prompt of 5 ids, then every generated token is fed


def test_keys_are_a_read_only_view_of_the_cache(model, story_ids):
    stream = model.stream(kv="h2o:budget=32,recent=8")
    stream.feed(story_ids[:100])
    keys = stream.keys(2, 1)
    assert keys.shape == (stream.slots[2, 1], model.config["head_dim"])
    assert not keys.flags.writeable
    assert np.shares_memory(keys, stream.keys(2, 1))  # no copy
    assert keys.base is not None
    positions = stream.positions(2, 1)
    assert len(positions) == len(keys) and np.all(np.diff(positions) > 0)
    assert stream.values(2, 1).shape == keys.shape
    with pytest.raises(ValueError):
        keys[0, 0] = 1.0


def test_quantized_cache_keys_are_decoded_copies(model, story_ids):
    plain = model.stream()
    quant = model.stream(kv="quant:k=int8,v=int8,residual=0")
    plain.feed(story_ids[:40])
    quant.feed(story_ids[:40])
    k_plain, k_quant = plain.keys(0, 0), quant.keys(0, 0)
    assert k_quant.flags.writeable and k_quant.shape == k_plain.shape
    assert np.abs(k_quant - k_plain).max() < 0.05 * np.abs(k_plain).max()
    assert quant.kv_bytes < plain.kv_bytes


def test_recorded_attention_rows_are_distributions_over_the_past(model, story_ids):
    stream = model.stream(kv="window:budget=16", max_batch=4)
    stream.record_attention([0, 3])
    stream.feed(story_ids[:10])
    stream.feed(story_ids[10:30])
    att = stream.attention(3)
    assert att.shape == (20, model.config["n_heads"], 30)
    sums = att.sum(axis=2)
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)
    for t in range(20):
        assert np.all(att[t, :, 10 + t + 1:] == 0)  # causal
    # The window keeps 16 slots, plus the chunk of 4 being fed: the last query sees positions 10..29.
    assert np.all(att[-1, :, :10] == 0) and np.all(att[-1, :, 10:].sum(axis=0) > 0)
    with pytest.raises(kvlab.Error, match="not recorded"):
        stream.attention(1)


def test_reset_starts_over(model, story_ids):
    stream = model.stream(kv="h2o:budget=16")
    first = stream.feed(story_ids[:50])
    stream.reset()
    assert stream.position == 0 and stream.kv_bytes == 0
    assert np.array_equal(stream.feed(story_ids[:50]), first)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.stream(kv="h2o:budgt=3"), "--kv: h2o"),
        (lambda m: m.stream(kv="nosuch:budget=3"), "nosuch"),
        (lambda m: m.stream(kv=3), "kv: expected a policy spec"),
        (lambda m: m.stream().feed([1.5]), "ids: token ids must be integers"),
        (lambda m: m.stream().feed([-1]), "out of range"),
        (lambda m: m.stream().feed("hello"), "got a string"),
        (lambda m: m.stream().feed(np.zeros((2, 2), dtype=np.int32)), "1-D"),
        (lambda m: m.stream().feed([100000]), "vocab"),
        (lambda m: m.stream().feed([]), "no token ids"),
        (lambda m: m.stream().keys(99, 0), "layer: 99 is out of range"),
        (lambda m: m.stream().generate(), "prompt: the stream is empty"),
        (lambda m: m.stream().generate("x", temperature=-1), "temperature: must be >= 0"),
        (lambda m: m.stream().generate("x", top_p=0), "top_p"),
        (lambda m: m.stream().record_attention([7]), "layer 7 is out of range"),
        (lambda m: kvlab.load("no-such-model"), "no-such-model"),
        (lambda m: kvlab.load("stories260K", weights="f64"), "weights"),
    ],
)
def test_bad_arguments_raise_one_line_errors(model, call, message):
    with pytest.raises(kvlab.Error) as e:
        call(model)
    assert message in str(e.value)
    assert "\n" not in str(e.value)
    assert isinstance(e.value, ValueError)


def test_full_cache_refuses_past_its_context(model):
    stream = model.stream(context=8)
    stream.feed(list(range(1, 9)))
    with pytest.raises(kvlab.Error):
        stream.feed([5])


def test_numpy_ids_feed_like_a_list(model, story_ids):
    as_list = model.stream().feed(story_ids[:30])
    for dtype in (np.int32, np.int64, np.uint16):
        assert np.array_equal(model.stream().feed(np.array(story_ids[:30], dtype=dtype)), as_list)
    with pytest.raises(kvlab.Error, match="out of range"):
        model.stream().feed(np.array([1, -3], dtype=np.int64))
