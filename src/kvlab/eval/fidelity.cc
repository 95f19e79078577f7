#include "kvlab/eval/fidelity.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "kvlab/eval/attention_recorder.h"
#include "kvlab/kv/registry.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {

// Smoothing of the KL between attention rows: an evicted position has probability 0 under the policy, so
// KL(f || g) would be infinite; both rows get eps added at every position and are renormalized.
constexpr double kEpsilon = 1e-6;

// One stream (the full cache or the policy's) with its recorder.
struct RecordedStream {
  RecordedStream(const Model& model, std::unique_ptr<KvPolicy> policy, const std::vector<int>& layers,
                 size_t tokens)
      : recorder(std::move(policy), model.config(), layers),
        cache(model.config().CacheShape(), RequiredCapacity(&recorder, tokens, 1), CacheCodecFor(&recorder)),
        act(model.config(), 1) {
    recorder.SetCache(&cache);
  }
  AttentionRecorder recorder;
  KvCache cache;
  Activations act;
};

size_t FirstMax(const std::vector<double>& v) {
  return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Adds the comparison of one sampled row (full f, policy g) to the running sums of `h`.
void Accumulate(const AttentionRecorder::HeadRecord& f, const AttentionRecorder::HeadRecord& g,
                HeadFidelity& h) {
  const size_t len = f.probs.size();
  double retained = 0, kl = 0, dot = 0, ff = 0, gg = 0, l1 = 0, l2 = 0;
  const double norm = 1.0 + static_cast<double>(len) * kEpsilon;
  for (size_t p = 0; p < len; ++p) {
    const double fp = f.probs[p], gp = g.probs[p];
    if (g.kept[p]) retained += fp;
    const double fs = (fp + kEpsilon) / norm, gs = (gp + kEpsilon) / norm;
    kl += fs * std::log(fs / gs);
    dot += fp * gp;
    ff += fp * fp;
    gg += gp * gp;
    l1 += std::abs(fp - gp);
    l2 += (fp - gp) * (fp - gp);
  }
  double diff = 0, base = 0;
  for (size_t d = 0; d < f.output.size(); ++d) {
    diff += (f.output[d] - g.output[d]) * (f.output[d] - g.output[d]);
    base += f.output[d] * f.output[d];
  }
  h.retained_mass += retained;
  h.kl += std::max(kl, 0.0);
  h.cosine += ff > 0 && gg > 0 ? dot / std::sqrt(ff * gg) : 0.0;
  h.l1 += l1;
  h.l2 += std::sqrt(l2);
  h.argmax_agreement += FirstMax(f.probs) == FirstMax(g.probs) ? 1.0 : 0.0;
  h.output_rel_error += base > 0 ? std::sqrt(diff / base) : std::sqrt(diff);
  ++h.samples;
}

// Sums of `parts` -> their mean, or per-sample means of one head (divide by samples).
void Scale(HeadFidelity& h, double by) {
  h.retained_mass /= by;
  h.kl /= by;
  h.cosine /= by;
  h.l1 /= by;
  h.l2 /= by;
  h.argmax_agreement /= by;
  h.output_rel_error /= by;
}

void Add(const HeadFidelity& from, HeadFidelity& to) {
  to.samples += from.samples;
  to.retained_mass += from.retained_mass;
  to.kl += from.kl;
  to.cosine += from.cosine;
  to.l1 += from.l1;
  to.l2 += from.l2;
  to.argmax_agreement += from.argmax_agreement;
  to.output_rel_error += from.output_rel_error;
}

std::vector<int> ChooseLayers(const ModelConfig& c, const std::vector<int>& requested) {
  if (requested.empty()) return {c.n_layers > 6 ? 6 : c.n_layers / 2};
  std::vector<int> layers = requested;
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  for (int l : layers) {
    if (l < 0 || l >= c.n_layers) {
      throw Error("--layers",
                  "layer " + std::to_string(l) + " is out of range [0, " + std::to_string(c.n_layers) + ")");
    }
  }
  return layers;
}

}  // namespace

size_t FidelityTokensNeeded(const FidelityOptions& o, const ModelConfig& c) {
  return static_cast<size_t>(o.max_tokens > 0 ? o.max_tokens : c.max_seq_len);
}

