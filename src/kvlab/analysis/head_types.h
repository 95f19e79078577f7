// Classifies an attention head by where its mass goes (the patterns StreamingLLM and DuoAttention build on):
//   sink   — most mass on the first few positions (attention sinks),
//   local  — most mass on a recent window (the query's neighbours),
//   global — neither: mass spread over the context (the heads that need the full cache).
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace kvlab::analysis {

enum class HeadType { kSink, kLocal, kGlobal };
const char* HeadTypeName(HeadType t);

struct HeadTypeOptions {
  size_t sink_positions = 4;  // positions [0, sink_positions) count as sinks
  size_t local_window = 8;    // positions (query - local_window, query] count as local
  double threshold = 0.5;     // mean mass share that decides the type
  size_t min_query = 16;      // queries earlier than this are ignored (sinks and window overlap there)
};

// Mean over the considered queries of the mass on sinks and on the local window (a position that is both
// counts as sink only, so the two shares never exceed 1 together).
struct HeadMass {
  double sink = 0, local = 0;
  size_t queries = 0;
};

// map: [tokens][tokens] lower-triangular attention of one head, row = query position, col = key position.
HeadMass MeasureHeadMass(std::span<const float> map, size_t tokens, const HeadTypeOptions& o = {});
// sink if sink >= threshold, else local if local >= threshold, else global.
HeadType ClassifyHead(const HeadMass& mass, const HeadTypeOptions& o = {});

}  // namespace kvlab::analysis
