// kvlab::Error: the one exception type for loading, parsing and command-line failures.
// The message is a single line "WHERE: WHAT (hint: HINT)" so that `main` can print it as is and exit non-zero.
// Per-token code never throws: invariants there use KVLAB_CHECK, which aborts with file:line.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kvlab {

class Error : public std::runtime_error {
 public:
  // where: the file, argument or field at fault (e.g. "model.safetensors", "--kv", "config.json: hidden_size").
  Error(std::string_view where, std::string_view what, std::string_view hint = {})
      : std::runtime_error(Format(where, what, hint)) {}

 private:
  static std::string Format(std::string_view where, std::string_view what, std::string_view hint) {
    std::string s;
    if (!where.empty()) {
      s.append(where);
      s.append(": ");
    }
    s.append(what);
    if (!hint.empty()) {
      s.append(" (hint: ");
      s.append(hint);
      s.append(")");
    }
    // Keep it one line whatever the caller passed in.
    for (char& c : s) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return s;
  }
};

}  // namespace kvlab

// Always-on invariant check (also in Release): a failed check is a kvlab bug, not bad input.
#define KVLAB_CHECK(cond)                                                                  \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "kvlab internal error: %s:%d: check failed: %s\n", __FILE__, \
                   __LINE__, #cond);                                                       \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)
