#include "kvlab/eval/perplexity.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "kvlab/eval/distribution_stats.h"
#include "kvlab/kv/registry.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {

// One stream over the model: its policy, cache and scratch. Tokens go in one per Forward, so the policy
// compresses after every token exactly as in decode.
struct Stream {
  Stream(const Model& model, std::unique_ptr<KvPolicy> p, size_t tokens)
      : policy(std::move(p)),
        cache(model.config().CacheShape(), RequiredCapacity(policy.get(), tokens, 1),
              CacheCodecFor(policy.get())),
        act(model.config(), 1),
        logits(model.config().vocab_size) {}
  void Feed(const Model& model, int32_t token, int32_t pos) {
    model.Forward({&token, 1}, pos, cache, act, logits.data(), LogitsFor::kLastToken, policy.get());
    LogSoftmax(logits, log_probs);
  }
  std::unique_ptr<KvPolicy> policy;
  KvCache cache;
  Activations act;
  std::vector<float> logits;      // [vocab]
  std::vector<double> log_probs;  // [vocab] of the last fed token
};

// Running sums over the scored tokens.
struct Totals {
  double nll = 0, nll_full = 0, dp2 = 0;
  int64_t top1_equal = 0, scored = 0;
  std::vector<double> kl;  // [scored]
  std::vector<double> curve_sum, curve_sum_full;
  std::vector<int64_t> curve_count;
};

void Score(const Stream& s, const Stream* full, int32_t target, int32_t curve_block, Totals& t) {
  const double nll = -s.log_probs[target];
  t.nll += nll;
  size_t block = 0;
  if (curve_block > 0) {
    block = static_cast<size_t>(t.scored / curve_block);
    if (t.curve_sum.size() <= block) {
      t.curve_sum.resize(block + 1, 0.0);
      t.curve_sum_full.resize(block + 1, 0.0);
      t.curve_count.resize(block + 1, 0);
    }
    t.curve_sum[block] += nll;
    ++t.curve_count[block];
  }
  if (full != nullptr) {
    const double nll_full = -full->log_probs[target];
    t.nll_full += nll_full;
    if (curve_block > 0) t.curve_sum_full[block] += nll_full;
    t.kl.push_back(KlFromLogProbs(full->log_probs, s.log_probs));
    if (ArgmaxIndex(full->log_probs) == ArgmaxIndex(s.log_probs)) ++t.top1_equal;
    const double dp = std::exp(-nll) - std::exp(-nll_full);
    t.dp2 += dp * dp;
  }
  ++t.scored;
}

// Feeds tokens[0 .. n-2] at positions 0 .. n-2 into fresh streams and scores targets tokens[i + 1] for
// i >= first_scored.
void RunSpan(const Model& model, const KvPolicy& prototype, bool vs_full, std::span<const int32_t> tokens,
             size_t first_scored, int32_t curve_block, Totals& t, PerplexityResult& r) {
  Stream s(model, prototype.Clone(), tokens.size());
  std::unique_ptr<Stream> full;
  if (vs_full) full = std::make_unique<Stream>(model, MakePolicy("full"), tokens.size());
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const int32_t pos = static_cast<int32_t>(i);
    s.Feed(model, tokens[i], pos);
    if (full) full->Feed(model, tokens[i], pos);
    if (i >= first_scored) Score(s, full.get(), tokens[i + 1], curve_block, t);
  }
  r.kv_bytes = static_cast<int64_t>(s.cache.Bytes());
  r.policy_bytes = static_cast<int64_t>(s.policy->MetadataBytes());
  if (full) r.kv_bytes_full = static_cast<int64_t>(full->cache.Bytes() + full->policy->MetadataBytes());
}

}  // namespace

size_t PerplexityTokensNeeded(const PerplexityOptions& o, const ModelConfig& c) {
  if (o.max_tokens > 0) return static_cast<size_t>(o.max_tokens);
  if (o.windowed || o.stream_past_context) return 0;
  return static_cast<size_t>(o.ctx > 0 ? o.ctx : c.max_seq_len);
}

