"""Policies written in Python: the same slots as the C++ policy they reimplement, and clean failures."""

import numpy as np
import pytest

import kvlab


def held_positions(stream, config):
    return [stream.positions(l, h).tolist() for l in range(config["n_layers"]) for h in range(config["n_kv_heads"])]


@pytest.mark.parametrize("max_batch, step", [(1, 1), (16, 16), (64, 37)])
def test_python_h2o_keeps_exactly_the_slots_h2o_keeps(model, story_ids, max_batch, step):
    # stories260K has 8 query heads over 4 kv heads, so each kv head's score sums two heads' rows.
    py = model.stream(kv=kvlab.H2O(budget=40, recent=8), max_batch=max_batch)
    cpp = model.stream(kv="h2o:budget=40,recent=8", max_batch=max_batch)
    compared = 0
    for i in range(0, 256, step):
        chunk = story_ids[i:i + step]
        a, b = py.feed(chunk), cpp.feed(chunk)
        assert held_positions(py, model.config) == held_positions(cpp, model.config), f"after token {i + len(chunk)}"
        assert np.array_equal(a, b)
        compared += 1
    assert compared > 3 and py.slots.max() <= 40


class NewestFirst(kvlab.ScorePolicy):
    """Scores by position alone, so the result is a sliding window: checks what score() is handed."""

    def __init__(self, **kw):
        super().__init__(attention=False, **kw)
        self.calls = []

    def score(self, layer, kv_head, attention, keys, positions):
        self.calls.append((layer, kv_head, attention.shape, keys.shape, positions.copy()))
        assert keys.dtype == np.float32 and positions.dtype == np.int32 and not attention.any()
        return positions.astype(np.float64)


def test_score_gets_keys_and_positions_and_its_scores_decide(model, story_ids):
    policy = NewestFirst(budget=32, chunk=0)
    stream = model.stream(kv=policy, max_batch=1)
    window = model.stream(kv="window:budget=32", max_batch=1)
    for t in story_ids[:80]:
        stream.feed([t])
        window.feed([t])
    assert held_positions(stream, model.config) == held_positions(window, model.config)
    layer, head, att_shape, key_shape, positions = policy.calls[-1]
    assert key_shape == (33, model.config["head_dim"]) and att_shape == (33,)
    assert positions.tolist() == list(range(80 - 33, 80))
    assert stream.spec == "python.NewestFirst:budget=32,chunk=0"


class AttentionSum(kvlab.ScorePolicy):
    def score(self, layer, kv_head, attention, keys, positions):
        self.last_attention = attention.copy()
        return attention


def test_score_gets_the_attention_since_the_last_score(model, story_ids):
    policy = AttentionSum(budget=16, chunk=0)
    stream = model.stream(kv=policy, max_batch=1)
    stream.feed(story_ids[:40])
    # chunk=0: scored after every token, so the attention is that of one query over 2 query heads.
    assert abs(policy.last_attention.sum() - 2.0) < 1e-4


class Broken(kvlab.ScorePolicy):
    def __init__(self, result, **kw):
        super().__init__(**kw)
        self.result = result

    def score(self, layer, kv_head, attention, keys, positions):
        if self.result == "raise":
            raise ZeroDivisionError("policy bug")
        return self.result(len(positions))


@pytest.mark.parametrize(
    "result, error, message",
    [
        (lambda n: np.zeros(n + 1), kvlab.Error, "Broken.score: returned 18 scores"),
        (lambda n: np.full(n, np.nan), kvlab.Error, "returned NaN"),
        (lambda n: "high", kvlab.Error, ""),
        ("raise", ZeroDivisionError, "policy bug"),
    ],
)
def test_a_failing_policy_raises_and_the_stream_must_be_reset(model, story_ids, result, error, message):
    stream = model.stream(kv=Broken(result, budget=16, chunk=0), max_batch=1)
    with pytest.raises(error, match=message):
        for t in story_ids[:40]:
            stream.feed([t])
    with pytest.raises(kvlab.Error, match="call reset"):
        stream.feed([1])
    stream.reset()
    assert stream.position == 0


def test_policy_arguments_are_checked_as_a_spec_is(model):
    with pytest.raises(kvlab.Error, match="budget"):
        model.stream(kv=NewestFirst(budget=8, sinks=6, recent=6))
    with pytest.raises(kvlab.Error, match="nosuchkey"):
        model.stream(kv=NewestFirst(budget=32, nosuchkey=1))
    with pytest.raises(NotImplementedError):
        model.stream(kv=kvlab.ScorePolicy(budget=8, chunk=0), max_batch=1).feed(list(range(1, 20)))


def test_wrappers_apply_to_python_policies(model, story_ids):
    stream = model.stream(kv=NewestFirst(budget=32, layers="pyramid"))
    stream.feed(story_ids[:200])
    slots = stream.slots
    assert slots[0, 0] > slots[-1, 0]  # pyramid: more slots in early layers
