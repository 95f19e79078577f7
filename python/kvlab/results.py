"""Load kvlab result files into pandas DataFrames.

``kvlab sweep`` writes JSON Lines, one object per configuration (docs/SWEEP.md); ``kvlab ppl``,
``fidelity``, ``gen-compare`` and ``bench`` write one JSON object with ``--json`` (docs/METRICS.md).
:func:`load` reads either kind into one row per result: scalar fields become columns as they are, nested
fields (``fidelity_layers``, ``ms_per_token_by_ctx``, ``task_cells``, ...) stay as one Python object per
cell, and :func:`layers`, :func:`explode` and :func:`latency` turn those into long tables.

Pure Python (pandas only): it does not need the compiled extension.
"""

from __future__ import annotations

import json
import numbers
import os
from fractions import Fraction
from typing import Iterable, Union

import numpy as np
import pandas as pd

__all__ = ["load", "explode", "layers", "latency", "KEEP"]

PathLike = Union[str, "os.PathLike[str]"]

#: Columns :func:`explode`, :func:`layers` and :func:`latency` copy onto each long row (those present).
KEEP = ("model", "text", "ctx", "policy", "policy_name", "strategy", "label", "budget", "budget_fraction",
        "codec", "kv_ratio", "compression")

# The single commands name some quantities differently from a sweep row; these aliases give their rows the
# sweep's names as well, so the same analysis code reads both. The original keys are kept.
_FIDELITY_NAMES = {"kl": "attn_kl", "cosine": "attn_cosine", "l1": "attn_l1", "l2": "attn_l2"}


def load(path_or_paths: Union[PathLike, Iterable[PathLike]]) -> pd.DataFrame:
    """Read one or more kvlab result files into a DataFrame, one row per result.

    Each file is either JSON Lines (``kvlab sweep``: one object per line, blank lines ignored) or a single
    JSON object, compact or pretty-printed (``kvlab ppl|fidelity|gen-compare --json FILE``,
    ``kvlab bench --json > FILE``).

    Columns: every field of the rows, as written; ``source_file`` and ``source_line`` (where the row came
    from); and these derived ones, where the fields they need are present:

    - ``strategy``: ``policy_name`` with a sketch part named by its selection strategy (``sketch-topk``,
      ``sketch-aggregate``: two different policies, not points on one curve); e.g. ``h2o``, ``quant``,
      ``h2o+quant``.
    - ``label``: a short display name, e.g. ``h2o 1/8``, ``sketch cms-128 topk 1/4``, ``quant int8``. Not
      unique in general (parameters the grid did not vary are left out): ``policy`` is the unique key.
    - ``memory_bytes``: ``kv_bytes + policy_bytes``, the bytes ``kv_ratio`` divides by ``kv_bytes_full``.
    - ``compression``: ``1 / kv_ratio``, how many times smaller than the full f32 cache.

    Rows of the single commands also get the sweep's names for the same quantities, so one analysis reads
    both: ``policy`` (from ``kv``); ``policy_name``, ``budget``, ``budget_fraction`` (where the row has
    ``ctx``), ``codec``, ``sketch_type``, ``sketch_width`` and ``sketch_strategy`` (from the spec);
    ``top1`` (``top1_agreement``); ``fidelity_epsilon`` (``epsilon``); the ``attn_*`` means and
    ``fidelity_layers`` (fidelity's ``mean`` and ``layers``, whose ``kl``, ``cosine``, ``l1``, ``l2``
    become ``attn_kl``, ...); ``ms_per_token_by_ctx`` (bench's ``by_depth``).

    Raises FileNotFoundError for a missing file, and ValueError naming the file and line for a line that
    is not a JSON object, or for a file without any result.
    """
    if isinstance(path_or_paths, (str, os.PathLike)):
        paths = [path_or_paths]
    else:
        paths = list(path_or_paths)
        if not paths:
            raise ValueError("kvlab.results.load: no files given")
    rows = []
    for path in paths:
        rows.extend(_read_file(os.fspath(path)))
    df = pd.DataFrame.from_records(rows)
    return _add_derived(df)


def explode(df: pd.DataFrame, column: str, keep: Iterable[str] = KEEP) -> pd.DataFrame:
    """Long table of a column whose cells are lists of dicts: one row per list element.

    Each element's keys become columns, next to the ``keep`` columns of its result (those present in
    ``df``) and ``row``, the result's index in ``df`` (to join back). Results whose cell is not a list
    (metric not measured) contribute no rows. Works for ``fidelity_layers``, ``task_cells``, fidelity's
    ``heads``, ``per_prompt`` of gen-compare, bench's ``by_depth``.
    """
    if column not in df.columns:
        raise KeyError(f"no column {column!r} in the results")
    keep = [c for c in keep if c in df.columns and c != column]
    out = []
    for idx, row in df.iterrows():
        cell = row[column]
        if not isinstance(cell, list):
            continue
        base = {"row": idx, **{c: row[c] for c in keep}}
        for item in cell:
            if not isinstance(item, dict):
                raise ValueError(f"{_where(row)}: {column} holds a {type(item).__name__}, not an object")
            out.append({**base, **item})
    return pd.DataFrame.from_records(out, columns=None if out else ["row", *keep])


