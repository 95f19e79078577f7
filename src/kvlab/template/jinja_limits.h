// Bounds that keep any template, however hostile, from crashing or hanging the process: each is far
// beyond what a chat template needs, and exceeding one is a one-line error naming the bound.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvlab::jinja {

// Nesting of expressions and statements in the source, and of lists/dicts built while rendering: keeps the
// parser's and the interpreter's recursion (and the destructors of deep trees) far from the stack's end.
inline constexpr int kMaxNesting = 200;
// Recursion of the interpreter: nested macro calls, and statements plus expressions being evaluated at
// once across all of them (each macro call adds its body's own nesting).
inline constexpr int kMaxCallDepth = 64;
inline constexpr int kMaxEvalDepth = 1000;
// Longest string any operation may build, the rendered output included.
inline constexpr size_t kMaxStringBytes = size_t{16} << 20;
// Most items a list built while rendering may hold.
inline constexpr size_t kMaxListItems = size_t{1} << 20;
// range() longer than this fails, as in jinja2's sandbox (MAX_RANGE).
inline constexpr int64_t kMaxRange = 100000;
// Units of work per render: one per statement or expression evaluated and per list item built, visited or
// compared, plus one per kBytesPerWorkUnit bytes of text built, scanned or compared. A chat template over a
// long conversation needs a few hundred thousand; the bound keeps a runaway template under a second or so
// (and the text it can build, all told, to kMaxWorkUnits * kBytesPerWorkUnit bytes).
inline constexpr int64_t kMaxWorkUnits = 4'000'000;
inline constexpr int64_t kBytesPerWorkUnit = 64;

// The work budget of the render running on this thread (a thread renders one template at a time). Outside
// a render, charges are free, so values can be built anywhere.
class WorkBudget {
 public:
  WorkBudget();   // starts a render's budget on this thread
  ~WorkBudget();  // ends it
  WorkBudget(const WorkBudget&) = delete;
  WorkBudget& operator=(const WorkBudget&) = delete;
};
// Fails (jinja::Failure) once the running render has used more than kMaxWorkUnits.
void ChargeWork(int64_t units);
// The cost of reading all of a string once.
inline void ChargeScan(size_t bytes) { ChargeWork(static_cast<int64_t>(bytes) / kBytesPerWorkUnit); }

}  // namespace kvlab::jinja
