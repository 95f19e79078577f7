#include "kvlab/ops/region_timer.h"

namespace kvlab {

namespace {
thread_local RegionTimes* t_timer = nullptr;
thread_local RegionKind t_kind = RegionKind::kOther;
}  // namespace

RegionTimes& RegionTimes::operator+=(const RegionTimes& o) {
  for (size_t k = 0; k < kRegionKinds; ++k) {
    ns[k] += o.ns[k];
    count[k] += o.count[k];
    wait_ns[k] += o.wait_ns[k];
  }
  return *this;
}

void StartRegionTimer(RegionTimes* times) { t_timer = times; }
void StopRegionTimer() { t_timer = nullptr; }

RegionKindScope::RegionKindScope(RegionKind kind) : previous_(t_kind) { t_kind = kind; }
RegionKindScope::~RegionKindScope() { t_kind = previous_; }

namespace detail {
RegionTimes* ActiveRegionTimer() { return t_timer; }
RegionKind CurrentRegionKind() { return t_kind; }
}  // namespace detail

}  // namespace kvlab
