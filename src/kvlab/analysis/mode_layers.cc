// layers: per-layer statistics of the cache (K/V norms, element sparsity) and of attention (entropy,
// sparsity at thresholds), and the pruning potential: the share of slots an average query could lose while
// keeping 90% / 99% of its attention mass.
#include <cmath>
#include <string>

#include "kvlab/analysis/analysis.h"
#include "kvlab/analysis/attention_summary.h"
#include "kvlab/analysis/kv_trace.h"
#include "kvlab/analysis/vector_stats.h"

namespace kvlab::analysis {

namespace {
// Fraction of elements with |x| < rel * rms(all elements).
double ElementSparsity(std::span<const float> x, double rel) {
  double sq = 0;
  for (float v : x) sq += static_cast<double>(v) * v;
  const double cut = rel * std::sqrt(sq / static_cast<double>(std::max<size_t>(x.size(), 1)));
  size_t below = 0;
  for (float v : x) below += std::fabs(v) < cut ? 1 : 0;
  return x.empty() ? 0.0 : static_cast<double>(below) / static_cast<double>(x.size());
}

std::string ThresholdName(float t) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", t);
  return buf;
}
}  // namespace

AnalysisOutput AnalyzeLayers(const AnalysisContext& c) {
  TraceOptions to;
  to.record_attention = true;
  const KvTrace tr = RunTrace(*c.model, c.ids, to);
  const auto& thr = c.options.thresholds;
  AnalysisOutput out;
  out.table.columns = {"layer",
                       "k_norm_mean",
                       "k_norm_std",
                       "v_norm_mean",
                       "v_norm_std",
                       "k_sparsity_0.1rms",
                       "v_sparsity_0.1rms",
                       "attn_entropy",
                       "attn_entropy_norm"};
  for (float t : thr) out.table.columns.push_back("attn_sparsity_" + ThresholdName(t));
  for (const char* s : {"slots_for_90", "slots_for_99", "prune_potential_90", "prune_potential_99"}) {
    out.table.columns.push_back(s);
  }
  nlohmann::json layers = nlohmann::json::array();
  for (size_t l = 0; l < tr.n_layers; ++l) {
    std::vector<double> kn, vn;
    const auto keys = tr.LayerKeys(l), values = tr.LayerValues(l);
    for (size_t r = 0; r < tr.tokens * tr.n_kv_heads; ++r) {
      kn.push_back(L2Norm(keys.data() + r * tr.head_dim, tr.head_dim));
      vn.push_back(L2Norm(values.data() + r * tr.head_dim, tr.head_dim));
    }
    const Summary ks = Summarize(kn), vs = Summarize(vn);
    AttentionSummary mean;
    mean.sparsity.assign(thr.size(), 0.0);
    for (size_t h = 0; h < tr.n_heads; ++h) {
      const AttentionSummary s = SummarizeAttention(tr.Map(l, h), tr.tokens, thr);
      mean.entropy += s.entropy / tr.n_heads;
      mean.normalized_entropy += s.normalized_entropy / tr.n_heads;
      for (size_t i = 0; i < thr.size(); ++i) mean.sparsity[i] += s.sparsity[i] / tr.n_heads;
      mean.needed_90 += s.needed_90 / tr.n_heads;
      mean.needed_99 += s.needed_99 / tr.n_heads;
    }
    std::vector<nlohmann::json> row = {l,
                                       ks.mean,
                                       ks.stddev,
                                       vs.mean,
                                       vs.stddev,
                                       ElementSparsity(keys, 0.1),
                                       ElementSparsity(values, 0.1),
                                       mean.entropy,
                                       mean.normalized_entropy};
    for (double s : mean.sparsity) row.push_back(s);
    row.insert(row.end(), {mean.needed_90, mean.needed_99, 1.0 - mean.needed_90, 1.0 - mean.needed_99});
    out.table.Add(row);
    layers.push_back({{"layer", l}, {"k_norm_max", ks.max}, {"v_norm_max", vs.max}});
  }
  out.json["layers"] = layers;
  out.json["thresholds"] = thr;
  return out;
}

}  // namespace kvlab::analysis
