#include "kvlab/analysis/quality.h"

#include <algorithm>
#include <cmath>

#include "kvlab/util/error.h"

namespace kvlab::analysis {

Quality Perplexity(const KvTrace& t) {
  Quality q;
  if (t.tokens < 2) return q;
  double nll = 0;
  for (size_t i = 0; i + 1 < t.tokens; ++i) nll -= t.LogProbs(i)[t.ids[i + 1]];
  q.nll_mean = nll / static_cast<double>(t.tokens - 1);
  q.ppl = std::exp(q.nll_mean);
  return q;
}

Quality Compare(const KvTrace& reference, const KvTrace& test) {
  KVLAB_CHECK(reference.ids == test.ids && reference.vocab == test.vocab);
  Quality q = Perplexity(test);
  if (test.tokens < 2) return q;
  double kl_sum = 0;
  size_t agree = 0;
  for (size_t i = 0; i + 1 < test.tokens; ++i) {
    const float* p = reference.LogProbs(i);
    const float* r = test.LogProbs(i);
    double kl = 0;
    for (size_t v = 0; v < test.vocab; ++v) kl += std::exp(static_cast<double>(p[v])) * (p[v] - r[v]);
    kl = std::max(kl, 0.0);  // rounding can make an exact match slightly negative
    kl_sum += kl;
    q.kl_max = std::max(q.kl_max, kl);
    agree += std::max_element(p, p + test.vocab) - p == std::max_element(r, r + test.vocab) - r ? 1 : 0;
  }
  q.kl_mean = kl_sum / static_cast<double>(test.tokens - 1);
  q.top1 = static_cast<double>(agree) / static_cast<double>(test.tokens - 1);
  return q;
}

}  // namespace kvlab::analysis
