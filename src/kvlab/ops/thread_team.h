// kvlab's one pool of worker threads, for the loops of a decode step (mat-vecs, attention), prefill and
// weight conversion.
//
// Why not OpenMP: a decode step of a 12-layer model has ~60 parallel regions of 10-200 µs each, and a
// libgomp fork/join costs ~3 µs on these VMs (two barrier passes through shared state), where one round
// trip between two spinning threads costs ~0.8 µs. The team's workers spin for a while after each task,
// so the next region starts with one cache-line handoff, then sleep (futex) so an idle process burns no CPU.
#pragma once

#include <cstddef>
#include <type_traits>

namespace kvlab {

namespace detail {
using TeamTask = void (*)(void* body, size_t t, size_t n);
void RunOnTeam(size_t n, TeamTask task, void* body);
}  // namespace detail

// Runs body(t, n) for every t in [0, n) at once, one call per thread (the calling thread is t = 0), and
// returns when all have returned. n is clamped to [1, NumThreads()]. body must not throw and must not wait
// for another t: a call made while the team is busy (from inside a body, or from a second caller thread)
// runs its n bodies one after another on the calling thread instead.
template <typename Body>
void ParallelRun(size_t n, Body&& body) {
  using B = std::remove_reference_t<Body>;
  detail::RunOnTeam(
      n, [](void* b, size_t t, size_t nt) { (*static_cast<B*>(b))(t, nt); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

// While the calling thread waits in the team (a worker spinning for its next task, the caller of
// ParallelRun for the workers to finish theirs), it requests the lines of [from, from + bytes) into its L2,
// a few per spin, front to back, until the range is done or its next task starts (which drops what is
// left). A decode step's memory bus is otherwise idle in those waits; MatVecMany gives each thread the
// first rows it will read in the step's next mat-vec region (ops/matmul.h). A hint: it never faults and
// changes no result. Replaces the thread's previous range.
void PrefetchWhileWaiting(const void* from, size_t bytes);

}  // namespace kvlab
