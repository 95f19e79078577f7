// Provenance recorded with every result row: git revision (at configure time), machine, UTC timestamp.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace kvlab {

// {git_rev, machine, hostname, cpu, cores, timestamp (ISO-8601 UTC), kvlab_version}.
nlohmann::json RunInfo();
// The provenance of one evaluation's result row (`kvlab ppl|fidelity|gen-compare --json`, the Python
// package's evaluations): RunInfo() + model, text, tokens, the canonical kv spec and the seed the spec
// carries (0 when it has none: the evaluation itself draws no random numbers). Throws on a bad spec.
nlohmann::json ResultRow(const std::string& model, const std::string& text, int64_t tokens,
                         const std::string& kv_spec);
// "2026-11-22T22:30:00Z"
std::string UtcTimestamp();

}  // namespace kvlab
