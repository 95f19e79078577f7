// Provenance recorded with every result row: git revision (at configure time), machine, UTC timestamp.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace kvlab {

// {git_rev, machine, hostname, cpu, cores, timestamp (ISO-8601 UTC), kvlab_version}.
nlohmann::json RunInfo();
// "2026-11-22T22:30:00Z"
std::string UtcTimestamp();

}  // namespace kvlab
