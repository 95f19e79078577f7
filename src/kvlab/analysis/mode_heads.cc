// heads: per query head (layer × head) attention entropy and sparsity, its share of mass on the sink
// positions and on the local window, its type (sink / local / global, head_types.h) and its pruning
// potential (share of slots it can lose keeping 90% of its mass).
#include "kvlab/analysis/analysis.h"
#include "kvlab/analysis/attention_summary.h"
#include "kvlab/analysis/kv_trace.h"

namespace kvlab::analysis {

AnalysisOutput AnalyzeHeads(const AnalysisContext& c) {
  TraceOptions to;
  to.record_attention = true;
  const KvTrace tr = RunTrace(*c.model, c.ids, to);
  const HeadTypeOptions& ho = c.options.head_types;
  const float sparse_at[] = {0.01f};
  AnalysisOutput out;
  out.table.columns = {"layer",         "head",      "kv_head",    "entropy", "entropy_norm",
                       "sparsity_0.01", "sink_mass", "local_mass", "type",    "prune_potential_90"};
  nlohmann::json entropy = nlohmann::json::array(), sparsity = nlohmann::json::array(),
                 types = nlohmann::json::array(), potential = nlohmann::json::array();
  nlohmann::json counts = {{"sink", 0}, {"local", 0}, {"global", 0}};
  for (size_t l = 0; l < tr.n_layers; ++l) {
    nlohmann::json e = nlohmann::json::array(), s = nlohmann::json::array(), t = nlohmann::json::array(),
                   p = nlohmann::json::array();
    for (size_t h = 0; h < tr.n_heads; ++h) {
      const AttentionSummary a = SummarizeAttention(tr.Map(l, h), tr.tokens, sparse_at);
      const HeadMass m = MeasureHeadMass(tr.Map(l, h), tr.tokens, ho);
      const char* type = HeadTypeName(ClassifyHead(m, ho));
      counts[type] = counts[type].get<int>() + 1;
      out.table.Add({l, h, h / (tr.n_heads / tr.n_kv_heads), a.entropy, a.normalized_entropy, a.sparsity[0],
                     m.sink, m.local, type, 1.0 - a.needed_90});
      e.push_back(a.normalized_entropy);
      s.push_back(a.sparsity[0]);
      t.push_back(type);
      p.push_back(1.0 - a.needed_90);
    }
    entropy.push_back(e);
    sparsity.push_back(s);
    types.push_back(t);
    potential.push_back(p);
  }
  out.json["entropy_norm"] = entropy;  // [layer][head]
  out.json["sparsity_0.01"] = sparsity;
  out.json["types"] = types;
  out.json["prune_potential_90"] = potential;
  out.json["type_counts"] = counts;
  out.json["type_rule"] = {
      {"sink_positions", ho.sink_positions}, {"local_window", ho.local_window}, {"threshold", ho.threshold}};
  return out;
}

}  // namespace kvlab::analysis
