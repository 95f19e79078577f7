// compress-dims: keep only the r most important dimensions of each head's keys and values (importance =
// mean square over the text, per layer / kv head / dimension) and zero the rest in the cache, as a
// dimension-pruning compressor would; report perplexity and KL vs the full cache. Also a sweep over r for
// keys and values together, keys only, values only, and a control that keeps the r *least* important.
#include <algorithm>
#include <numeric>

#include "kvlab/analysis/analysis.h"
#include "kvlab/analysis/cache_rewrite.h"
#include "kvlab/analysis/kv_trace.h"
#include "kvlab/analysis/quality.h"

namespace kvlab::analysis {

namespace {
// [kv_heads][head_dim] mean squares of one layer's rows.
std::vector<double> Importance(std::span<const float> x, size_t tokens, size_t heads, size_t hd) {
  std::vector<double> imp(heads * hd, 0.0);
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t i = 0; i < heads * hd; ++i)
      imp[i] += static_cast<double>(x[t * heads * hd + i]) * x[t * heads * hd + i];
  }
  for (double& v : imp) v /= static_cast<double>(tokens);
  return imp;
}

// 1 for the r highest (or lowest) importances of each head.
std::vector<uint8_t> KeepMask(const std::vector<double>& imp, size_t heads, size_t hd, size_t r,
                              bool lowest) {
  std::vector<uint8_t> mask(heads * hd, 0);
  for (size_t h = 0; h < heads; ++h) {
    std::vector<size_t> idx(hd);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      return lowest ? imp[h * hd + a] < imp[h * hd + b] : imp[h * hd + a] > imp[h * hd + b];
    });
    for (size_t i = 0; i < std::min(r, hd); ++i) mask[h * hd + idx[i]] = 1;
  }
  return mask;
}
}  // namespace

AnalysisOutput AnalyzeCompressDims(const AnalysisContext& c) {
  const KvTrace ref = RunTrace(*c.model, c.ids);
  const Quality base = Perplexity(ref);
  const size_t L = ref.n_layers, H = ref.n_kv_heads, D = ref.head_dim;
  std::vector<std::vector<double>> imp_k(L), imp_v(L);
  for (size_t l = 0; l < L; ++l) {
    imp_k[l] = Importance(ref.LayerKeys(l), ref.tokens, H, D);
    imp_v[l] = Importance(ref.LayerValues(l), ref.tokens, H, D);
  }
  // target: which of K/V lose dimensions ("kv", "k", "v"); selection: "top" or "bottom" (control).
  auto run = [&](size_t r, const std::string& target, bool lowest) {
    auto mask = std::make_shared<DimMask>();
    for (size_t l = 0; l < L; ++l) {
      const std::vector<uint8_t> all(H * D, 1);
      mask->keys.push_back(target != "v" ? KeepMask(imp_k[l], H, D, r, lowest) : all);
      mask->values.push_back(target != "k" ? KeepMask(imp_v[l], H, D, r, lowest) : all);
    }
    TraceOptions o;
    if (r < D) o.rewrite = MaskDims(mask);  // keeping every dimension rewrites nothing
    return Compare(ref, RunTrace(*c.model, c.ids, o));
  };
  const size_t keep = c.options.keep_dims == 0 ? (D + 1) / 2 : std::min(c.options.keep_dims, D);
  AnalysisOutput out;
  out.table.columns = {"kept_dims", "head_dim",   "target",  "selection",
                       "ppl",       "ppl_change", "kl_mean", "top1"};
  std::vector<size_t> sweep;
  for (size_t r = 1; r < D; r *= 2) sweep.push_back(r);
  sweep.push_back(D);
  if (std::find(sweep.begin(), sweep.end(), keep) == sweep.end()) sweep.push_back(keep);
  std::sort(sweep.begin(), sweep.end());
  nlohmann::json chosen;
  for (size_t r : sweep) {
    for (const char* target : {"kv", "k", "v"}) {
      const Quality q = run(r, target, false);
      out.table.Add({r, D, target, "top", q.ppl, q.ppl - base.ppl, q.kl_mean, q.top1});
      if (r == keep && std::string(target) == "kv") {
        chosen = {{"kept_dims", r},
                  {"ppl", q.ppl},
                  {"ppl_change", q.ppl - base.ppl},
                  {"kl_mean", q.kl_mean},
                  {"top1", q.top1}};
      }
    }
    const Quality q = run(r, "kv", true);
    out.table.Add({r, D, "kv", "bottom", q.ppl, q.ppl - base.ppl, q.kl_mean, q.top1});
  }
  nlohmann::json importance = nlohmann::json::array();
  for (size_t l = 0; l < L; ++l) importance.push_back({{"layer", l}, {"K", imp_k[l]}, {"V", imp_v[l]}});
  out.json["ppl_full"] = base.ppl;
  out.json["chosen"] = chosen;
  out.json["importance"] = importance;  // [layer] {K,V: [kv_head * head_dim]}
  return out;
}

}  // namespace kvlab::analysis
