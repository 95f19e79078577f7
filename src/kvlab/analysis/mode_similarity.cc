// similarity: where merging or sharing could compress. Cosine similarity of adjacent tokens' keys and
// values (merge candidates, CaM/cluster-style), of the same token's K/V across layers (MiniCache-style
// cross-layer sharing) and across KV heads, and of query heads' attention maps (shared-attention heads).
#include "kvlab/analysis/analysis.h"
#include "kvlab/analysis/kv_trace.h"
#include "kvlab/analysis/vector_stats.h"

namespace kvlab::analysis {

namespace {
// Mean cosine over tokens and kv heads between two [tokens][kv_heads][head_dim] tensors.
double MeanCosine(std::span<const float> a, std::span<const float> b, size_t rows, size_t dim) {
  double s = 0;
  for (size_t r = 0; r < rows; ++r) s += Cosine(a.data() + r * dim, b.data() + r * dim, dim);
  return rows ? s / static_cast<double>(rows) : 0.0;
}
}  // namespace

AnalysisOutput AnalyzeSimilarity(const AnalysisContext& c) {
  TraceOptions to;
  to.record_attention = true;
  const KvTrace tr = RunTrace(*c.model, c.ids, to);
  const size_t T = tr.tokens, H = tr.n_kv_heads, D = tr.head_dim, L = tr.n_layers;
  AnalysisOutput out;
  out.table.columns = {"layer",
                       "adjacent_k_cos_mean",
                       "adjacent_k_cos_median",
                       "adjacent_k_above_0.9",
                       "adjacent_v_cos_mean",
                       "adjacent_v_cos_median",
                       "adjacent_v_above_0.9",
                       "cross_head_k_cos",
                       "cross_head_v_cos",
                       "cross_head_attn_cos",
                       "next_layer_k_cos",
                       "next_layer_v_cos"};
  nlohmann::json cross_layer_k = nlohmann::json::array(), cross_layer_v = nlohmann::json::array();
  for (size_t a = 0; a < L; ++a) {
    nlohmann::json rk = nlohmann::json::array(), rv = nlohmann::json::array();
    for (size_t b = 0; b < L; ++b) {
      rk.push_back(MeanCosine(tr.LayerKeys(a), tr.LayerKeys(b), T * H, D));
      rv.push_back(MeanCosine(tr.LayerValues(a), tr.LayerValues(b), T * H, D));
    }
    cross_layer_k.push_back(rk);
    cross_layer_v.push_back(rv);
  }
  nlohmann::json cross_head = nlohmann::json::array();
  for (size_t l = 0; l < L; ++l) {
    std::vector<double> ak, av;
    const auto keys = tr.LayerKeys(l), values = tr.LayerValues(l);
    for (size_t h = 0; h < H; ++h) {
      for (size_t t = 1; t < T; ++t) {
        ak.push_back(Cosine(&keys[(t * H + h) * D], &keys[((t - 1) * H + h) * D], D));
        av.push_back(Cosine(&values[(t * H + h) * D], &values[((t - 1) * H + h) * D], D));
      }
    }
    auto above = [](const std::vector<double>& v) {
      size_t n = 0;
      for (double x : v) n += x > 0.9 ? 1 : 0;
      return v.empty() ? 0.0 : static_cast<double>(n) / v.size();
    };
    // Cross-head: mean cosine over tokens for every pair of distinct kv heads.
    double hk = 0, hv = 0;
    size_t pairs = 0;
    nlohmann::json kv_matrix = nlohmann::json::array();
    for (size_t a = 0; a < H; ++a) {
      nlohmann::json row = nlohmann::json::array();
      for (size_t b = 0; b < H; ++b) {
        double sk = 0, sv = 0;
        for (size_t t = 0; t < T; ++t) {
          sk += Cosine(&keys[(t * H + a) * D], &keys[(t * H + b) * D], D);
          sv += Cosine(&values[(t * H + a) * D], &values[(t * H + b) * D], D);
        }
        row.push_back(sk / T);
        if (a != b) {
          hk += sk / T;
          hv += sv / T;
          ++pairs;
        }
      }
      kv_matrix.push_back(row);
    }
    // Query heads' attention maps (flattened, lower triangle included as is).
    double ha = 0;
    size_t apairs = 0;
    nlohmann::json attn_matrix = nlohmann::json::array();
    for (size_t a = 0; a < tr.n_heads; ++a) {
      nlohmann::json row = nlohmann::json::array();
      for (size_t b = 0; b < tr.n_heads; ++b) {
        const double cs = Cosine(tr.Map(l, a).data(), tr.Map(l, b).data(), T * T);
        row.push_back(cs);
        if (a != b) {
          ha += cs;
          ++apairs;
        }
      }
      attn_matrix.push_back(row);
    }
    const Summary sk = Summarize(ak), sv = Summarize(av);
    const nlohmann::json next_k =
        l + 1 < L ? nlohmann::json(cross_layer_k[l][l + 1]) : nlohmann::json(nullptr);
    const nlohmann::json next_v =
        l + 1 < L ? nlohmann::json(cross_layer_v[l][l + 1]) : nlohmann::json(nullptr);
    out.table.Add({l, sk.mean, sk.median, above(ak), sv.mean, sv.median, above(av),
                   pairs ? nlohmann::json(hk / pairs) : nlohmann::json(nullptr),
                   pairs ? nlohmann::json(hv / pairs) : nlohmann::json(nullptr),
                   apairs ? nlohmann::json(ha / apairs) : nlohmann::json(nullptr), next_k, next_v});
    cross_head.push_back({{"layer", l}, {"k", kv_matrix}, {"attention", attn_matrix}});
  }
  out.json["cross_layer_k"] = cross_layer_k;  // [layer][layer]
  out.json["cross_layer_v"] = cross_layer_v;
  out.json["cross_head"] = cross_head;
  return out;
}

}  // namespace kvlab::analysis
