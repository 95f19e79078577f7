// Thread count for every parallel kernel, set once per process. OpenMP is the only thread pool: it keeps
// its workers alive between regions (a decode step creates no threads), and OpenBLAS is called from inside
// its regions, single-threaded, on each thread's share of the work.
#pragma once

namespace kvlab {

// n <= 0: all hardware threads. Also sets OpenBLAS to one thread so the two pools never oversubscribe.
void SetNumThreads(int n);
int NumThreads();

}  // namespace kvlab