def layers(df: pd.DataFrame, keep: Iterable[str] = KEEP) -> pd.DataFrame:
    """Per-layer attention fidelity as a long table: one row per (result, layer).

    Columns: ``row``, the ``keep`` columns, ``layer``, ``samples`` and the metrics of ``fidelity_layers``
    (``attn_kl``, ``retained_mass``, ``attn_cosine``, ``attn_l1``, ``attn_l2``, ``argmax_agreement``,
    ``output_rel_error``), each a mean over that layer's heads and sampled queries (docs/METRICS.md).
    """
    return explode(df, "fidelity_layers", keep)


def latency(df: pd.DataFrame, decode_depth: int | None = None, keep: Iterable[str] = KEEP) -> pd.DataFrame:
    """Decode latency against context depth as a long table: one row per (result, depth).

    Points come from ``ms_per_token_by_ctx`` (``{depth: ms per token}``, the sweep's ``speed_depths``) and
    from ``decode_ms_per_token`` at the depth the row records in ``decode_depth`` (rows of older sweeps
    lack it: pass that depth, the sweep's ``speed_depth``, by default ``ctx - speed_gen_tokens``, as
    ``decode_depth``). A depth already in ``ms_per_token_by_ctx`` is not added twice.

    Columns: ``row`` (the result's index in ``df``), the ``keep`` columns, ``depth`` (tokens in the cache
    when the timed decode steps start), ``ms_per_token``, ``tok_s`` (1000 / ms_per_token) and ``field``
    (which field the point came from).
    """
    keep = [c for c in keep if c in df.columns]
    out = []
    for idx, row in df.iterrows():
        base = {"row": idx, **{c: row[c] for c in keep}}
        points = {}
        by_ctx = row.get("ms_per_token_by_ctx")
        if isinstance(by_ctx, dict):
            for key, ms in by_ctx.items():
                if not str(key).isdigit():
                    raise ValueError(f"{_where(row)}: ms_per_token_by_ctx: depth {key!r} is not a count")
                depth = int(key)
                points[depth] = (ms, "ms_per_token_by_ctx")
        main = row.get("decode_ms_per_token")
        depth = row.get("decode_depth")
        depth = int(depth) if _is_number(depth) else decode_depth
        if depth is not None and _is_number(main) and depth not in points:
            points[depth] = (main, "decode_ms_per_token")
        for depth in sorted(points):
            ms, field = points[depth]
            if not _is_number(ms):
                continue
            out.append({**base, "depth": depth, "ms_per_token": float(ms),
                        "tok_s": 1000.0 / ms if ms > 0 else float("nan"), "field": field})
    columns = ["row", *keep, "depth", "ms_per_token", "tok_s", "field"]
    return pd.DataFrame.from_records(out, columns=columns)


# ------------------------------------------------------------------------------------------------ reading

