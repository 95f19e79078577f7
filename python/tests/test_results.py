"""Tests of kvlab.results: rows shaped like `kvlab sweep` and the single commands' --json output."""

import copy
import json
import math
import re

import pytest

from kvlab import results

# A sweep row as `kvlab sweep` writes it (docs/SWEEP.md), cut to two fidelity layers; the variants below
# change only the fields the policy determines.
FULL = {
    "schema": 1, "id": "5ac6b2af36c545e5", "model": "stories260K", "text": "tinystories_val.txt",
    "tokens": 512, "ctx": 512, "seed": 1, "policy": "full", "policy_name": "full", "budget": None,
    "budget_fraction": None, "codec": None, "sketch_type": None, "sketch_width": None, "sketch_depth": None,
    "sketch_strategy": None, "sketch_topk": None, "ppl": 3.7106746382302056, "ppl_full": 3.7106746382302056,
    "ppl_ratio": 1.0, "kl_mean": 0.0, "top1": 1.0, "retained_mass": 1.0, "attn_kl": 0.0,
    "fidelity_layers": [
        {"layer": 0, "samples": 28, "attn_kl": 0.0, "retained_mass": 1.0, "attn_cosine": 1.0},
        {"layer": 1, "samples": 28, "attn_kl": 0.0, "retained_mass": 1.0, "attn_cosine": 1.0},
    ],
    "kv_bytes": 735840, "policy_bytes": 0, "kv_bytes_full": 735840, "kv_ratio": 1.0,
    "decode_tok_s": 10617.56, "decode_ms_per_token": 0.0942,
    "ms_per_token_by_ctx": {"64": 0.0356, "128": 0.0441, "256": 0.0636},
    "git_rev": "d9a2dd5", "timestamp": "2026-12-06T02:21:50Z",
}


def variant(**fields):
    row = copy.deepcopy(FULL)
    row.update(fields)
    return row


H2O = variant(policy="h2o:budget=64,recent=16", policy_name="h2o", budget=64, budget_fraction=0.125,
              kl_mean=0.1499, kv_bytes=87840, policy_bytes=4880, kv_ratio=0.12600565340291367,
              fidelity_layers=[{"layer": 0, "samples": 28, "attn_kl": 0.88, "retained_mass": 0.90},
                               {"layer": 1, "samples": 28, "attn_kl": 0.27, "retained_mass": 0.97}],
              ms_per_token_by_ctx={"256": 0.039, "64": 0.037, "128": 0.038})
TOPK = variant(policy="sketch:type=cms,width=128,depth=4,budget=64,recent=16,strategy=topk,topk=40,seed=1",
               policy_name="sketch", budget=64, budget_fraction=0.125, sketch_type="cms", sketch_width=128,
               sketch_depth=4, sketch_strategy="topk", sketch_topk=40, kv_bytes=87840, policy_bytes=42880,
               kv_ratio=0.177647314633616)
AGGREGATE = variant(policy="sketch:type=cms,width=256,depth=4,budget=128,recent=16,strategy=aggregate,seed=1",
                    policy_name="sketch", budget=128, budget_fraction=0.25, sketch_type="cms", sketch_width=256,
                    sketch_depth=4, sketch_strategy="aggregate", kv_bytes=184320, policy_bytes=85120,
                    kv_ratio=0.36617)
QUANT = variant(policy="quant:k=int4,v=int4,group=32,residual=0", policy_name="quant", codec="int4",
                kv_bytes=327040, kv_ratio=0.4444444444444444)
H2O_QUANT = variant(policy="h2o:budget=256,recent=16+quant:k=int4,v=int4,group=32,residual=0",
                    policy_name="h2o+quant", budget=256, budget_fraction=0.5, codec="int4", kv_bytes=158080,
                    policy_bytes=19760, kv_ratio=0.2416)
# A measurement without the speed depths (speed_depths = []): no ms_per_token_by_ctx key at all.
NO_DEPTHS = variant(policy="window:budget=128", policy_name="window", budget=128, budget_fraction=0.25,
                    kv_bytes=184320, kv_ratio=0.25048923679060664)
del NO_DEPTHS["ms_per_token_by_ctx"]

ROWS = [FULL, H2O, TOPK, AGGREGATE, QUANT, H2O_QUANT, NO_DEPTHS]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return path


@pytest.fixture
def sweep(tmp_path):
    return write_jsonl(tmp_path / "quick.jsonl", ROWS)


def test_one_row_per_result_with_fields_as_written(sweep):
    df = results.load(sweep)
    assert len(df) == len(ROWS)
    assert list(df["policy"]) == [r["policy"] for r in ROWS]
    assert df.loc[1, "kl_mean"] == pytest.approx(0.1499)
    assert df.loc[0, "ppl"] == FULL["ppl"]
    assert math.isnan(df.loc[0, "budget"])  # null: the full cache has no budget
    # Nested fields stay whole, one object per cell.
    assert df.loc[1, "fidelity_layers"] == H2O["fidelity_layers"]
    assert df.loc[1, "ms_per_token_by_ctx"] == H2O["ms_per_token_by_ctx"]
    assert list(df["source_line"]) == list(range(1, len(ROWS) + 1))
    assert set(df["source_file"]) == {str(sweep)}


