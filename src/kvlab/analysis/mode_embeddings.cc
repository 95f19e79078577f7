// embeddings: per-channel (kv_head × head_dim) magnitude and sparsity of each layer's K and V, and the
// outlier channels (mean |x| above 3× the median channel). Keys typically show a few outlier channels and
// values none — why KIVI quantizes keys per channel and values per token.
#include "kvlab/analysis/analysis.h"
#include "kvlab/analysis/channel_stats.h"
#include "kvlab/analysis/kv_trace.h"

namespace kvlab::analysis {

AnalysisOutput AnalyzeEmbeddings(const AnalysisContext& c) {
  const KvTrace tr = RunTrace(*c.model, c.ids);
  const size_t channels = tr.n_kv_heads * tr.head_dim;
  AnalysisOutput out;
  out.table.columns = {"layer",    "kind",    "channel", "kv_head",  "dim",
                       "mean_abs", "max_abs", "rms",     "sparsity", "outlier"};
  nlohmann::json layers = nlohmann::json::array();
  for (size_t l = 0; l < tr.n_layers; ++l) {
    nlohmann::json entry = {{"layer", l}};
    for (const char* kind : {"K", "V"}) {
      const auto rows = kind[0] == 'K' ? tr.LayerKeys(l) : tr.LayerValues(l);
      const ChannelStats s = MeasureChannels(rows, channels);
      for (size_t ch = 0; ch < channels; ++ch) {
        const bool outlier = std::find(s.outliers.begin(), s.outliers.end(), ch) != s.outliers.end();
        out.table.Add({l, kind, ch, ch / tr.head_dim, ch % tr.head_dim, s.mean_abs[ch], s.max_abs[ch],
                       s.rms[ch], s.sparsity[ch], outlier});
      }
      entry[kind] = {{"outliers", s.outliers},
                     {"max_over_median", s.max_over_median},
                     {"median_mean_abs", s.median_mean_abs},
                     {"mean_abs", s.mean_abs}};
    }
    layers.push_back(entry);
  }
  out.json["layers"] = layers;
  out.json["outlier_rule"] = "mean |x| > 3 x median channel mean |x|";
  return out;
}

}  // namespace kvlab::analysis