def _read_file(path: str) -> list[dict]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such results file")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    stripped = text.lstrip()
    rows = []
    # A pretty-printed object (the single commands' --json FILE) opens with a line holding only "{";
    # a JSON Lines row never does.
    if stripped.startswith("{") and stripped.splitlines()[0].strip() == "{":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        rows.append(_check_object(obj, path, 1))
    else:
        lines = text.split("\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                hint = ""
                if number == len(lines) and not text.endswith("\n"):
                    hint = "; a killed sweep leaves a partial last line: `kvlab sweep --resume` removes it"
                raise ValueError(f"{path}:{number}: not valid JSON ({e.msg}){hint}") from None
            rows.append(_check_object(obj, path, number))
    if not rows:
        raise ValueError(f"{path}: no results in the file")
    return rows


def _check_object(obj, path: str, line: int) -> dict:
    if not isinstance(obj, dict):
        raise ValueError(f"{path}:{line}: expected a JSON object, got {type(obj).__name__}")
    row = _sweep_names(obj)
    row["source_file"] = path
    row["source_line"] = line
    return row


def _sweep_names(obj: dict) -> dict:
    """Adds the sweep's names to a row of a single command; the command's own keys are kept, and a sweep
    row, which has none of them, comes back unchanged."""
    row = dict(obj)
    if "kv" in row:
        row.setdefault("policy", row["kv"])
    if isinstance(row.get("policy"), str) and "policy_name" not in row:
        _spec_fields(row)
    if "top1_agreement" in row:
        row.setdefault("top1", row["top1_agreement"])
    if row.get("command") == "fidelity":
        if "epsilon" in row:
            row.setdefault("fidelity_epsilon", row["epsilon"])
        if isinstance(row.get("mean"), dict):
            for key, value in row["mean"].items():
                if key not in ("layer", "head", "samples"):
                    row.setdefault(_FIDELITY_NAMES.get(key, key), value)
        if isinstance(row.get("layers"), list):
            row.setdefault("fidelity_layers", [
                {_FIDELITY_NAMES.get(k, k): v for k, v in layer.items() if k != "head"}
                for layer in row["layers"] if isinstance(layer, dict)])
    if isinstance(row.get("by_depth"), list):
        row.setdefault("ms_per_token_by_ctx", {
            str(d["depth"]): d["decode_ms_per_token"] for d in row["by_depth"]
            if isinstance(d, dict) and "depth" in d and "decode_ms_per_token" in d})
    return row


def _spec_fields(row: dict) -> None:
    """The sweep's spec-derived fields (docs/SWEEP.md) from a canonical spec such as
    ``h2o:budget=64,recent=16+quant:k=int4,v=int4,group=32``."""
    parts = []
    for part in row["policy"].split("+"):
        name, _, args = part.partition(":")
        parts.append((name, dict(a.partition("=")[::2] for a in args.split(",") if a)))
    row["policy_name"] = "+".join(name for name, _ in parts)
    # The budget of the first part that has one; the fraction needs the context, which ppl rows carry.
    budget = next((int(a["budget"]) for _, a in parts if a.get("budget", "").isdigit()), None)
    row.setdefault("budget", budget)
    if budget is not None and _is_number(row.get("ctx")) and row["ctx"] > 0:
        row.setdefault("budget_fraction", budget / row["ctx"])
    quant = next((a for name, a in parts if name == "quant"), None)
    if quant is not None:
        k, v = quant.get("k"), quant.get("v")
        row.setdefault("codec", k if k == v else f"{k}/{v}")
    sketch = next((a for name, a in parts if name == "sketch"), None)
    if sketch is not None:
        row.setdefault("sketch_type", sketch.get("type"))
        row.setdefault("sketch_strategy", sketch.get("strategy"))
        if sketch.get("width", "").isdigit():
            row.setdefault("sketch_width", int(sketch["width"]))


# -------------------------------------------------------------------------------------------- derived columns

def _add_derived(df: pd.DataFrame) -> pd.DataFrame:
    if "policy_name" in df.columns:
        df["strategy"] = [_strategy(r) for r in df.to_dict("records")]
        df["label"] = [_label(r) for r in df.to_dict("records")]
    if {"kv_bytes", "policy_bytes"} <= set(df.columns):
        df["memory_bytes"] = df["kv_bytes"] + df["policy_bytes"]
    if "kv_ratio" in df.columns:
        ratio = pd.to_numeric(df["kv_ratio"], errors="coerce")
        df["compression"] = 1.0 / ratio.where(ratio > 0)
    return df


def _strategy(r: dict):
    name = r.get("policy_name")
    if not isinstance(name, str):
        return None
    sketch = r.get("sketch_strategy")
    parts = [f"sketch-{sketch}" if p == "sketch" and isinstance(sketch, str) else p for p in name.split("+")]
    return "+".join(parts)


def _label(r: dict):
    name = r.get("policy_name")
    if not isinstance(name, str):
        return None
    words = [name]
    if "sketch" in name.split("+"):
        kind = r.get("sketch_type")
        width = r.get("sketch_width")
        if isinstance(kind, str):
            words.append(f"{kind}-{int(width)}" if _is_number(width) else kind)
        if isinstance(r.get("sketch_strategy"), str):
            words.append(r["sketch_strategy"])
    # The budget as the fraction of the context the config wrote ("1/8"), else in slots.
    fraction, budget = r.get("budget_fraction"), r.get("budget")
    exact = Fraction(fraction).limit_denominator(64) if _is_number(fraction) else None
    if exact is not None and abs(float(exact) - fraction) < 1e-9:
        words.append(f"{exact.numerator}/{exact.denominator}" if exact.denominator > 1 else str(exact))
    elif _is_number(budget):
        words.append(f"{int(budget)} slots")
    if isinstance(r.get("codec"), str):
        words.append(r["codec"])
    return " ".join(words)


def _is_number(x) -> bool:
    # numbers.Real covers numpy's scalars, which DataFrame rows hand out; x == x rejects NaN.
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)) and x == x


def _where(row) -> str:
    f, line = row.get("source_file"), row.get("source_line")
    return f"{f}:{line}" if isinstance(f, str) and _is_number(line) else "a result"
