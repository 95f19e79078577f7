#include "kvlab/analysis/analysis.h"

#include "kvlab/util/error.h"

namespace kvlab::analysis {

const std::vector<ModeInfo>& AnalysisModes() {
  static const std::vector<ModeInfo> modes = {
      {"layers", "per-layer K/V norms and sparsity, attention entropy, pruning potential", AnalyzeLayers},
      {"heads", "per-head attention entropy/sparsity heatmaps and sink/local/global types", AnalyzeHeads},
      {"tokens", "attention received by position and token, heavy-hitter persistence", AnalyzeTokens},
      {"embeddings", "per-channel magnitude and sparsity of K and V, outlier channels", AnalyzeEmbeddings},
      {"generation", "cache and attention over early/middle/late generation", AnalyzeGeneration},
      {"similarity", "adjacent-token, cross-layer and cross-head similarity of K/V", AnalyzeSimilarity},
      {"tucker", "Tucker (HOSVD/HOOI) of each layer's K/V: error, compression, perplexity", AnalyzeTucker},
      {"prune", "remove layers / KV heads: perplexity and KL change", AnalyzePrune},
      {"compress-dims", "keep the top-r K/V dimensions per head: perplexity and KL change",
       AnalyzeCompressDims},
  };
  return modes;
}

const ModeInfo& FindAnalysisMode(const std::string& name) {
  for (const ModeInfo& m : AnalysisModes()) {
    if (name == m.name) return m;
  }
  std::string names;
  for (const ModeInfo& m : AnalysisModes()) names += (names.empty() ? "" : ", ") + std::string(m.name);
  throw Error("--mode", "unknown analysis mode '" + name + "'", "one of " + names + ", or all");
}

AnalysisOutput RunAnalysis(const std::string& mode, const AnalysisContext& context) {
  const ModeInfo& m = FindAnalysisMode(mode);
  KVLAB_CHECK(context.model != nullptr);
  if (context.ids.size() < 2) throw Error("--text", "needs at least 2 tokens to analyze");
  AnalysisOutput out = m.run(context);
  const ModelConfig& c = context.model->config();
  out.json["tokens"] = context.ids.size();
  out.json["model_path"] = context.model_path.string();
  out.json["config"] = {{"n_layers", c.n_layers},
                        {"n_heads", c.n_heads},
                        {"n_kv_heads", c.n_kv_heads},
                        {"head_dim", c.head_dim},
                        {"vocab", c.vocab_size}};
  return out;
}

}  // namespace kvlab::analysis
