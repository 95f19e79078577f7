// The grid of a sweep: models × texts × every policy spec its [[policy]] entries expand to, in a fixed
// order (model-major, so one model is loaded at a time), each point with a stable id.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kvlab/sweep/sweep_config.h"
#include "kvlab/eval/text_source.h"

namespace kvlab {

struct GridPoint {
  std::string model;  // as written in the config
  std::string text;
  std::filesystem::path model_path;  // resolved
  TextSource text_source;
  int64_t tokens = 0;
  int64_t ctx = 0;
  std::string spec;   // canonical (MakePolicy(spec)->Spec())
  std::string entry;  // the [[policy]] entry it came from, for messages
  uint64_t seed = 0;
  std::string id;  // PointId(*this, metrics)
};

// The canonical specs of one [[policy]] entry: the cartesian product of its keys in file order (last key
// fastest), budgets resolved against ctx, `seed` added where the policy takes one and the entry sets none,
// each codec composed as "+quant:...". Duplicates are dropped. Throws kvlab::Error "ENTRY: <MakePolicy's
// message>" on the first spec the policy rejects, unless skip_invalid (then it is dropped and counted in
// *skipped; an entry left with no spec at all is an error either way).
std::vector<std::string> ExpandPolicyEntry(const PolicyGridEntry& entry, int64_t ctx, uint64_t seed,
                                           size_t* skipped = nullptr);


// Every point of the sweep. Resolves models and texts (errors name the config key), expands policies.
// `notes` receives one line per entry that dropped combinations (skip_invalid) or duplicates.
std::vector<GridPoint> ExpandGrid(const SweepConfig& config, std::vector<std::string>* notes = nullptr);

// The fields a point's id hashes: model, text, tokens, ctx, spec, seed and the metric settings, so a change
// to any of them makes a new point rather than reusing an old row.
nlohmann::json PointIdentity(const GridPoint& point, const SweepMetrics& metrics);
// 16 hex digits of the 64-bit FNV-1a hash of PointIdentity's compact JSON: stable across runs and machines.
std::string PointId(const GridPoint& point, const SweepMetrics& metrics);

// Row fields read off a canonical spec: policy_name ("h2o", "h2o+quant"), budget (slots of the first part
// that has one; null if none), budget_fraction (budget / ctx or null), codec ("int8", "int4/int8" for
// k/v differing, or null), sketch_type / _width / _depth / _strategy / _topk (null unless sketch).
nlohmann::json DescribeSpec(const std::string& spec, int64_t ctx);

}  // namespace kvlab
