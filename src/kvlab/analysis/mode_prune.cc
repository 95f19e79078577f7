// prune: perplexity and KL (vs the unpruned model on the same text) with the layers / KV heads given by
// --prune-layers / --prune-heads removed (prune.h says exactly what removing means), plus the same for
// every single layer and every single KV head: the per-layer and per-head pruning sensitivity.
#include "kvlab/analysis/analysis.h"
#include "kvlab/analysis/kv_trace.h"
#include "kvlab/analysis/prune.h"
#include "kvlab/analysis/quality.h"

namespace kvlab::analysis {

namespace {
// Every run, the reference included, loads the weights afresh as f32 (LoadModel's default), so an empty
// spec runs exactly the reference computation.
KvTrace RunPrunedTrace(const AnalysisContext& c, const PruneSpec& spec) {
  LoadedModel loaded = LoadModel(c.model_path);
  ApplyPrune(loaded, spec);
  const Model pruned(std::move(loaded));
  return RunTrace(pruned, c.ids);
}

Quality RunPruned(const AnalysisContext& c, const KvTrace& ref, const PruneSpec& spec) {
  return Compare(ref, RunPrunedTrace(c, spec));
}
}  // namespace

AnalysisOutput AnalyzePrune(const AnalysisContext& c) {
  const ModelConfig& cfg = c.model->config();
  const PruneSpec spec = ParsePruneSpec(c.options.prune_layers, c.options.prune_heads, cfg);
  const KvTrace ref = RunPrunedTrace(c, PruneSpec{});
  const Quality base = Perplexity(ref);
  AnalysisOutput out;
  out.table.columns = {"target", "layer", "kv_head", "ppl", "ppl_change", "kl_mean", "kl_max", "top1"};
  const Quality chosen = RunPruned(c, ref, spec);
  out.table.Add({spec.ToString(), nullptr, nullptr, chosen.ppl, chosen.ppl - base.ppl, chosen.kl_mean,
                 chosen.kl_max, chosen.top1});
  nlohmann::json layer_kl = nlohmann::json::array(), head_kl = nlohmann::json::array();
  nlohmann::json head_dppl = nlohmann::json::array();
  for (size_t l = 0; l < static_cast<size_t>(cfg.n_layers); ++l) {
    PruneSpec one;
    one.layers = {l};
    const Quality q = RunPruned(c, ref, one);
    out.table.Add({"layer", l, nullptr, q.ppl, q.ppl - base.ppl, q.kl_mean, q.kl_max, q.top1});
    layer_kl.push_back(q.kl_mean);
    nlohmann::json kl_row = nlohmann::json::array(), dppl_row = nlohmann::json::array();
    for (size_t h = 0; h < static_cast<size_t>(cfg.n_kv_heads); ++h) {
      PruneSpec head;
      head.heads = {{l, h}};
      const Quality qh = RunPruned(c, ref, head);
      out.table.Add({"kv_head", l, h, qh.ppl, qh.ppl - base.ppl, qh.kl_mean, qh.kl_max, qh.top1});
      kl_row.push_back(qh.kl_mean);
      dppl_row.push_back(qh.ppl - base.ppl);
    }
    head_kl.push_back(kl_row);
    head_dppl.push_back(dppl_row);
  }
  out.json["ppl_full"] = base.ppl;
  out.json["spec"] = spec.ToString();
  out.json["pruned"] = {{"ppl", chosen.ppl},
                        {"ppl_change", chosen.ppl - base.ppl},
                        {"kl_mean", chosen.kl_mean},
                        {"kl_max", chosen.kl_max},
                        {"top1", chosen.top1}};
  out.json["layer_kl"] = layer_kl;  // [layer]
  out.json["head_kl"] = head_kl;    // [layer][kv_head]
  out.json["head_ppl_change"] = head_dppl;
  out.json["simulation"] =
      "layer removed: w_o and w_down zeroed (the block is the identity); kv head removed: the w_o columns of "
      "its query heads zeroed (their attention output contributes nothing)";
  return out;
}

}  // namespace kvlab::analysis
