// Perplexity and KL divergence from two traces' next-token log-probabilities (kv_trace.h).
#pragma once

#include "kvlab/analysis/kv_trace.h"

namespace kvlab::analysis {

struct Quality {
  double ppl = 0;  // exp(mean NLL of ids[t+1] under the distribution after token t)
  double nll_mean = 0;
  double kl_mean = 0;  // mean over positions of KL(reference || test), nats
  double kl_max = 0;
  double top1 = 1;  // fraction of positions where both argmax agree
};

// Perplexity of one trace on its own ids (no reference: KL 0, top1 1).
Quality Perplexity(const KvTrace& t);
// `test` scored against `reference` (same ids, checked).
Quality Compare(const KvTrace& reference, const KvTrace& test);

}  // namespace kvlab::analysis
