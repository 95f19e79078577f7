#include "kvlab/analysis/head_types.h"

#include "kvlab/util/error.h"

namespace kvlab::analysis {

const char* HeadTypeName(HeadType t) {
  switch (t) {
    case HeadType::kSink:
      return "sink";
    case HeadType::kLocal:
      return "local";
    case HeadType::kGlobal:
      return "global";
  }
  return "?";
}

HeadMass MeasureHeadMass(std::span<const float> map, size_t tokens, const HeadTypeOptions& o) {
  KVLAB_CHECK(map.size() == tokens * tokens);
  HeadMass m;
  // Short texts: still classify, from the later half of the queries.
  const size_t first = tokens > o.min_query ? o.min_query : tokens / 2;
  for (size_t q = first; q < tokens; ++q) {
    const float* row = map.data() + q * tokens;
    double sink = 0, local = 0;
    for (size_t k = 0; k <= q; ++k) {
      if (k < o.sink_positions) {
        sink += row[k];
      } else if (k + o.local_window > q) {
        local += row[k];
      }
    }
    m.sink += sink;
    m.local += local;
    ++m.queries;
  }
  if (m.queries > 0) {
    m.sink /= static_cast<double>(m.queries);
    m.local /= static_cast<double>(m.queries);
  }
  return m;
}

HeadType ClassifyHead(const HeadMass& mass, const HeadTypeOptions& o) {
  if (mass.sink >= o.threshold) return HeadType::kSink;
  if (mass.local >= o.threshold) return HeadType::kLocal;
  return HeadType::kGlobal;
}

}  // namespace kvlab::analysis
