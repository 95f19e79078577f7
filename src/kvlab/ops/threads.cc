#include "kvlab/ops/threads.h"

#include <cblas.h>

#include <thread>

namespace kvlab {

namespace {
int g_threads = 0;
}

void SetNumThreads(int n) {
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  g_threads = n;
  // OpenBLAS gets no threads of its own: MatMul splits the work over the team's threads
  // (ops/thread_team.h) and calls a single-threaded sgemm on each. Two pools on 2 cores would oversubscribe
  // them, and OpenBLAS's idle workers spin (sched_yield) for ~0.1 s after every call, right into the next
  // decode steps.
  openblas_set_num_threads(1);
}

int NumThreads() {
  if (g_threads == 0) SetNumThreads(0);
  return g_threads;
}

}  // namespace kvlab
