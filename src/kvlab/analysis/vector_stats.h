// Small vector measures shared by the analysis modes.
#pragma once

#include <cstddef>
#include <vector>

namespace kvlab::analysis {

double L2Norm(const float* x, size_t n);
// Cosine similarity; 0 when either vector is zero.
double Cosine(const float* a, const float* b, size_t n);

struct Summary {
  double mean = 0, stddev = 0, min = 0, median = 0, p90 = 0, max = 0;
  size_t count = 0;
};
Summary Summarize(std::vector<double> values);

}  // namespace kvlab::analysis
