// Thread count for every parallel kernel, set once per process. The team of ops/thread_team.h is the only
// thread pool: it keeps its workers alive between runs (a decode step creates no threads), and OpenBLAS is
// called from inside them, single-threaded, on each thread's share of the work.
#pragma once

namespace kvlab {

// n <= 0: all hardware threads. Also sets OpenBLAS to one thread so that there is one pool, not two.
void SetNumThreads(int n);
int NumThreads();

}  // namespace kvlab