def test_accepts_str_path_and_list(sweep, tmp_path):
    other = write_jsonl(tmp_path / "more.jsonl", [H2O])
    assert len(results.load(str(sweep))) == len(ROWS)
    both = results.load([sweep, other])
    assert len(both) == len(ROWS) + 1
    assert both.iloc[-1]["source_file"] == str(other)
    assert both.iloc[-1]["source_line"] == 1


def test_strategy_separates_sketch_topk_from_aggregate(sweep):
    df = results.load(sweep)
    assert list(df["strategy"]) == ["full", "h2o", "sketch-topk", "sketch-aggregate", "quant", "h2o+quant",
                                    "window"]


def test_label_names_budget_fraction_sketch_and_codec(sweep):
    df = results.load(sweep)
    assert list(df["label"]) == ["full", "h2o 1/8", "sketch cms-128 topk 1/8", "sketch cms-256 aggregate 1/4",
                                 "quant int4", "h2o+quant 1/2 int4", "window 1/4"]


def test_memory_and_compression(sweep):
    df = results.load(sweep)
    assert list(df["memory_bytes"]) == [r["kv_bytes"] + r["policy_bytes"] for r in ROWS]
    assert df.loc[0, "compression"] == 1.0
    assert df.loc[1, "compression"] == pytest.approx(1 / H2O["kv_ratio"])


def test_layers_long_table(sweep):
    df = results.load(sweep)
    long = results.layers(df)
    assert len(long) == sum(len(r["fidelity_layers"]) for r in ROWS)
    h2o = long[long["policy"] == H2O["policy"]].sort_values("layer")
    assert list(h2o["layer"]) == [0, 1]
    assert list(h2o["attn_kl"]) == [0.88, 0.27]
    assert set(h2o["row"]) == {1}
    assert set(h2o["strategy"]) == {"h2o"} and set(h2o["model"]) == {"stories260K"}


def test_explode_skips_rows_without_the_list(tmp_path):
    no_fidelity = copy.deepcopy(H2O)
    del no_fidelity["fidelity_layers"]
    df = results.load(write_jsonl(tmp_path / "r.jsonl", [no_fidelity, FULL]))
    long = results.explode(df, "fidelity_layers")
    assert set(long["row"]) == {1}
    with pytest.raises(KeyError, match="task_cells"):
        results.explode(df, "task_cells")


def test_latency_long_table_sorted_by_depth(sweep):
    df = results.load(sweep)
    lat = results.latency(df)
    h2o = lat[lat["row"] == 1]
    assert list(h2o["depth"]) == [64, 128, 256]  # written 256, 64, 128
    assert list(h2o["ms_per_token"]) == [0.037, 0.038, 0.039]
    assert h2o["tok_s"].iloc[0] == pytest.approx(1000 / 0.037)
    assert set(h2o["field"]) == {"ms_per_token_by_ctx"}
    assert 6 not in set(lat["row"])  # no ms_per_token_by_ctx, no decode depth given: no points


def test_latency_adds_decode_ms_per_token_at_the_given_depth(sweep):
    df = results.load(sweep)
    lat = results.latency(df, decode_depth=480)
    full = lat[lat["row"] == 0]
    assert list(full["depth"]) == [64, 128, 256, 480]
    assert full["ms_per_token"].iloc[-1] == FULL["decode_ms_per_token"]
    assert full["field"].iloc[-1] == "decode_ms_per_token"
    assert list(lat[lat["row"] == 6]["depth"]) == [480]
    # A depth the by-ctx table already has keeps the by-ctx point.
    again = results.latency(df, decode_depth=128)
    assert list(again[again["row"] == 0]["ms_per_token"]) == [0.0356, 0.0441, 0.0636]


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(FULL), json.dumps(H2O), '{"model": "stories260K", "ppl": 3.9,,}', json.dumps(TOPK)]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}:3:")):
        results.load(path)


def test_line_numbers_count_blank_lines(tmp_path):
    path = tmp_path / "blank.jsonl"
    path.write_text(json.dumps(FULL) + "\n\n" + json.dumps(H2O) + "\n" + "[1, 2]\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}:4: expected a JSON object")):
        results.load(path)
    path.write_text(json.dumps(FULL) + "\n\n" + json.dumps(H2O) + "\n")
    assert list(results.load(path)["source_line"]) == [1, 3]


