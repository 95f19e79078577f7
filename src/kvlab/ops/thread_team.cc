#include "kvlab/ops/thread_team.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kvlab/ops/region_timer.h"
#include "kvlab/ops/threads.h"

namespace kvlab {

namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// The lines this thread still has to request while it waits (PrefetchWhileWaiting): [next, end).
thread_local const char* t_wait_prefetch_next = nullptr;
thread_local const char* t_wait_prefetch_end = nullptr;
// Lines requested per spin: a few at once keep several misses in flight without holding the waiting thread
// long past the moment it is released (each request may wait for a free fill buffer).
constexpr size_t kWaitPrefetchLines = 4;
constexpr size_t kLineBytes = 64;

void DropWaitPrefetch() { t_wait_prefetch_next = t_wait_prefetch_end; }

// One spin of a wait: the next lines of the thread's prefetch range (into L2: prefetcht1), or a pause.
inline void WaitStep() {
  const size_t left = static_cast<size_t>(t_wait_prefetch_end - t_wait_prefetch_next);
  if (left == 0) {
    CpuRelax();
    return;
  }
  const size_t step = std::min(left, kWaitPrefetchLines * kLineBytes);
  for (size_t at = 0; at < step; at += kLineBytes) {
    __builtin_prefetch(t_wait_prefetch_next + at, /*rw=*/0, /*locality=*/2);
  }
  t_wait_prefetch_next += step;
}

thread_local bool t_in_team = false;  // this thread is a worker, or is running a team task
thread_local bool t_in_timed_region = false;  // this thread is inside a region the region timer times

using Clock = std::chrono::steady_clock;
int64_t Nanoseconds(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// How long a worker spins for the next task before it sleeps: ~100 µs, longer than the gaps between the
// regions of a decode step (a few µs) and between steps, short enough that an idle process goes quiet.
constexpr int kSpinsBeforeSleep = 1 << 13;

// Workers 1..size-1 (the caller of Run is member 0). Lives as long as the thread count stays the same.
class Team {
 public:
  explicit Team(size_t size) : size_(size) {
    workers_.reserve(size - 1);
    for (size_t i = 1; i < size; ++i) workers_.emplace_back([this, i] { Work(i); });
  }
  ~Team() {
    stop_.store(true);
    generation_.fetch_add(1);
    generation_.notify_all();
    for (std::thread& w : workers_) w.join();
  }
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;

  size_t size() const { return size_; }

  // Caller holds the run lock: one task at a time. With wait_ns, adds the time the caller spent waiting
  // for the workers after its own task to *wait_ns.
  void Run(size_t n, detail::TeamTask task, void* body, int64_t* wait_ns) {
    task_ = task;
    body_ = body;
    n_ = n;
    pending_.store(static_cast<int>(size_) - 1, std::memory_order_relaxed);
    generation_.fetch_add(1);  // seq_cst: ordered before the sleepers_ load below (see Work)
    if (sleepers_.load() > 0) generation_.notify_all();
    DropWaitPrefetch();
    task(body, 0, n);
    const auto waiting_since = wait_ns != nullptr ? Clock::now() : Clock::time_point{};
    while (pending_.load(std::memory_order_acquire) != 0) WaitStep();
    if (wait_ns != nullptr) *wait_ns += Nanoseconds(Clock::now() - waiting_since);
  }

 private:
  void Work(size_t index) {
    t_in_team = true;  // a body that calls ParallelRun runs that call serially
    uint32_t seen = 0;
    for (;;) {
      uint32_t now;
      int spins = 0;
      while ((now = generation_.load(std::memory_order_acquire)) == seen) {
        if (++spins < kSpinsBeforeSleep) {
          WaitStep();
          continue;
        }
        // Announce the sleep before re-checking: Run bumps the generation and then reads sleepers_, so
        // either it sees this sleeper and notifies, or wait() sees the new generation and returns at once.
        sleepers_.fetch_add(1);
        generation_.wait(seen);
        sleepers_.fetch_sub(1);
        spins = 0;
      }
      seen = now;
      if (stop_.load()) return;
      DropWaitPrefetch();
      if (index < n_) task_(body_, index, n_);
      // Every worker acknowledges every generation, even one with nothing for it: Run rewrites task_ and
      // n_ only after all of them are done reading this generation's.
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  const size_t size_;
  std::vector<std::thread> workers_;
  // The task of the current generation: written by Run before it bumps generation_ (release), read by the
  // workers after they see the bump (acquire).
  detail::TeamTask task_ = nullptr;
  void* body_ = nullptr;
  size_t n_ = 0;
  alignas(64) std::atomic<uint32_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};  // workers yet to finish (or skip) this generation
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
};

std::mutex g_team_mutex;               // held for the whole of one Run; guards g_team
std::unique_ptr<Team>* g_team = nullptr;  // never destroyed: workers may outlive static destructors

void RunSerially(size_t n, detail::TeamTask task, void* body) {
  for (size_t t = 0; t < n; ++t) task(body, t, n);
}

// RunOnTeam without the region timer; with wait_ns, adds the caller's wait at the region's end to it.
void RunTask(size_t n, detail::TeamTask task, void* body, int64_t* wait_ns) {
  n = std::clamp<size_t>(n, 1, static_cast<size_t>(NumThreads()));
  if (n == 1 || t_in_team) {
    RunSerially(n, task, body);
    return;
  }
  std::unique_lock<std::mutex> lock(g_team_mutex, std::try_to_lock);
  if (!lock.owns_lock()) {  // another thread is using the team
    RunSerially(n, task, body);
    return;
  }
  if (g_team == nullptr) g_team = new std::unique_ptr<Team>();
  const size_t size = static_cast<size_t>(NumThreads());
  if (*g_team == nullptr || (*g_team)->size() != size) {
    g_team->reset();  // joins the old workers
    *g_team = std::make_unique<Team>(size);
  }
  t_in_team = true;
  (*g_team)->Run(n, task, body, wait_ns);
  t_in_team = false;
}
}  // namespace

void PrefetchWhileWaiting(const void* from, size_t bytes) {
  t_wait_prefetch_next = static_cast<const char*>(from);
  t_wait_prefetch_end = t_wait_prefetch_next + bytes;
}

namespace detail {
void RunOnTeam(size_t n, TeamTask task, void* body) {
  // A region inside a region is part of the outer one: only the outermost is timed (t_in_team alone
  // misses the inner calls of a region that ran serially on one thread).
  RegionTimes* timer = t_in_team || t_in_timed_region ? nullptr : ActiveRegionTimer();
  if (timer == nullptr) {
    RunTask(n, task, body, nullptr);
    return;
  }
  const auto start = Clock::now();
  const size_t kind = static_cast<size_t>(CurrentRegionKind());
  t_in_timed_region = true;
  RunTask(n, task, body, &timer->wait_ns[kind]);
  t_in_timed_region = false;
  timer->ns[kind] += Nanoseconds(Clock::now() - start);
  ++timer->count[kind];
}
}  // namespace detail

}  // namespace kvlab
