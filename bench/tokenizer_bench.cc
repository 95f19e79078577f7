// Tokenizer encoding speed on a whole book ($KVLAB_ASSETS/text/moby-dick.txt, 1.25 MB), single thread,
// reported as bytes of text per second. The tokenizers' ids are checked against independent references in
// tests/golden; this only times them. Loading the vocabulary is outside the timed loop.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "kvlab/tokenizer/tokenizer.h"
#include "kvlab/util/assets.h"
#include "kvlab/util/mapped_file.h"

namespace {

void BM_EncodeMobyDick(benchmark::State& state, const std::string& tokenizer_path) {
  const std::filesystem::path assets = kvlab::AssetsDir();
  if (assets.empty()) {
    state.SkipWithError("no assets directory (set KVLAB_ASSETS)");
    return;
  }
  const std::unique_ptr<kvlab::Tokenizer> tokenizer = kvlab::LoadTokenizerFile(assets / tokenizer_path);
  const std::string text = kvlab::ReadTextFile(assets / "text" / "moby-dick.txt");
  size_t tokens = 0;
  for (auto _ : state) {
    const std::vector<int32_t> ids = tokenizer->Encode(text, false);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}

BENCHMARK_CAPTURE(BM_EncodeMobyDick, llama3, std::string("tokenizers/llama3/tokenizer.json"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeMobyDick, qwen3, std::string("tokenizers/qwen3/tokenizer.json"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeMobyDick, gemma3, std::string("tokenizers/gemma3/tokenizer.json"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeMobyDick, gpt2, std::string("tokenizers/gpt2"))->Unit(benchmark::kMillisecond);

}  // namespace