def test_partial_last_line_of_a_killed_sweep(tmp_path):
    path = tmp_path / "killed.jsonl"
    path.write_text(json.dumps(FULL) + "\n" + json.dumps(H2O)[:40])
    with pytest.raises(ValueError, match=re.escape(f"{path}:2:") + ".*--resume"):
        results.load(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.jsonl"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        results.load(path)
    with pytest.raises(FileNotFoundError):
        results.load([write_jsonl(tmp_path / "ok.jsonl", [FULL]), path])


def test_empty_file_and_no_files(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        results.load(path)
    with pytest.raises(ValueError):
        results.load([])


# The single commands: `kvlab ppl --json FILE` pretty-prints one object (trimmed here).
PPL = {
    "command": "ppl", "model": "stories260K", "text": "tinystories_val.txt", "ctx": 512, "tokens": 127,
    "kv": "h2o:budget=64,recent=16", "ppl": 4.019230062206627, "ppl_full": 3.926638229802445,
    "ppl_ratio": 1.0235804336904346, "kl_mean": 0.0042874020298353036, "top1_agreement": 0.9921259842519685,
    "kv_bytes": 92160, "policy_bytes": 5120, "kv_bytes_full": 182880, "nll_curve": [],
}
FIDELITY = {
    "command": "fidelity", "model": "stories260K", "epsilon": 1e-06,
    "kv": "sketch:type=cms,width=128,depth=4,budget=64,recent=16,strategy=topk,topk=40,seed=0"
          "+quant:k=int8,v=int4,group=32,residual=0",
    "mean": {"layer": -1, "head": -1, "samples": 4, "kl": 0.154, "cosine": 0.9989, "l1": 0.0486, "l2": 0.013,
             "retained_mass": 0.979, "argmax_agreement": 1.0, "output_rel_error": 0.05},
    "layers": [{"layer": 2, "head": -1, "samples": 4, "kl": 0.154, "cosine": 0.9989, "retained_mass": 0.979}],
    "heads": [{"layer": 2, "head": h, "samples": 4, "kl": 0.1 * h} for h in range(2)],
}
BENCH = {  # `kvlab bench --json` prints one compact line
    "kv": "full", "model": "stories260K", "decode_ms_per_token": 0.0578, "depth": 128,
    "by_depth": [{"depth": 128, "decode_ms_per_token": 0.0578}, {"depth": 1024, "decode_ms_per_token": 0.21}],
}


def test_single_pretty_printed_object(tmp_path):
    path = tmp_path / "ppl.json"
    path.write_text(json.dumps(PPL, indent=2, sort_keys=True) + "\n")
    df = results.load(path)
    assert len(df) == 1
    row = df.iloc[0]
    assert row["ppl"] == PPL["ppl"] and row["kv"] == PPL["kv"]
    assert row["policy"] == PPL["kv"] and row["policy_name"] == "h2o" and row["strategy"] == "h2o"
    assert row["top1"] == PPL["top1_agreement"]
    assert row["budget"] == 64 and row["budget_fraction"] == 0.125 and row["label"] == "h2o 1/8"
    assert row["nll_curve"] == []


def test_malformed_pretty_printed_object_names_its_line(tmp_path):
    path = tmp_path / "ppl.json"
    text = json.dumps(PPL, indent=2, sort_keys=True).replace('"kl_mean":', '"kl_mean"', 1)
    bad_line = next(i for i, line in enumerate(text.splitlines(), 1) if '"kl_mean"' in line)
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(f"{path}:{bad_line}:")):
        results.load(path)


def test_fidelity_object_gets_the_sweep_names(tmp_path):
    path = tmp_path / "fid.json"
    path.write_text(json.dumps(FIDELITY, indent=2))
    df = results.load(path)
    row = df.iloc[0]
    assert row["attn_kl"] == 0.154 and row["attn_cosine"] == 0.9989 and row["retained_mass"] == 0.979
    assert row["fidelity_epsilon"] == 1e-06
    assert row["policy_name"] == "sketch+quant" and row["strategy"] == "sketch-topk+quant"
    assert row["codec"] == "int8/int4" and row["sketch_type"] == "cms" and row["sketch_width"] == 128
    long = results.layers(df)
    assert list(long["layer"]) == [2] and list(long["attn_kl"]) == [0.154]
    assert len(results.explode(df, "heads")) == 2


def test_bench_line_gives_latency_by_depth(tmp_path):
    path = write_jsonl(tmp_path / "bench.json", [BENCH])
    lat = results.latency(results.load(path))
    assert list(lat["depth"]) == [128, 1024]
    assert list(lat["ms_per_token"]) == [0.0578, 0.21]


def test_latency_uses_the_decode_depth_a_row_records(tmp_path):
    path = tmp_path / "depth.jsonl"
    row = dict(FULL, decode_depth=480)
    path.write_text(json.dumps(row) + "\n" + json.dumps(H2O) + "\n")
    lat = results.latency(results.load(path))
    assert list(lat[lat["row"] == 0]["depth"]) == [64, 128, 256, 480]  # no decode_depth argument needed
    assert list(lat[lat["row"] == 1]["depth"]) == [64, 128, 256]       # an older row without the field
