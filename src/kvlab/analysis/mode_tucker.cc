// tucker: each layer's K and V as a [tokens][kv_heads][head_dim] tensor, decomposed by HOSVD (refined by
// HOOI) at the chosen ranks (default: half of each mode's useful rank, min(size, product of the others)).
// Reports compression (stored numbers of core + factors vs the tensor), relative reconstruction error, the
// component spectra, per-layer sensitivity (perplexity / KL when only that layer's cache is replaced by its
// reconstruction) and a rank sweep (all layers replaced).
//
// What "replaced" means: the text is run token by token; each token attends once to its own exact K/V,
// then its slot is overwritten by the reconstruction (cache_rewrite.h). With every layer replaced, layer
// l is fitted on the K/V it produces when layers < l are already replaced (one trace per layer), so each
// fit sees the stream it will serve. The token-mode factor is fitted on the whole text, so this measures
// how much of the cache a Tucker model can hold, not a causal streaming compressor.
#include <cmath>

#include "kvlab/analysis/analysis.h"
#include "kvlab/analysis/cache_rewrite.h"
#include "kvlab/analysis/kv_trace.h"
#include "kvlab/analysis/quality.h"
#include "kvlab/analysis/tucker.h"

namespace kvlab::analysis {

namespace {
Tensor3 LayerTensor(std::span<const float> x, const KvTrace& t) {
  Tensor3 out({t.tokens, t.n_kv_heads, t.head_dim});
  for (size_t i = 0; i < x.size(); ++i) out.data[i] = x[i];
  return out;
}

std::vector<float> ToFloat(const Tensor3& x) { return std::vector<float>(x.data.begin(), x.data.end()); }

// The largest useful rank of each mode: the rank of its unfolding, min(dims[n], product of the others).
// For a small model the token mode is capped by kv_heads × head_dim, far below the token count.
std::array<size_t, 3> MaxRanks(const std::array<size_t, 3>& dims) {
  std::array<size_t, 3> r{};
  for (size_t n = 0; n < 3; ++n) r[n] = std::min(dims[n], dims[(n + 1) % 3] * dims[(n + 2) % 3]);
  return r;
}

// Requested ranks, 0 = half of the mode's useful rank.
std::array<size_t, 3> RanksFor(const std::array<size_t, 3>& dims, const std::array<size_t, 3>& requested) {
  const std::array<size_t, 3> max = MaxRanks(dims);
  std::array<size_t, 3> r{};
  for (size_t n = 0; n < 3; ++n)
    r[n] = requested[n] == 0 ? (max[n] + 1) / 2 : std::min(requested[n], dims[n]);
  return r;
}

struct Fit {
  double err_k = 0, err_v = 0;
  std::vector<float> recon_k, recon_v;
};

Fit FitLayer(const KvTrace& t, size_t layer, std::array<size_t, 3> ranks, int iterations) {
  Fit f;
  const Tensor3 k = LayerTensor(t.LayerKeys(layer), t), v = LayerTensor(t.LayerValues(layer), t);
  const Tensor3 rk = Reconstruct(Tucker(k, ranks, iterations)),
                rv = Reconstruct(Tucker(v, ranks, iterations));
  f.err_k = RelativeError(k, rk);
  f.err_v = RelativeError(v, rv);
  f.recon_k = ToFloat(rk);
  f.recon_v = ToFloat(rv);
  return f;
}

struct AllLayers {
  Quality quality;
  std::vector<double> err_k, err_v;
};

AllLayers ReplaceAllLayers(const AnalysisContext& c, const KvTrace& ref, std::array<size_t, 3> ranks) {
  auto rep = std::make_shared<CacheReplacement>();
  rep->keys.resize(ref.n_layers);
  rep->values.resize(ref.n_layers);
  TraceOptions o;
  o.rewrite = ReplaceSlots(rep);
  AllLayers out;
  for (size_t l = 0; l < ref.n_layers; ++l) {
    const KvTrace stream = l == 0 ? KvTrace() : RunTrace(*c.model, c.ids, o);
    Fit f = FitLayer(l == 0 ? ref : stream, l, ranks, c.options.hooi_iterations);
    out.err_k.push_back(f.err_k);
    out.err_v.push_back(f.err_v);
    rep->keys[l] = std::move(f.recon_k);
    rep->values[l] = std::move(f.recon_v);
  }
  out.quality = Compare(ref, RunTrace(*c.model, c.ids, o));
  return out;
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / v.size();
}
}  // namespace

AnalysisOutput AnalyzeTucker(const AnalysisContext& c) {
  const KvTrace ref = RunTrace(*c.model, c.ids);
  const Quality base = Perplexity(ref);
  const std::array<size_t, 3> dims{ref.tokens, ref.n_kv_heads, ref.head_dim};
  const std::array<size_t, 3> ranks = RanksFor(dims, c.options.tucker_ranks);
  const double fraction = TuckerParameterFraction(dims, ranks);
  AnalysisOutput out;
  out.table.columns = {
      "layer",           "kind",      "rank_tokens",    "rank_heads", "rank_dim", "compression_ratio",
      "rel_error_hosvd", "rel_error", "ppl_layer_only", "ppl_change", "kl_mean"};
  nlohmann::json spectra = nlohmann::json::array();
  for (size_t l = 0; l < ref.n_layers; ++l) {
    auto rep = std::make_shared<CacheReplacement>();
    rep->keys.resize(ref.n_layers);
    rep->values.resize(ref.n_layers);
    nlohmann::json layer_spectra = {{"layer", l}};
    double err_hosvd[2] = {0, 0}, err[2] = {0, 0};
    for (int kind = 0; kind < 2; ++kind) {
      const Tensor3 x = LayerTensor(kind == 0 ? ref.LayerKeys(l) : ref.LayerValues(l), ref);
      const TuckerModel hosvd = Tucker(x, ranks, 0);
      const TuckerModel refined = Tucker(x, ranks, c.options.hooi_iterations);
      const Tensor3 r = Reconstruct(refined);
      err_hosvd[kind] = RelativeError(x, Reconstruct(hosvd));
      err[kind] = RelativeError(x, r);
      (kind == 0 ? rep->keys : rep->values)[l] = ToFloat(r);
      layer_spectra[kind == 0 ? "K" : "V"] = {
          {"tokens", hosvd.mode_energy[0]}, {"heads", hosvd.mode_energy[1]}, {"dim", hosvd.mode_energy[2]}};
    }
    TraceOptions o;
    o.rewrite = ReplaceSlots(rep);
    const Quality q = Compare(ref, RunTrace(*c.model, c.ids, o));
    for (int kind = 0; kind < 2; ++kind) {
      out.table.Add({l, kind == 0 ? "K" : "V", ranks[0], ranks[1], ranks[2], 1.0 / fraction, err_hosvd[kind],
                     err[kind], q.ppl, q.ppl - base.ppl, q.kl_mean});
    }
    spectra.push_back(layer_spectra);
  }
  const AllLayers all = ReplaceAllLayers(c, ref, ranks);
  nlohmann::json sweep = nlohmann::json::array();
  for (double f : c.options.rank_sweep) {
    std::array<size_t, 3> r{};
    const std::array<size_t, 3> max = MaxRanks(dims);
    for (size_t n = 0; n < 3; ++n)
      r[n] = std::max<size_t>(1, static_cast<size_t>(std::ceil(f * max[n] - 1e-9)));
    const AllLayers s = ReplaceAllLayers(c, ref, r);
    sweep.push_back({{"fraction", f},
                     {"ranks", r},
                     {"compression_ratio", 1.0 / TuckerParameterFraction(dims, r)},
                     {"rel_error_k", s.err_k},
                     {"rel_error_v", s.err_v},
                     {"rel_error_k_mean", Mean(s.err_k)},
                     {"rel_error_v_mean", Mean(s.err_v)},
                     {"ppl", s.quality.ppl},
                     {"ppl_change", s.quality.ppl - base.ppl},
                     {"kl_mean", s.quality.kl_mean},
                     {"top1", s.quality.top1}});
  }
  out.json["ppl_full"] = base.ppl;
  out.json["ranks"] = ranks;
  out.json["hooi_iterations"] = c.options.hooi_iterations;
  out.json["compression_ratio"] = 1.0 / fraction;
  out.json["all_layers"] = {{"ppl", all.quality.ppl},         {"ppl_change", all.quality.ppl - base.ppl},
                            {"kl_mean", all.quality.kl_mean}, {"top1", all.quality.top1},
                            {"rel_error_k", all.err_k},       {"rel_error_v", all.err_v}};
  out.json["rank_sweep"] = sweep;
  out.json["spectra"] = spectra;
  return out;
}

}  // namespace kvlab::analysis
