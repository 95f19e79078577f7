// Perplexity of a text under a KV-cache policy (docs/METRICS.md "Perplexity"): what `kvlab ppl` runs.
//
// Streaming (default): the text is fed one token per Forward, the policy compresses the cache as the
// stream advances (exactly like decode), and every next token is scored. Windowed (llama.cpp's
// `perplexity` protocol): non-overlapping windows of ctx tokens, each from an empty cache, scoring the
// second half of each window. With vs_full a full-cache stream runs in lockstep on the same tokens and the
// two next-token distributions are compared (KL, top-1 agreement, RMS Δp).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "kvlab/model/model.h"

namespace kvlab {

struct PerplexityOptions {
  std::string kv = "full";  // policy spec (kv/registry.h MakePolicy)
  // 0: the model's trained context. Streaming: tokens evaluated = min(text, max_tokens), and without
  // stream_past_context at most ctx of them; windowed: the window length.
  int32_t ctx = 0;
  int32_t max_tokens = 0;  // 0: whole text (after the rules above)
  bool windowed = false;   // llama.cpp protocol
  // windowed only: > 0 selects llama.cpp's strided protocol (--ppl-stride): windows of ctx tokens start every
  // `stride` tokens and each scores only its last `stride` predictions. 0: non-overlapping windows, second
  // half.
  int32_t stride = 0;
  bool vs_full = false;              // run the full cache in lockstep
  bool stream_past_context = false;  // streaming: let positions go past ctx (RoPE models only)
  int32_t curve_block = 0;  // > 0: nll_curve holds the mean NLL of each block of this many scored tokens
};

struct PerplexityResult {
  int64_t tokens = 0;  // predicted tokens scored
  double nll_mean = 0, ppl = 0;
  bool has_full = false;  // vs_full fields below valid
  double ppl_full = 0, ppl_ratio = 0, kl_mean = 0, kl_median = 0, kl_p99 = 0, kl_max = 0, top1_agreement = 0,
         rms_dp = 0;
  // At the end of the stream (windowed: of the last window), exact: KvCache::Bytes, policy MetadataBytes,
  // and the full cache's Bytes when vs_full.
  int64_t kv_bytes = 0, policy_bytes = 0, kv_bytes_full = 0;
  std::vector<double> nll_curve;       // mean NLL per block of curve_block scored tokens (policy stream)
  std::vector<double> nll_curve_full;  // same for the full stream when vs_full
};

// How many tokens of a text the evaluation can use at most (0: all of it): what `kvlab ppl` encodes of a
// long text, so that a text is cut the same way wherever it is evaluated.
size_t PerplexityTokensNeeded(const PerplexityOptions& o, const ModelConfig& c);

// Throws kvlab::Error on bad options (unknown policy, ctx past a GPT-2 model's positions, too few tokens).
PerplexityResult EvaluatePerplexity(const Model& model, std::span<const int32_t> tokens,
                                    const PerplexityOptions& o);

nlohmann::json ToJson(const PerplexityResult& r);

}  // namespace kvlab
