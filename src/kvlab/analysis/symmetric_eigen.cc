#include "kvlab/analysis/symmetric_eigen.h"

#include <string>

#include "kvlab/util/error.h"

extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda,
                        double* w, double* work, const int* lwork, int* iwork, const int* liwork, int* info);

namespace kvlab::analysis {

SymmetricEigen EigenSymmetric(std::vector<double> a, size_t n) {
  KVLAB_CHECK(a.size() == n * n);
  SymmetricEigen out;
  if (n == 0) return out;
  const int ni = static_cast<int>(n);
  std::vector<double> w(n);
  // Symmetric input: row-major and column-major are the same matrix. "L" in Fortran's column-major view is
  // our upper triangle.
  int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
  double work_query = 0;
  dsyevd_("V", "L", &ni, a.data(), &ni, w.data(), &work_query, &lwork, &iwork_query, &liwork, &info);
  KVLAB_CHECK(info == 0);
  lwork = static_cast<int>(work_query);
  liwork = iwork_query;
  std::vector<double> work(static_cast<size_t>(lwork));
  std::vector<int> iwork(static_cast<size_t>(liwork));
  dsyevd_("V", "L", &ni, a.data(), &ni, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
  if (info != 0)
    throw Error("eigendecomposition", "LAPACK dsyevd did not converge (info " + std::to_string(info) + ")");
  // LAPACK: ascending values, eigenvector j in column j of the column-major result (a[j * n + i]).
  out.values.resize(n);
  out.vectors.resize(n * n);
  for (size_t j = 0; j < n; ++j) {
    const size_t src = n - 1 - j;
    out.values[j] = w[src];
    for (size_t i = 0; i < n; ++i) out.vectors[i * n + j] = a[src * n + i];
  }
  return out;
}

}  // namespace kvlab::analysis
