#include "kvlab/gen/generate.h"

#include <algorithm>
#include <chrono>

#include "kvlab/util/error.h"

namespace kvlab {

namespace {
double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

GenerateResult Generate(const Model& model, const Tokenizer* tokenizer, KvCache& cache,
                        const std::vector<int32_t>& prompt, const GenerateOptions& options,
                        const std::function<void(std::string_view)>& on_piece) {
  if (prompt.empty()) throw Error("prompt", "is empty: generation needs at least one token (e.g. BOS)");
  const ModelConfig& c = model.config();
  Activations act(c, std::min(prompt.size(), options.prefill_batch));
  std::vector<float> logits(c.vocab_size);
  std::vector<int32_t> history = prompt;
  Sampler sampler(options.sampler);
  GenerateResult result;
  // The tokenizer says what ends a text; a model config's eos id can be a placeholder (the char GPT-2 sets
  // 0, which is "\n"). Without a tokenizer, fall back to the config.
  const int32_t eos = tokenizer != nullptr ? tokenizer->eos_id() : c.eos_id;

  auto t0 = std::chrono::steady_clock::now();
  model.Forward(prompt, 0, cache, act, logits.data(), LogitsFor::kLastToken, options.policy);
  result.prefill_ms = MsSince(t0);

  t0 = std::chrono::steady_clock::now();
  int32_t pos = static_cast<int32_t>(prompt.size());
  result.stop_reason = "length";
  for (int32_t step = 0; step < options.max_new_tokens; ++step) {
    const int32_t next = sampler.Sample(logits, history);
    const bool stop_token =
        std::find(options.stop_tokens.begin(), options.stop_tokens.end(), next) != options.stop_tokens.end();
    if (options.stop_at_eos && ((eos >= 0 && next == eos) || stop_token)) {
      result.stop_reason = "eos";
      break;
    }
    const int32_t prev = history.back();
    history.push_back(next);
    result.tokens.push_back(next);
    if (tokenizer != nullptr) {
      std::string piece = tokenizer->DecodeToken(prev, next);
      result.text += piece;
      bool stopped = false;
      for (const std::string& s : options.stop_strings) {
        if (const size_t at = result.text.find(s); !s.empty() && at != std::string::npos) {
          // Print only what precedes the stop string.
          const size_t printed = result.text.size() - piece.size();
          piece = at > printed ? result.text.substr(printed, at - printed) : std::string();
          result.text.resize(at);
          stopped = true;
          break;
        }
      }
      if (on_piece) on_piece(piece);
      if (stopped) {
        result.stop_reason = "stop string";
        break;
      }
    }
    if (step + 1 == options.max_new_tokens) break;  // no need to run the model for a token never sampled
    if (cache.FreeSlots() == 0 || (c.arch == Arch::kGpt2 && pos >= c.max_seq_len)) {
      result.stop_reason = "context full";
      break;
    }
    model.Forward({&history.back(), 1}, pos, cache, act, logits.data(), LogitsFor::kLastToken, options.policy);
    ++pos;
  }
  result.decode_ms = MsSince(t0);
  return result;
}

}  // namespace kvlab
