// tokens: how much attention each position receives (mean over layers, heads and the queries that can see
// it), which tokens draw the most, and whether heavy hitters stay heavy: at checkpoints through the text,
// the top 10% of positions by accumulated attention (H2O's score) compared with the final top 10%, and the
// same for the mean attention per query that could see the position.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "kvlab/analysis/analysis.h"
#include "kvlab/analysis/kv_trace.h"

namespace kvlab::analysis {

namespace {
// Top `k` positions by score among [0, n), as a sorted list.
std::vector<size_t> TopPositions(const std::vector<double>& score, size_t n, size_t k) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  idx.resize(std::min(k, n));
  std::sort(idx.begin(), idx.end());
  return idx;
}
}  // namespace

AnalysisOutput AnalyzeTokens(const AnalysisContext& c) {
  TraceOptions to;
  to.record_attention = true;
  const KvTrace tr = RunTrace(*c.model, c.ids, to);
  const size_t T = tr.tokens, heads = tr.n_layers * tr.n_heads;
  // total[p]: attention position p received, summed over layers, heads and queries.
  std::vector<double> total(T, 0.0);
  for (size_t l = 0; l < tr.n_layers; ++l) {
    for (size_t h = 0; h < tr.n_heads; ++h) {
      const auto map = tr.Map(l, h);
      for (size_t q = 0; q < T; ++q) {
        for (size_t k = 0; k <= q; ++k) total[k] += map[q * T + k];
      }
    }
  }
  std::vector<double> mean(T);
  for (size_t p = 0; p < T; ++p) mean[p] = total[p] / static_cast<double>(heads * (T - p));

  const size_t k_final = std::max<size_t>(1, static_cast<size_t>(std::ceil(0.1 * T)));
  const std::vector<size_t> final_hh = TopPositions(total, T, k_final);
  const std::vector<size_t> final_mean_hh = TopPositions(mean, T, k_final);
  AnalysisOutput out;
  out.table.columns = {"position", "token_id", "token", "received_mean", "received_total", "heavy_hitter"};
  for (size_t p = 0; p < T; ++p) {
    const std::string text = c.tokenizer != nullptr ? std::string(c.tokenizer->Piece(tr.ids[p])) : "";
    out.table.Add(
        {p, tr.ids[p], text, mean[p], total[p], std::binary_search(final_hh.begin(), final_hh.end(), p)});
  }
  // Heavy-hitter persistence at 8 checkpoints.
  nlohmann::json persistence = nlohmann::json::array();
  std::vector<size_t> previous;
  for (int i = 1; i <= 8; ++i) {
    const size_t upto = std::max<size_t>(1, T * i / 8);
    std::vector<double> score(upto, 0.0);
    for (size_t l = 0; l < tr.n_layers; ++l) {
      for (size_t h = 0; h < tr.n_heads; ++h) {
        const auto map = tr.Map(l, h);
        for (size_t q = 0; q < upto; ++q) {
          for (size_t k = 0; k <= q; ++k) score[k] += map[q * T + k];
        }
      }
    }
    const size_t k = std::max<size_t>(1, static_cast<size_t>(std::ceil(0.1 * upto)));
    const std::vector<size_t> hh = TopPositions(score, upto, k);
    // The same with the mean per query that saw the position: accumulated scores favour old positions
    // (they had more queries), the mean does not.
    std::vector<double> mean_score(upto);
    for (size_t p = 0; p < upto; ++p) mean_score[p] = score[p] / static_cast<double>(upto - p);
    const std::vector<size_t> hh_mean = TopPositions(mean_score, upto, k);
    std::vector<size_t> common_mean;
    std::set_intersection(hh_mean.begin(), hh_mean.end(), final_mean_hh.begin(), final_mean_hh.end(),
                          std::back_inserter(common_mean));
    std::vector<size_t> common;
    std::set_intersection(hh.begin(), hh.end(), final_hh.begin(), final_hh.end(), std::back_inserter(common));
    std::vector<size_t> kept;
    std::set_intersection(previous.begin(), previous.end(), hh.begin(), hh.end(), std::back_inserter(kept));
    persistence.push_back(
        {{"step", upto},
         {"heavy_hitters", hh.size()},
         {"still_heavy_at_end", static_cast<double>(common.size()) / hh.size()},
         {"kept_from_previous", previous.empty() ? 1.0 : static_cast<double>(kept.size()) / previous.size()},
         {"mean_still_heavy_at_end", static_cast<double>(common_mean.size()) / hh_mean.size()}});
    previous = hh;
  }
  // Tokens (ids) that draw the most attention on average, among ids seen at least twice.
  std::map<int32_t, std::pair<double, int>> by_id;
  for (size_t p = 0; p < T; ++p) {
    by_id[tr.ids[p]].first += mean[p];
    by_id[tr.ids[p]].second += 1;
  }
  std::vector<std::pair<double, int32_t>> ranked;
  for (const auto& [id, v] : by_id) {
    if (v.second >= 2) ranked.push_back({v.first / v.second, id});
  }
  std::sort(ranked.rbegin(), ranked.rend());
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < std::min<size_t>(ranked.size(), 15); ++i) {
    const int32_t id = ranked[i].second;
    top.push_back({{"token_id", id},
                   {"token", c.tokenizer ? std::string(c.tokenizer->Piece(id)) : ""},
                   {"received_mean", ranked[i].first},
                   {"count", by_id[id].second}});
  }
  out.json["heavy_hitter_persistence"] = persistence;
  out.json["top_tokens"] = top;
  out.json["heavy_hitters_final"] = final_hh;
  return out;
}

}  // namespace kvlab::analysis
