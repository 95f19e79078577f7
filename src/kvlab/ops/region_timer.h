// Where a decode step's wall time goes: the parallel regions the calling thread runs, by what they read
// (the weights, in the mat-vecs; the KV cache, in the attention; anything else), timed on that thread,
// and what is left is the serial work between the regions. `kvlab bench` reports it per step beside the
// bandwidth bound, so a step's shortfall from the bound can be located: a region kind reading below the
// bound, or time in which no region streams memory at all.
//
// The timer is the calling thread's own (thread_local): nothing is shared, and regions that other threads
// start (a concurrent caller, a nested call inside a region) are not counted. While no timer is started a
// region pays one thread_local load and a branch.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>

namespace kvlab {

enum class RegionKind : uint8_t {
  kWeights,    // mat-vecs and mat-muls: stream a weight matrix (ops/matmul.h)
  kAttention,  // attention over the KV cache (policies' Observe runs inside it)
  kOther,      // anything else run on the team (a policy's eviction on several threads, ...)
};
inline constexpr size_t kRegionKinds = 3;

struct RegionTimes {
  std::array<int64_t, kRegionKinds> ns{};     // wall time of the calling thread's regions, by kind
  std::array<int64_t, kRegionKinds> count{};  // regions run, by kind
  // Part of ns: the calling thread waiting at a region's end for the other threads to finish theirs.
  std::array<int64_t, kRegionKinds> wait_ns{};

  int64_t Ns(RegionKind k) const { return ns[static_cast<size_t>(k)]; }
  int64_t TotalNs() const { return std::accumulate(ns.begin(), ns.end(), int64_t{0}); }
  int64_t TotalWaitNs() const { return std::accumulate(wait_ns.begin(), wait_ns.end(), int64_t{0}); }
  RegionTimes& operator+=(const RegionTimes& o);
};

// Until StopRegionTimer, every parallel region (ParallelRun, ops/thread_team.h) that this thread runs adds
// its wall time to *times under the kind of the innermost RegionKindScope around it (kOther outside any).
// Starting a timer while one runs replaces it. *times must outlive the timing.
void StartRegionTimer(RegionTimes* times);
void StopRegionTimer();

// The kind of the regions this thread starts inside the scope (scopes nest).
class RegionKindScope {
 public:
  explicit RegionKindScope(RegionKind kind);
  ~RegionKindScope();
  RegionKindScope(const RegionKindScope&) = delete;
  RegionKindScope& operator=(const RegionKindScope&) = delete;

 private:
  RegionKind previous_;
};

namespace detail {
// For the thread team: this thread's timer (null when none is started) and its current kind.
RegionTimes* ActiveRegionTimer();
RegionKind CurrentRegionKind();
}  // namespace detail

}  // namespace kvlab
