// Summary of a sweep's rows: one table row per configuration (Markdown and CSV) and, per model and budget
// fraction, the winning policy: lowest mean KL against the full cache, ties broken by lower ppl.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kvlab {

struct Winner {
  std::string model;
  std::string text;
  double budget_fraction = 0;
  std::string policy;  // canonical spec of the winner
  double kl_mean = 0;
  double ppl = 0;
  size_t candidates = 0;  // rows that competed
};

// Rows without kl_mean (or ppl when there is no KL) or without a budget do not compete.
std::vector<Winner> FindWinners(const std::vector<nlohmann::json>& rows);

// The columns of both tables, in order (flat row keys; CSV holds every scalar field listed here).
const std::vector<std::string>& SummaryColumns();

std::string SummaryMarkdown(const std::vector<nlohmann::json>& rows);
std::string SummaryCsv(const std::vector<nlohmann::json>& rows);

}  // namespace kvlab
