"""KV-cache policies written in Python.

Subclass :class:`ScorePolicy` and implement :meth:`ScorePolicy.score`; kvlab keeps the rest in C++ (the
attention sinks, the recent window, the budget, chunked eviction, per-layer and per-head budgets)::

    class KeyNorm(kvlab.ScorePolicy):
        def score(self, layer, kv_head, attention, keys, positions):
            return -np.linalg.norm(keys, axis=1)      # keep the keys with the smallest norm

    stream = model.stream(kv=KeyNorm(budget=64, sinks=4, recent=16))

A policy instance belongs to one stream at a time. Its calls run under the GIL, one at a time, on the
thread that fed the stream; docs/PYTHON.md measures what they cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ScorePolicy:
    """Base class of score-based eviction policies written in Python.

    Args:
        budget: slots kept per (layer, kv head).
        sinks: the first ``sinks`` positions of the stream are always kept.
        recent: the ``recent`` newest slots are always kept.
        chunk: evict down to ``budget - chunk`` once the budget is exceeded, so eviction (and ``score``)
            runs once every ``chunk + 1`` tokens; ``None``: budget/8, as the C++ policies; 0: every token.
        attention: whether ``score`` needs attention (``False`` makes the forward pass skip gathering it).
        **options: the other keys of a scored policy's spec, as strings or numbers: ``layers``
            (e.g. ``"pyramid"``), ``heads`` (``"adaptive"``), ``schedule``, ``every``, ``rerotate``
            (docs/POLICIES.md).
    """

    def __init__(self, budget: int, sinks: int = 0, recent: int = 0, chunk: int | None = None,
                 attention: bool = True, **options: Any) -> None:
        self.budget = budget
        self.sinks = sinks
        self.recent = recent
        self.chunk = chunk
        self.attention = attention
        self.options = dict(options)

    def score(self, layer: int, kv_head: int, attention: np.ndarray, keys: np.ndarray,
              positions: np.ndarray) -> np.ndarray:
        """Scores the live slots of one head when eviction runs; higher = more worth keeping.

        Args:
            layer, kv_head: which head.
            attention: float32 [slots], the attention each slot received since this head was last scored
                (every query of those chunks, summed over the query heads reading this kv head); zeros
                when built with ``attention=False``.
            keys: float32 [slots, head_dim], the keys after RoPE.
            positions: int32 [slots], the original positions of the slots (ascending).

        Returns:
            [slots] scores (anything numpy turns into float32; NaN is refused). Sinks and the recent
            window are kept whatever their score.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement score()")

    def observe(self, layer: int, kv_head: int, attention: np.ndarray, positions: np.ndarray) -> None:
        """Optional: sees every attention row of every chunk, for statistics that need each row.

        Called after each chunk of tokens for every (layer, kv head), only if a subclass defines it.

        Args:
            attention: float32 [rows, slots], one row per (query of the chunk, query head reading this
                kv head), in that order, as the C++ policies see them.
            positions: int32 [slots], the original positions of the columns.
        """

    def reset(self) -> None:
        """Called when a stream starts (or restarts) with this policy: clear per-stream state here."""


class H2O(ScorePolicy):
    """H2O (Zhang et al., NeurIPS 2023) in Python: a slot's score is all the attention it has received.

    The same numbers as the C++ ``h2o`` policy: each row is added in the order the C++ policy adds it,
    so a stream keeps exactly the slots ``h2o`` keeps (python/tests/test_policy.py).
    """

    def reset(self) -> None:
        self._totals: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def observe(self, layer, kv_head, attention, positions):
        total = _aligned(self._totals.get((layer, kv_head)), positions)
        for row in attention:  # one float32 add per row, as C++ does: the sums agree to the bit
            total += row
        self._totals[(layer, kv_head)] = (positions.copy(), total)

    def score(self, layer, kv_head, attention, keys, positions):
        return _aligned(self._totals.get((layer, kv_head)), positions)


def _aligned(state: tuple[np.ndarray, np.ndarray] | None, positions: np.ndarray) -> np.ndarray:
    """Per-slot totals of ``state`` (positions, totals) moved onto ``positions``; new slots start at 0."""
    out = np.zeros(len(positions), dtype=np.float32)
    if state is None:
        return out
    old_pos, old_total = state
    index = np.searchsorted(old_pos, positions)
    index = np.minimum(index, len(old_pos) - 1)
    found = old_pos[index] == positions if len(old_pos) else np.zeros(len(positions), dtype=bool)
    out[found] = old_total[index[found]]
    return out
