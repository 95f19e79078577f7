#!/usr/bin/env bash
# Prefill (and optionally decode) side by side with llama.cpp on the same GGUF files: kvlab converts a
# Hugging Face directory to f32, bf16, f16 and q8_0 GGUF (`kvlab convert`), then `llama-bench` and
# `kvlab bench` run on each file in turn, alternating, for ROUNDS rounds, with the same thread count.
# llama.cpp is not part of kvlab: build it yourself and pass its llama-bench (BENCHMARKS.md gives the
# commit and build commands used for the published numbers).
#
# usage: scripts/compare-llamacpp.sh LLAMA_BENCH MODEL_DIR [OUT_DIR]
#   env: THREADS (2), ROUNDS (2), PROMPTS ("128,512"), TYPES ("f32 bf16 f16 q8_0"), KVLAB (build/kvlab)
# prints one markdown row per round, type and prompt length: both tokens/s and kvlab / llama.cpp.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 LLAMA_BENCH MODEL_DIR [OUT_DIR]" >&2
  exit 2
fi
llama_bench=$1
model=$2
out=${3:-${TMPDIR:-/tmp}/kvlab-vs-llamacpp}
threads=${THREADS:-2}
rounds=${ROUNDS:-2}
prompts=${PROMPTS:-128,512}
types=${TYPES:-f32 bf16 f16 q8_0}
kvlab=${KVLAB:-build/kvlab}
[ -x "$llama_bench" ] || { echo "$0: $llama_bench: not an executable" >&2; exit 2; }
[ -x "$kvlab" ] || { echo "$0: $kvlab: not built (run scripts/run.sh or cmake --build build)" >&2; exit 2; }
mkdir -p "$out"
for t in $types; do
  [ -f "$out/model-$t.gguf" ] || "$kvlab" convert "$model" -o "$out/model-$t.gguf" --type "$t" >/dev/null
done

echo "| round | type | test | llama.cpp tok/s | kvlab tok/s | kvlab / llama.cpp |"
echo "|---|---|---|---:|---:|---:|"
for round in $(seq 1 "$rounds"); do
  for t in $types; do
    file="$out/model-$t.gguf"
    # llama-bench: one JSON line per prompt length, tokens/s averaged over its 3 repetitions.
    llama_lines=$("$llama_bench" -m "$file" -p "$prompts" -n 0 -t "$threads" -r 3 -o jsonl 2>/dev/null)
    for p in ${prompts//,/ }; do
      llama=$(echo "$llama_lines" | jq -r "select(.n_prompt == $p) | .avg_ts")
      ours=$("$kvlab" bench -m "$file" -p "$p" -n 0 -t "$threads" -r 3 --no-membw --json | jq -r .prefill_tok_s)
      awk -v r="$round" -v t="$t" -v p="$p" -v a="$llama" -v b="$ours" \
        'BEGIN { printf "| %s | %s | pp%s | %.0f | %.0f | %.2f |\n", r, t, p, a, b, b / a }'
    done
  done
done