FidelityResult EvaluateFidelity(const Model& model, std::span<const int32_t> tokens,
                                const FidelityOptions& o) {
  const ModelConfig& c = model.config();
  std::unique_ptr<KvPolicy> policy = MakePolicy(o.kv);
  if (o.warmup < 0) throw Error("--warmup", "must be >= 0");
  if (o.stride < 1) throw Error("--stride", "must be >= 1");
  if (o.max_tokens < 0) throw Error("--max-tokens", "must be >= 0 (0: the whole text)");
  const std::vector<int> layers = ChooseLayers(c, o.layers);
  // Rows over original positions stay within the trained context.
  size_t n = std::min(tokens.size(), static_cast<size_t>(c.max_seq_len));
  if (o.max_tokens > 0) n = std::min(n, static_cast<size_t>(o.max_tokens));
  if (n <= static_cast<size_t>(o.warmup)) {
    throw Error("text",
                "has " + std::to_string(n) + " usable tokens, the first sampled position is " +
                    std::to_string(o.warmup),
                "lower --warmup or give a longer text");
  }
  policy->Bind(c.CacheShape());
  std::unique_ptr<KvPolicy> full_policy = MakePolicy("full");
  full_policy->Bind(c.CacheShape());
  RecordedStream full(model, std::move(full_policy), layers, n);
  RecordedStream pol(model, std::move(policy), layers, n);

  const size_t n_heads = static_cast<size_t>(c.n_heads);
  FidelityResult r;
  r.epsilon = kEpsilon;
  r.tokens = static_cast<int64_t>(n);
  r.heads.resize(layers.size() * n_heads);
  for (size_t li = 0; li < layers.size(); ++li) {
    for (size_t h = 0; h < n_heads; ++h) {
      r.heads[li * n_heads + h].layer = layers[li];
      r.heads[li * n_heads + h].head = static_cast<int>(h);
    }
  }
  for (size_t t = 0; t < n; ++t) {
    const int32_t pos = static_cast<int32_t>(t);
    const bool sampled = pos >= o.warmup && (pos - o.warmup) % o.stride == 0;
    full.recorder.Arm(sampled, pos);
    pol.recorder.Arm(sampled, pos);
    // No logits needed: only the attention rows are compared.
    model.Forward({&tokens[t], 1}, pos, full.cache, full.act, nullptr, LogitsFor::kLastToken, &full.recorder);
    model.Forward({&tokens[t], 1}, pos, pol.cache, pol.act, nullptr, LogitsFor::kLastToken, &pol.recorder);
    if (!sampled) continue;
    for (size_t li = 0; li < layers.size(); ++li) {
      for (size_t h = 0; h < n_heads; ++h) {
        const auto& f = full.recorder.Record(li, h);
        const auto& g = pol.recorder.Record(li, h);
        KVLAB_CHECK(f.seen && g.seen);
        Accumulate(f, g, r.heads[li * n_heads + h]);
      }
    }
  }
  full.recorder.Arm(false, 0);
  pol.recorder.Arm(false, 0);

  for (HeadFidelity& h : r.heads) Scale(h, static_cast<double>(h.samples));
  r.mean = HeadFidelity{-1, -1};
  for (size_t li = 0; li < layers.size(); ++li) {
    HeadFidelity layer{layers[li], -1};
    for (size_t h = 0; h < n_heads; ++h) Add(r.heads[li * n_heads + h], layer);
    Add(layer, r.mean);
    Scale(layer, static_cast<double>(n_heads));
    layer.samples /= static_cast<int64_t>(n_heads);
    r.layers.push_back(layer);
  }
  Scale(r.mean, static_cast<double>(r.heads.size()));
  r.mean.samples /= static_cast<int64_t>(r.heads.size());
  return r;
}

nlohmann::json ToJson(const HeadFidelity& h) {
  return {{"layer", h.layer},
          {"head", h.head},
          {"samples", h.samples},
          {"retained_mass", h.retained_mass},
          {"kl", h.kl},
          {"cosine", h.cosine},
          {"l1", h.l1},
          {"l2", h.l2},
          {"argmax_agreement", h.argmax_agreement},
          {"output_rel_error", h.output_rel_error}};
}

nlohmann::json ToJson(const FidelityResult& r) {
  nlohmann::json heads = nlohmann::json::array(), layers = nlohmann::json::array();
  for (const HeadFidelity& h : r.heads) heads.push_back(ToJson(h));
  for (const HeadFidelity& h : r.layers) layers.push_back(ToJson(h));
  return {{"heads", heads},
          {"layers", layers},
          {"mean", ToJson(r.mean)},
          {"epsilon", r.epsilon},
          {"tokens", r.tokens}};
}

}  // namespace kvlab