PerplexityResult EvaluatePerplexity(const Model& model, std::span<const int32_t> tokens,
                                    const PerplexityOptions& o) {
  const ModelConfig& c = model.config();
  const std::unique_ptr<KvPolicy> prototype = MakePolicy(o.kv);
  if (o.ctx < 0) throw Error("--ctx", "must be >= 0 (0: the model's trained context)");
  if (o.max_tokens < 0) throw Error("--max-tokens", "must be >= 0 (0: the whole text)");
  if (o.curve_block < 0) throw Error("--curve-block", "must be >= 0");
  const int32_t ctx = o.ctx > 0 ? o.ctx : c.max_seq_len;
  if (c.arch == Arch::kGpt2 && ctx > c.max_seq_len) {
    throw Error("--ctx", std::to_string(ctx) + " is beyond the " + std::to_string(c.max_seq_len) +
                             " learned positions of this GPT-2 model");
  }
  if (o.stream_past_context && c.arch == Arch::kGpt2) {
    throw Error("--stream-past-context", "GPT-2 models have learned positions and cannot go past their " +
                                             std::to_string(c.max_seq_len));
  }
  if (o.windowed && o.stream_past_context) {
    throw Error("--windowed", "cannot be combined with --stream-past-context (windows never exceed ctx)");
  }
  if (o.windowed && ctx < 4) throw Error("--ctx", "a window needs at least 4 tokens");
  if (o.stride < 0) throw Error("--stride", "must be >= 0");
  if (o.stride > 0 && !o.windowed) throw Error("--stride", "applies to --windowed only");
  if (o.stride >= ctx)
    throw Error("--stride", "must be smaller than the window (" + std::to_string(ctx) + ")");
  prototype->Bind(c.CacheShape());

  size_t n = tokens.size();
  if (o.max_tokens > 0) n = std::min(n, static_cast<size_t>(o.max_tokens));
  if (!o.windowed && !o.stream_past_context) n = std::min(n, static_cast<size_t>(ctx));
  if (n < 2) throw Error("text", "needs at least 2 tokens, has " + std::to_string(n));

  PerplexityResult r;
  Totals t;
  if (o.windowed && o.stride > 0) {
    // llama.cpp perplexity --ppl-stride: windows of ctx tokens starting every `stride` tokens, each scoring
    // its last `stride` predictions (positions ctx - stride - 1 .. ctx - 2 of the window).
    if (n < static_cast<size_t>(ctx) + 1) {
      throw Error(
          "text",
          "has " + std::to_string(n) + " tokens, too few for a strided window of " + std::to_string(ctx),
          "lower --ctx");
    }
    const size_t s = static_cast<size_t>(o.stride);
    const size_t windows = (n - static_cast<size_t>(ctx) + s - 1) / s;
    for (size_t w = 0; w < windows; ++w) {
      RunSpan(model, *prototype, o.vs_full, tokens.subspan(w * s, ctx), static_cast<size_t>(ctx) - s - 1,
              o.curve_block, t, r);
    }
  } else if (o.windowed) {
    // llama.cpp perplexity: non-overlapping windows of ctx tokens, each from an empty cache, scoring the
    // predictions of tokens ctx/2 + 1 .. ctx - 1 of the window (the first half only gives context).
    const size_t windows = n / static_cast<size_t>(ctx);
    if (windows == 0) {
      throw Error("text",
                  "has " + std::to_string(n) + " tokens, fewer than one window of " + std::to_string(ctx),
                  "lower --ctx");
    }
    for (size_t w = 0; w < windows; ++w) {
      RunSpan(model, *prototype, o.vs_full, tokens.subspan(w * ctx, ctx), static_cast<size_t>(ctx / 2),
              o.curve_block, t, r);
    }
  } else {
    RunSpan(model, *prototype, o.vs_full, tokens.first(n), 0, o.curve_block, t, r);
  }

  const double scored = static_cast<double>(t.scored);
  r.tokens = t.scored;
  r.nll_mean = t.nll / scored;
  r.ppl = std::exp(r.nll_mean);
  for (size_t b = 0; b < t.curve_count.size(); ++b) {
    r.nll_curve.push_back(t.curve_sum[b] / static_cast<double>(t.curve_count[b]));
    if (o.vs_full) r.nll_curve_full.push_back(t.curve_sum_full[b] / static_cast<double>(t.curve_count[b]));
  }
  if (o.vs_full) {
    r.has_full = true;
    r.ppl_full = std::exp(t.nll_full / scored);
    r.ppl_ratio = r.ppl / r.ppl_full;
    double kl_sum = 0;
    for (double k : t.kl) kl_sum += k;
    r.kl_mean = kl_sum / scored;
    r.kl_max = *std::max_element(t.kl.begin(), t.kl.end());
    r.kl_p99 = NearestRankQuantile(t.kl, 0.99);
    r.kl_median = Median(t.kl);
    r.top1_agreement = static_cast<double>(t.top1_equal) / scored;
    r.rms_dp = std::sqrt(t.dp2 / scored);
  }
  return r;
}

nlohmann::json ToJson(const PerplexityResult& r) {
  nlohmann::json j = {{"tokens", r.tokens},      {"nll_mean", r.nll_mean}, {"ppl", r.ppl},
                      {"has_full", r.has_full},  {"kv_bytes", r.kv_bytes}, {"policy_bytes", r.policy_bytes},
                      {"nll_curve", r.nll_curve}};
  // The comparison fields are always present; null when no full stream ran (0 would read as "KL = 0").
  auto full = [&](double v) { return r.has_full ? nlohmann::json(v) : nlohmann::json(); };
  j["ppl_full"] = full(r.ppl_full);
  j["ppl_ratio"] = full(r.ppl_ratio);
  j["kl_mean"] = full(r.kl_mean);
  j["kl_median"] = full(r.kl_median);
  j["kl_p99"] = full(r.kl_p99);
  j["kl_max"] = full(r.kl_max);
  j["top1_agreement"] = full(r.top1_agreement);
  j["rms_dp"] = full(r.rms_dp);
  j["kv_bytes_full"] = r.has_full ? nlohmann::json(r.kv_bytes_full) : nlohmann::json();
  j["nll_curve_full"] = r.nll_curve_full;
  return j;
}

}  // namespace kvlab
