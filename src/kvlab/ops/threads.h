// Thread count for every parallel kernel (OpenMP regions and OpenBLAS), set once per process.
// OpenMP keeps its worker threads alive between regions, so a decode step creates no threads.
#pragma once

namespace kvlab {

// n <= 0: all hardware threads. Also sets OpenBLAS's thread count so the two never oversubscribe.
void SetNumThreads(int n);
int NumThreads();

}  // namespace kvlab
