"""The evaluations from Python return what the CLI's --json prints, number for number."""

import json
import subprocess

import pytest

import kvlab

# Fields that describe the run rather than the measurement (time, host, the program's own revision).
PROVENANCE = {"timestamp", "git_rev", "hostname", "machine", "cpu", "cores", "kvlab_version"}


def cli_json(program, *args):
    out = subprocess.run([str(program), *args, "-t", "1", "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def assert_same_measurements(py, cli):
    keys = set(cli) - PROVENANCE
    assert keys <= set(py), keys - set(py)
    for k in keys:
        assert py[k] == cli[k], (k, py[k], cli[k])  # exact: the same doubles


def test_perplexity_and_kl_equal_the_cli(model, kvlab_program):
    kvlab.set_threads(1)
    args = dict(text="tinystories_val.txt", kv="h2o:budget=48,recent=8", max_tokens=200, vs_full=True, curve_block=50)
    py = kvlab.perplexity(model, **args)
    cli = cli_json(kvlab_program, "ppl", "-m", "stories260K", "--text", args["text"], "--kv", args["kv"],
                   "--max-tokens", "200", "--vs-full", "--curve-block", "50")
    assert_same_measurements(py, cli)
    assert py["kl_mean"] > 0 and py["tokens_evaluated"] == 199


def test_a_wikitext_article_under_a_ratio_equals_the_cli(model, kvlab_program):
    kvlab.set_threads(1)
    args = dict(text="wikitext-2:3", kv="h2o:ratio=0.25,recent=8", max_tokens=200)
    py = kvlab.perplexity(model, **args)
    cli = cli_json(kvlab_program, "ppl", "-m", "stories260K", "--text", args["text"], "--kv", args["kv"],
                   "--max-tokens", "200")
    assert_same_measurements(py, cli)
    assert py["text"] == "wikitext-2:3" and py["kv"] == "h2o:ratio=0.25,recent=8"


def test_windowed_perplexity_of_ids_equals_the_cli(model, kvlab_program, story_ids, tmp_path):
    kvlab.set_threads(1)
    ids_file = tmp_path / "ids.json"
    ids_file.write_text(json.dumps(story_ids))
    py = kvlab.perplexity(model, ids=story_ids, windowed=True, ctx=128)
    cli = cli_json(kvlab_program, "ppl", "-m", "stories260K", "--ids", str(ids_file), "--windowed", "-c", "128")
    del cli["text"]  # the CLI names the ids file, Python says "ids"
    assert_same_measurements(py, cli)


def test_fidelity_equals_the_cli(model, kvlab_program):
    kvlab.set_threads(1)
    py = kvlab.fidelity(model, text="tinystories_val.txt", kv="snapkv:budget=64,window=8", layers=[1, 4],
                        max_tokens=256)
    cli = cli_json(kvlab_program, "fidelity", "-m", "stories260K", "--text", "tinystories_val.txt", "--kv",
                   "snapkv:budget=64,window=8", "--layers", "1,4", "--max-tokens", "256")
    assert_same_measurements(py, cli)
    assert [l["layer"] for l in py["layers"]] == [1, 4]


def test_gen_compare_equals_the_cli(model, kvlab_program):
    kvlab.set_threads(1)
    prompts = ["Once upon a time", "The little dog"]
    py = kvlab.gen_compare(model, prompts, kv="window:budget=16", max_new_tokens=24)
    cli = cli_json(kvlab_program, "gen-compare", "-m", "stories260K", "-p", prompts[0], "-p", prompts[1], "--kv",
                   "window:budget=16", "-n", "24")
    del cli["text"]
    assert_same_measurements(py, cli)


def test_bench_measures_both_phases(model):
    r = kvlab.bench(model, kv="h2o:budget=64", prompt_tokens=32, gen_tokens=8, depth=64, repetitions=1)
    assert r["prefill_tok_s"] > 0 and r["decode_tok_s"] > 0
    assert r["kv_bytes"] > 0 and r["policy_bytes"] > 0 and r["weight_bytes"] > 0
    assert "membw_gb_s" not in r
    # Where a decode step went (StepPhases, eval/bench.h): the mat-vecs' and the attention's regions ran.
    assert r["phases"]["weights_ms"] > 0 and r["phases"]["attention_ms"] > 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: kvlab.perplexity(m), "give exactly one of text and ids"),
        (lambda m: kvlab.perplexity(m, text="no-such-text.txt"), "text: no-such-text.txt"),
        (lambda m: kvlab.perplexity(m, ids=[1, 2, 3], kv="window"), "window"),
        (lambda m: kvlab.fidelity(m, text="tinystories_val.txt", layers=[9]), "9"),
        (lambda m: kvlab.gen_compare(m, []), "prompts: no prompts"),
        (lambda m: kvlab.bench(m, repetitions=0), "repetitions"),
        (lambda m: kvlab.policy_spec("h2o:budget=x"), "budget"),
    ],
)
def test_bad_evaluation_arguments_raise(model, call, message):
    with pytest.raises(kvlab.Error, match=message):
        call(model)


def test_policies_lists_the_registry():
    names = kvlab.policies()
    assert {"full", "window", "h2o", "snapkv", "sketch", "quant"} <= set(names)
    assert kvlab.policy_spec("h2o:recent=4,budget=64") == "h2o:budget=64,recent=4"
    assert kvlab.policy_spec("sinks:budget=64") == "sinks:budget=64,sinks=4"  # a default that matters
