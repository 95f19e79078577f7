// generation: the first --prompt-tokens of the text as the prompt, then greedy generation up to the token
// limit; the generated steps are split into early / middle / late thirds and, per stage and layer, we
// report how attention is spread (entropy, sparsity), where it goes (sinks, local window, the prompt) and
// how the cache grows (slots, bytes, norms of the new keys and values).
#include <algorithm>
#include <cmath>

#include "kvlab/analysis/analysis.h"
#include "kvlab/analysis/attention_stats.h"
#include "kvlab/analysis/kv_trace.h"
#include "kvlab/analysis/vector_stats.h"

namespace kvlab::analysis {

AnalysisOutput AnalyzeGeneration(const AnalysisContext& c) {
  const size_t total = c.ids.size();
  const size_t prompt =
      std::clamp<size_t>(static_cast<size_t>(std::max(c.options.prompt_tokens, 1)), 1, total - 1);
  TraceOptions to;
  to.record_attention = true;
  to.generate = static_cast<int32_t>(total - prompt);
  const KvTrace tr = RunTrace(*c.model, std::span<const int32_t>(c.ids.data(), prompt), to);
  const size_t T = tr.tokens;
  const size_t gen = T - prompt;
  const char* names[3] = {"early", "middle", "late"};
  const int64_t bytes_per_token = c.model->config().KvBytesPerToken();
  const size_t sinks = c.options.head_types.sink_positions, window = c.options.head_types.local_window;
  AnalysisOutput out;
  out.table.columns = {"stage",         "layer",        "first_step", "last_step",   "entropy_norm",
                       "sparsity_0.01", "sink_mass",    "local_mass", "prompt_mass", "new_k_norm",
                       "new_v_norm",    "cache_tokens", "cache_bytes"};
  nlohmann::json stages = nlohmann::json::array();
  for (size_t s = 0; s < 3; ++s) {
    const size_t begin = prompt + gen * s / 3,
                 end = prompt + gen * (s + 1) / 3;  // query positions [begin, end)
    if (begin >= end) continue;
    double stage_entropy = 0;
    for (size_t l = 0; l < tr.n_layers; ++l) {
      double ent = 0, sparse = 0, sink = 0, local = 0, from_prompt = 0, kn = 0, vn = 0;
      size_t rows = 0;
      for (size_t h = 0; h < tr.n_heads; ++h) {
        const auto map = tr.Map(l, h);
        for (size_t q = begin; q < end; ++q) {
          const std::span<const float> row = map.subspan(q * T, q + 1);
          ent += NormalizedEntropy(row);
          sparse += SparsityBelow(row, 0.01f);
          for (size_t k = 0; k <= q; ++k) {
            if (k < sinks)
              sink += row[k];
            else if (k + window > q)
              local += row[k];
            if (k < prompt) from_prompt += row[k];
          }
          ++rows;
        }
      }
      const auto keys = tr.LayerKeys(l), values = tr.LayerValues(l);
      const size_t kv_rows = (end - begin) * tr.n_kv_heads;
      for (size_t r = begin * tr.n_kv_heads; r < end * tr.n_kv_heads; ++r) {
        kn += L2Norm(keys.data() + r * tr.head_dim, tr.head_dim) / kv_rows;
        vn += L2Norm(values.data() + r * tr.head_dim, tr.head_dim) / kv_rows;
      }
      const double n = static_cast<double>(rows);
      stage_entropy += ent / n / tr.n_layers;
      out.table.Add({names[s], l, begin - prompt, end - 1 - prompt, ent / n, sparse / n, sink / n, local / n,
                     from_prompt / n, kn, vn, end, static_cast<int64_t>(end) * bytes_per_token});
    }
    stages.push_back({{"stage", names[s]},
                      {"first_position", begin},
                      {"end_position", end},
                      {"entropy_norm", stage_entropy}});
  }
  out.json["prompt_tokens"] = prompt;
  out.json["generated_tokens"] = gen;
  out.json["stages"] = stages;
  if (c.tokenizer != nullptr) {
    out.json["generated_text"] =
        c.tokenizer->Decode(std::vector<int32_t>(tr.ids.begin() + prompt, tr.ids.end()));
  }
  return out;
}

}  // namespace kvlab::analysis
