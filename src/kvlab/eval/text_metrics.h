// BLEU and ROUGE-L over token ids (docs/METRICS.md "BLEU", "ROUGE-L").
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kvlab {

// Corpus BLEU (Papineni et al. 2002) of candidates against one reference each: geometric mean of the
// modified n-gram precisions for n = 1..max_n (counts summed over the corpus), times the brevity penalty
// exp(1 - R/C) when C < R. Smoothing (Lin & Och 2004 "add-one" for n > 1, Chen & Cherry method 2): n-gram
// precisions for n >= 2 are (matches + 1) / (candidate n-grams + 1), so a short candidate with no 4-gram
// match does not zero the score; identical sequences give 1 exactly. Empty candidates give 0.
double CorpusBleu(const std::vector<std::vector<int32_t>>& candidates,
                  const std::vector<std::vector<int32_t>>& references, int max_n = 4);
double SentenceBleu(std::span<const int32_t> candidate, std::span<const int32_t> reference, int max_n = 4);

// Length of the longest common subsequence.
int64_t LcsLength(std::span<const int32_t> a, std::span<const int32_t> b);
// ROUGE-L F1 (Lin 2004, beta = 1): P = LCS/|candidate|, R = LCS/|reference|, F = 2PR/(P+R); 0 if either is
// empty (1 if both are).
double RougeL(std::span<const int32_t> candidate, std::span<const int32_t> reference);

// Length of the common prefix.
int64_t CommonPrefixLength(std::span<const int32_t> a, std::span<const int32_t> b);

}  // namespace kvlab
