#include "kvlab/analysis/prune.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "kvlab/util/error.h"

namespace kvlab::analysis {

namespace {
size_t ParseIndex(const std::string& s, size_t limit, const char* flag, const char* what) {
  size_t value = 0;
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 6) {
    throw Error(flag, "'" + s + "' is not a " + what + " index");
  }
  value = std::stoul(s);
  if (value >= limit) {
    throw Error(
        flag, std::string(what) + " " + s + " is out of range (the model has " + std::to_string(limit) + ")");
  }
  return value;
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> parts;
  if (s.empty()) return parts;
  std::stringstream in(s);
  std::string p;
  while (std::getline(in, p, ',')) parts.push_back(p);
  if (s.back() == ',') parts.push_back("");
  return parts;
}

// An owned f32 copy of a matrix, repointing the view at it.
float* OwnCopy(LoadedModel& model, MatrixView& m, const char* name) {
  if (m.dtype != DType::kF32)
    throw Error("--prune", std::string(name) + " is not stored as f32; pruning needs f32 weights");
  const size_t n = static_cast<size_t>(m.rows * m.cols);
  float* copy = model.Allocate(n);
  std::memcpy(copy, m.data, n * sizeof(float));
  m.data = copy;
  return copy;
}

void ZeroVector(LoadedModel& model, VectorView& v) {
  if (v.empty()) return;
  float* z = model.Allocate(static_cast<size_t>(v.size));
  std::fill(z, z + v.size, 0.0f);
  v.data = z;
}
}  // namespace

std::string PruneSpec::ToString() const {
  if (empty()) return "none";
  std::string s;
  if (!layers.empty()) {
    s += "layers=";
    for (size_t i = 0; i < layers.size(); ++i) {
      if (i) s += ',';
      s += std::to_string(layers[i]);
    }
  }
  if (!heads.empty()) {
    s += s.empty() ? "heads=" : " heads=";
    for (size_t i = 0; i < heads.size(); ++i) {
      if (i) s += ',';
      s += std::to_string(heads[i].first);
      s += ':';
      s += std::to_string(heads[i].second);
    }
  }
  return s;
}

PruneSpec ParsePruneSpec(const std::string& layers, const std::string& heads, const ModelConfig& c) {
  PruneSpec spec;
  for (const std::string& p : SplitCommas(layers)) {
    spec.layers.push_back(ParseIndex(p, c.n_layers, "--prune-layers", "layer"));
  }
  for (const std::string& p : SplitCommas(heads)) {
    const size_t colon = p.find(':');
    if (colon == std::string::npos) throw Error("--prune-heads", "'" + p + "' is not LAYER:KV_HEAD");
    spec.heads.emplace_back(ParseIndex(p.substr(0, colon), c.n_layers, "--prune-heads", "layer"),
                            ParseIndex(p.substr(colon + 1), c.n_kv_heads, "--prune-heads", "kv head"));
  }
  std::sort(spec.layers.begin(), spec.layers.end());
  spec.layers.erase(std::unique(spec.layers.begin(), spec.layers.end()), spec.layers.end());
  std::sort(spec.heads.begin(), spec.heads.end());
  spec.heads.erase(std::unique(spec.heads.begin(), spec.heads.end()), spec.heads.end());
  return spec;
}

void ApplyPrune(LoadedModel& model, const PruneSpec& spec) {
  const ModelConfig& c = model.config;
  for (size_t l : spec.layers) {
    LayerWeights& w = model.weights.layers[l];
    float* wo = OwnCopy(model, w.wo, "w_o");
    std::fill(wo, wo + w.wo.rows * w.wo.cols, 0.0f);
    float* down = OwnCopy(model, w.w_down, "w_down");
    std::fill(down, down + w.w_down.rows * w.w_down.cols, 0.0f);
    ZeroVector(model, w.bo);
    ZeroVector(model, w.b_down);
  }
  const size_t group = static_cast<size_t>(c.n_heads / c.n_kv_heads);
  for (const auto& [l, kv] : spec.heads) {
    LayerWeights& w = model.weights.layers[l];
    float* wo = OwnCopy(model, w.wo, "w_o");  // [dim][n_heads * head_dim]
    const size_t cols = static_cast<size_t>(w.wo.cols);
    for (size_t h = kv * group; h < (kv + 1) * group; ++h) {
      for (size_t r = 0; r < static_cast<size_t>(w.wo.rows); ++r) {
        std::fill(wo + r * cols + h * c.head_dim, wo + r * cols + (h + 1) * c.head_dim, 0.0f);
      }
    }
  }
}

}  // namespace kvlab::analysis
