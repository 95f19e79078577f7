// PythonScorePolicy: a ScorePolicy whose Score is a Python method (kvlab.ScorePolicy subclasses,
// python/kvlab/policy.py). kvlab keeps what every scored policy shares in C++ (sinks, recent window, budget,
// chunked eviction, per-layer and per-head budgets, re-rotation); Python only scores.
//
// What Python sees, per (layer, kv head):
//   score(layer, kv_head, attention, keys, positions) when eviction runs: attention [slots] float32 is the
//     attention each slot received since this head was last scored (every query of those chunks, summed
//     over the query heads that read this kv head), keys [slots][head_dim] float32 (after RoPE; decoded
//     for a quantized cache), positions [slots] int32; it returns [slots] scores, higher = keep.
//   observe(layer, kv_head, attention, positions) after every chunk, if the subclass defines it:
//     attention [rows][slots] float32, one row per (query of the chunk, query head of this kv head) in that
//     order: every row as C++ policies see it, for statistics that must see each row (h2o's running sum).
// All arrays are copies the callee may keep. Calls hold the GIL and run one at a time on the thread that
// called the forward pass; attention rows are gathered in C++ (on the worker threads, no GIL) and handed
// over when the layer's chunk is done.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "kvlab/kv/policies/attention_scores.h"
#include "kvlab/kv/score_policy.h"

namespace kvlab::python {

namespace py = pybind11;

// Builds the C++ policy around a kvlab.ScorePolicy instance (reads its budget, sinks, recent, chunk,
// options and attention attributes). Throws kvlab::Error on bad values, as a spec string would.
std::unique_ptr<KvPolicy> MakePythonPolicy(const py::object& instance);

class PythonScorePolicy final : public ScorePolicy {
 public:
  PythonScorePolicy(py::object instance, const ScoreBudget& b, bool attention, bool observe);
  ~PythonScorePolicy() override;
  std::string Spec() const override;
  bool ScoresNeedAttention() const override { return attention_; }
  void ObserveScores(const AttentionRow& row) override;
  void OnCacheChanged(size_t layer, const KvCache& cache) override;
  std::unique_ptr<KvPolicy> Clone() const override;

 protected:
  void OnBind(const KvCacheShape& shape) override;
  void BeforeCompress(size_t layer, const KvCache& cache) override;
  void Score(size_t layer, size_t kv_head, const KvCache& cache, std::span<float> out) override;
  void OnEvicted(size_t layer, size_t kv_head, const KvCache& cache) override;

 private:
  // This chunk's attention rows of one head (only with observe).
  struct ChunkRows {
    std::vector<float> rows;       // [n_rows][row_pos.size()]
    std::vector<int32_t> row_pos;  // [slots] positions of the columns of `rows`
    size_t n_rows = 0;
  };
  ChunkRows& Head(size_t layer, size_t kv_head) { return chunk_rows_[layer * n_kv_heads_ + kv_head]; }

  py::object* instance_;  // the Python object; a pointer so that destroying it can take the GIL first
  std::string class_name_;
  bool attention_, observe_;
  size_t n_kv_heads_ = 0, head_dim_ = 0;
  // Per (layer, kv head): the attention each slot received since the head was last scored, following the
  // cache by position as h2o's scores do.
  policies::SlotScores since_;
  std::vector<ChunkRows> chunk_rows_;  // [layers * kv_heads]
};

}  // namespace kvlab::python
