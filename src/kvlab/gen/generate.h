// The generation loop: prefill the prompt, then sample and decode one token at a time until n tokens,
// EOS or a stop string, streaming each piece of text as it is produced.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "kvlab/gen/sampler.h"
#include "kvlab/kv/cache.h"
#include "kvlab/model/model.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

struct GenerateOptions {
  int32_t max_new_tokens = 128;
  bool stop_at_eos = true;
  // With stop_at_eos, these ids end generation too (a chat model's end-of-turn tokens, e.g. <|eot_id|>).
  std::vector<int32_t> stop_tokens;
  std::vector<std::string> stop_strings;  // generation ends once the text contains any of them
  SamplerConfig sampler;
  size_t prefill_batch = 256;  // tokens per forward chunk during prefill
  KvPolicy* policy = nullptr;  // optional: bounds the cache as the stream advances (Bind() already called)
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids only (the prompt excluded)
  std::string text;             // decoded text of the generated ids (cut at a stop string)
  std::string stop_reason;      // "length", "eos", "stop string", "context full"
  double prefill_ms = 0;
  double decode_ms = 0;
};

// on_piece is called with each piece of text as soon as it is decoded (may be empty).
// The cache must have RequiredCapacity(policy, context, prefill_batch) slots.
// The tokenizer may be null (then no text is produced and stop strings are not checked).
GenerateResult Generate(const Model& model, const Tokenizer* tokenizer, KvCache& cache,
                        const std::vector<int32_t>& prompt, const GenerateOptions& options,
                        const std::function<void(std::string_view)>& on_piece = {});

}  // namespace kvlab
