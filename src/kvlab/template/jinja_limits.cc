#include "kvlab/template/jinja_limits.h"

#include <string>

#include "kvlab/template/jinja_value.h"

namespace kvlab::jinja {
namespace {
thread_local bool budget_active = false;
thread_local int64_t work_used = 0;
}  // namespace

WorkBudget::WorkBudget() {
  budget_active = true;
  work_used = 0;
}

WorkBudget::~WorkBudget() { budget_active = false; }

void ChargeWork(int64_t units) {
  if (!budget_active) return;
  work_used += units;
  if (work_used > kMaxWorkUnits) {
    budget_active = false;  // the failure unwinds through code that may still build values
    Fail("template needs too much work: over " + std::to_string(kMaxWorkUnits) + " steps (a runaway loop?)");
  }
}

}  // namespace kvlab::jinja
