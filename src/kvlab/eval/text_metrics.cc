#include "kvlab/eval/text_metrics.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "kvlab/util/error.h"

namespace kvlab {

namespace {
using NgramCounts = std::map<std::vector<int32_t>, int64_t>;

NgramCounts CountNgrams(std::span<const int32_t> ids, int n) {
  NgramCounts counts;
  for (size_t i = 0; i + static_cast<size_t>(n) <= ids.size(); ++i) {
    ++counts[std::vector<int32_t>(ids.begin() + i, ids.begin() + i + n)];
  }
  return counts;
}

// Clipped matches and candidate n-grams of one pair, added to the corpus totals.
void AddPair(std::span<const int32_t> cand, std::span<const int32_t> ref, int max_n,
             std::vector<int64_t>& matches, std::vector<int64_t>& totals) {
  for (int n = 1; n <= max_n; ++n) {
    const NgramCounts c = CountNgrams(cand, n), r = CountNgrams(ref, n);
    for (const auto& [gram, count] : c) {
      const auto it = r.find(gram);
      if (it != r.end()) matches[n - 1] += std::min(count, it->second);
      totals[n - 1] += count;
    }
  }
}

double Combine(const std::vector<int64_t>& matches, const std::vector<int64_t>& totals, int64_t cand_len,
               int64_t ref_len) {
  if (cand_len == 0 || matches[0] == 0) return 0.0;
  double log_p = 0;
  for (size_t n = 0; n < matches.size(); ++n) {
    // Unigrams unsmoothed; n >= 2 add-one (Lin & Och 2004), so a short candidate is not zeroed.
    const double m = static_cast<double>(matches[n]) + (n == 0 ? 0.0 : 1.0);
    const double t = static_cast<double>(totals[n]) + (n == 0 ? 0.0 : 1.0);
    log_p += std::log(m / t);
  }
  log_p /= static_cast<double>(matches.size());
  const double bp = cand_len < ref_len ? std::exp(1.0 - static_cast<double>(ref_len) / cand_len) : 1.0;
  return bp * std::exp(log_p);
}
}  // namespace

double CorpusBleu(const std::vector<std::vector<int32_t>>& candidates,
                  const std::vector<std::vector<int32_t>>& references, int max_n) {
  KVLAB_CHECK(candidates.size() == references.size() && max_n >= 1);
  std::vector<int64_t> matches(max_n, 0), totals(max_n, 0);
  int64_t cand_len = 0, ref_len = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    AddPair(candidates[i], references[i], max_n, matches, totals);
    cand_len += static_cast<int64_t>(candidates[i].size());
    ref_len += static_cast<int64_t>(references[i].size());
  }
  return Combine(matches, totals, cand_len, ref_len);
}

double SentenceBleu(std::span<const int32_t> candidate, std::span<const int32_t> reference, int max_n) {
  KVLAB_CHECK(max_n >= 1);
  std::vector<int64_t> matches(max_n, 0), totals(max_n, 0);
  AddPair(candidate, reference, max_n, matches, totals);
  return Combine(matches, totals, static_cast<int64_t>(candidate.size()),
                 static_cast<int64_t>(reference.size()));
}

int64_t LcsLength(std::span<const int32_t> a, std::span<const int32_t> b) {
  // One row of the classic DP table: row[j] = LCS(a[0..i), b[0..j)).
  std::vector<int64_t> row(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    int64_t diag = 0;  // LCS(a[0..i-1), b[0..j-1))
    for (size_t j = 1; j <= b.size(); ++j) {
      const int64_t up = row[j];
      row[j] = a[i - 1] == b[j - 1] ? diag + 1 : std::max(row[j], row[j - 1]);
      diag = up;
    }
  }
  return row[b.size()];
}

double RougeL(std::span<const int32_t> candidate, std::span<const int32_t> reference) {
  if (candidate.empty() && reference.empty()) return 1.0;
  if (candidate.empty() || reference.empty()) return 0.0;
  const double lcs = static_cast<double>(LcsLength(candidate, reference));
  if (lcs == 0) return 0.0;
  const double p = lcs / static_cast<double>(candidate.size()),
               r = lcs / static_cast<double>(reference.size());
  return 2 * p * r / (p + r);
}

int64_t CommonPrefixLength(std::span<const int32_t> a, std::span<const int32_t> b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return static_cast<int64_t>(i);
}

}  // namespace kvlab
