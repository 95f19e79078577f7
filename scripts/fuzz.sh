#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ with Debian's clang (ASan + UBSan) and runs each for
# FUZZ_SECONDS (default 20), with libFuzzer seed FUZZ_SEED (default 1), from a seed corpus of the real files
# in $KVLAB_ASSETS. A crash, a leak, a sanitizer report or a hang (> 5 s on one input) fails the run;
# libFuzzer leaves the input as crash-*/timeout-* in build-fuzz/. Called by scripts/test.sh; run it alone
# with a larger FUZZ_SECONDS (and FUZZ_SEED=0) for a longer search.
set -euo pipefail
cd "$(dirname "$0")/.."
export KVLAB_ASSETS="${KVLAB_ASSETS:-$(cd .. && pwd)/shared}"
SECONDS_EACH="${FUZZ_SECONDS:-20}"
# libFuzzer's random seed: fixed by default, so that a test run explores the same inputs each time and a
# failure in CI is one anyone can reproduce; FUZZ_SEED=0 lets libFuzzer pick one (a longer search).
SEED="${FUZZ_SEED:-1}"
OUT=build-fuzz
mkdir -p "$OUT"
CXXFLAGS=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc)

# target name -> the library sources it needs (only those: a whole-library clang build would double CI time).
declare -A SOURCES=(
  [hf_config_fuzz]="src/kvlab/model/hf_config.cc src/kvlab/model/config.cc src/kvlab/ops/rope_frequencies.cc src/kvlab/util/mapped_file.cc"
  [tokenizer_json_fuzz]="$(printf 'src/kvlab/tokenizer/%s.cc ' hf_tokenizer_json hf_normalizer hf_pre_tokenizer hf_decoder \
      added_tokens bpe_merges byte_level regex utf8 unicode_normalize word_cache json_file tokenizer_decode) src/kvlab/util/mapped_file.cc"
  [jinja_fuzz]="$(echo src/kvlab/template/*.cc)"
  [task_file_fuzz]="src/kvlab/tasks/task_file.cc src/kvlab/tasks/task_spec.cc src/kvlab/tasks/task_template.cc src/kvlab/util/toml_guard.cc"
  [wikitext_fuzz]="src/kvlab/eval/wikitext.cc"
)
# target name -> extra libraries it links
declare -A LIBS=(
  [tokenizer_json_fuzz]="-lpcre2-8 -lutf8proc"
)
# target name -> how to gather its seeds into a corpus directory ($1).
seed_hf_config_fuzz() {
  for d in "$KVLAB_ASSETS"/models/*/ "$KVLAB_ASSETS"/models/arch-zoo/*/; do
    if [ -f "$d/config.json" ]; then cp "$d/config.json" "$1/$(basename "$d").json"; fi
  done
}
# The chat templates of the shared tokenizers, as template text.
seed_jinja_fuzz() {
  for d in "$KVLAB_ASSETS"/tokenizers/*/; do
    if [ -f "$d/tokenizer_config.json" ]; then
      python3 -c 'import json, sys
t = json.load(open(sys.argv[1])).get("chat_template")
if isinstance(t, list): t = next((e["template"] for e in t if e.get("name") == "default"), t[0]["template"])
if isinstance(t, str): open(sys.argv[2], "w").write(t)' "$d/tokenizer_config.json" "$1/$(basename "$d").jinja"
    fi
  done
}

# The first articles of the WikiText-2 test split, cut to a few KB each (the whole file would make each run
# slow), with the CRLF variant of one.
seed_wikitext_fuzz() {
  local raw="$KVLAB_ASSETS/text/wikitext-2/wiki.test.raw"
  if [ -f "$raw" ]; then
    head -c 4000 "$raw" >"$1/head.raw"
    head -c 4000 "$raw" | sed 's/$/\r/' >"$1/head_crlf.raw"
    tail -c 3000 "$raw" >"$1/tail.raw"
  fi
  printf ' = A = \n = = B = = \n text\n = C = ' >"$1/small.raw"
}

# The shipped task files, and one table that sets every field (so mutations start from each key).
seed_task_file_fuzz() {
  cp configs/tasks/*.toml "$1/"
  cat >"$1/every_field.toml" <<'TOML'
[[task]]
name = "every"
kind = "needle"
description = "d"
instruction = "{Some} {values} {are} {{x}}\n"
needle = "N {key}={value}"
question = "Q {query} {are_all} {num_answers}"
question_before = "B {query}\n"
answer_prefix = "A"
value_noun = "codes"
value_noun_singular = "code"
key = "uuids"
value = "letters"
key_digits = 3
value_digits = 9
keys = 5
values_per_key = 2
queries = 2
chains = 3
hops = 6
num_common = 12
freq_common = 40
freq_uncommon = 4
coded_length = 8
alpha = 2.5
haystack = "needles"
haystack_file = "moby-dick.txt"
haystack_begin = 0.25
haystack_end = 0.75
lowercase = true
normalize_whitespace = false
noise_text = "noise."
insert_at = "word"
needle_separator = "|"
max_new_tokens = 99
score = "all"
[[task]]
name = "vt2"
base = "vt"
chains = 2
[[task]]
name = "cwe_small"
base = "cwe"
freq_common = 5
freq_uncommon = 2
TOML
}

# Small tokenizer.json files in the shape of each shared family's: its pipeline and added tokens, with a
# vocabulary and merges cut down to a few hundred entries (the real 9-33 MB files would make each run take
# seconds).
seed_tokenizer_json_fuzz() {
  python3 - "$1" "$KVLAB_ASSETS" <<'PY'
import json, pathlib, sys
out, assets = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
sources = [assets / "models/tinystories-656k/tokenizer.json"] + [assets / f"tokenizers/{n}/tokenizer.json" for n in ("llama3", "qwen3", "gemma3")]
for path in sources:
    if not path.is_file():
        continue
    j = json.loads(path.read_text(encoding="utf-8"))
    keep = dict(list(j["model"]["vocab"].items())[:400])
    for t in j.get("added_tokens") or []:
        keep.setdefault(t["content"], t["id"])
    j["model"]["vocab"] = keep
    def known(merge):
        pair = merge.split(" ", 1) if isinstance(merge, str) else merge
        return len(pair) == 2 and pair[0] in keep and pair[1] in keep and pair[0] + pair[1] in keep
    j["model"]["merges"] = [m for m in j["model"]["merges"][:5000] if known(m)]
    j["added_tokens"] = (j.get("added_tokens") or [])[:40]
    (out / f"{path.parent.name}.json").write_text(json.dumps(j, ensure_ascii=False), encoding="utf-8")
PY
}

# Build the targets side by side. A target's library sources are compiled as one translation unit (a file
# that includes them all): the templates they share are then compiled once, which halves the build
# (jinja_fuzz's 12 sources: 35 s instead of 73).
pids=()
for target in "${!SOURCES[@]}"; do
  unity="$OUT/${target}_sources.cc"
  : >"$unity"
  for source in ${SOURCES[$target]}; do echo "#include \"$PWD/$source\"" >>"$unity"; done
  # shellcheck disable=SC2086  # the library list is meant to split into words
  clang++ "${CXXFLAGS[@]}" "tests/fuzz/$target.cc" "$unity" -lfmt ${LIBS[$target]:-} -o "$OUT/$target" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done  # under set -e, a failed build ends the script here

# Seed every corpus, then fuzz JOBS targets at a time (default 2: one core each, so each run executes as
# many inputs as it would alone). A run prints its lines when it ends, so runs side by side do not interleave.
for target in "${!SOURCES[@]}"; do
  corpus="$OUT/$target-corpus"
  rm -rf "$corpus"
  mkdir -p "$corpus"
  "seed_$target" "$corpus"
done
fuzz_one() {  # TARGET
  local target="$1"
  if (cd "$OUT" && "./$target" -seed="$SEED" -max_total_time="$SECONDS_EACH" -timeout=5 -rss_limit_mb=2048 \
      -print_final_stats=1 "$target-corpus" 2>"$target.log"); then
    echo "[kvlab] fuzzed $target for ${SECONDS_EACH}s ($(ls "$OUT/$target-corpus" | wc -l) inputs in its corpus)"
    grep -E "stat::number_of_executed_units" "$OUT/$target.log" || true
  else
    tail -40 "$OUT/$target.log"
    echo "[kvlab] $target failed"
    return 1
  fi
}
export -f fuzz_one
export OUT SEED SECONDS_EACH
printf '%s\n' "${!SOURCES[@]}" | xargs -P "${JOBS:-2}" -I{} bash -c 'fuzz_one "$1"' _ {}
echo "[kvlab] fuzz targets passed"
