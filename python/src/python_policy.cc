#include "python_policy.h"

#include <pybind11/numpy.h>

#include <cmath>
#include <map>

#include "kvlab/kv/spec.h"
#include "kvlab/util/error.h"

namespace kvlab::python {

namespace {

// A Python value of a spec key as the spec string would carry it.
std::string SpecValue(const py::handle& v) {
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>() ? "true" : "false";
  return py::str(v).cast<std::string>();
}

}  // namespace

std::unique_ptr<KvPolicy> MakePythonPolicy(const py::object& instance) {
  const std::string name = py::str(py::type::of(instance).attr("__name__")).cast<std::string>();
  if (!py::hasattr(instance, "budget")) {
    throw Error("kv", name + " has no budget: call kvlab.ScorePolicy.__init__ from its __init__");
  }
  // The budget keys go through the same reader as a spec string, so values are checked the same way.
  std::map<std::string, std::string> values;
  values["budget"] = SpecValue(instance.attr("budget"));
  for (const char* key : {"sinks", "recent", "chunk"}) {
    const py::object v = instance.attr(key);
    if (!v.is_none()) values[key] = SpecValue(v);
  }
  const py::dict options = instance.attr("options");
  for (const auto& [k, v] : options) values[py::str(k).cast<std::string>()] = SpecValue(v);
  PolicyParams params(name, values);
  const ScoreBudget budget = ReadScoreBudget(params, 0, 0);
  params.RejectUnknownKeys();
  const bool attention = instance.attr("attention").cast<bool>();
  const py::object base_observe = py::module_::import("kvlab.policy").attr("ScorePolicy").attr("observe");
  const py::object own_observe = py::type::of(instance).attr("observe");
  const bool observe = !own_observe.is(base_observe);
  if (observe && !attention)
    throw Error("kv", name + " defines observe() but was built with attention=False");
  return std::make_unique<PythonScorePolicy>(instance, budget, attention, observe);
}

PythonScorePolicy::PythonScorePolicy(py::object instance, const ScoreBudget& b, bool attention, bool observe)
    : ScorePolicy(b),
      instance_(new py::object(std::move(instance))),
      class_name_(py::str(py::type::of(*instance_).attr("__name__")).cast<std::string>()),
      attention_(attention),
      observe_(observe) {}

PythonScorePolicy::~PythonScorePolicy() {
  py::gil_scoped_acquire gil;
  delete instance_;
}

std::string PythonScorePolicy::Spec() const { return "python." + class_name_ + ":" + BudgetSpec(); }

std::unique_ptr<KvPolicy> PythonScorePolicy::Clone() const {
  py::gil_scoped_acquire gil;  // copying the object reference touches its reference count
  auto copy = std::make_unique<PythonScorePolicy>(*instance_, budget(), attention_, observe_);
  copy->n_kv_heads_ = n_kv_heads_;
  copy->head_dim_ = head_dim_;
  copy->since_ = since_;
  copy->chunk_rows_ = chunk_rows_;
  return copy;
}

void PythonScorePolicy::OnBind(const KvCacheShape& shape) {
  n_kv_heads_ = shape.n_kv_heads;
  head_dim_ = shape.head_dim;
  since_.Bind(shape);
  chunk_rows_.assign(shape.n_layers * shape.n_kv_heads, {});
  py::gil_scoped_acquire gil;
  instance_->attr("reset")();  // a stream starts: the Python side clears its own per-stream state
}

// On a worker thread, without the GIL: only C++ state of this (layer, kv head) is touched.
void PythonScorePolicy::ObserveScores(const AttentionRow& row) {
  std::vector<float>& since = since_.Sync(row.layer, row.kv_head, row.slots);
  for (size_t i = 0; i < row.probs.size(); ++i) since[i] += row.probs[i];
  if (!observe_) return;
  ChunkRows& h = Head(row.layer, row.kv_head);
  if (h.n_rows == 0) {
    h.row_pos.resize(row.slots.size());
    for (size_t i = 0; i < row.slots.size(); ++i) h.row_pos[i] = row.slots[i].pos;
    h.rows.clear();
  }
  // Within one chunk a head's slots do not change (appended before attention, evicted after it).
  KVLAB_CHECK(row.slots.size() == h.row_pos.size());
  h.rows.insert(h.rows.end(), row.probs.begin(), row.probs.end());
  ++h.n_rows;
}

void PythonScorePolicy::BeforeCompress(size_t layer, const KvCache& cache) {
  if (!observe_) return;
  py::gil_scoped_acquire gil;
  const py::object observe = instance_->attr("observe");
  for (size_t head = 0; head < n_kv_heads_; ++head) {
    ChunkRows& h = Head(layer, head);
    if (h.n_rows == 0) continue;
    const size_t slots = h.row_pos.size();
    py::array_t<float> attention({h.n_rows, slots});
    std::copy(h.rows.begin(), h.rows.end(), attention.mutable_data());
    py::array_t<int32_t> positions(slots);
    std::copy(h.row_pos.begin(), h.row_pos.end(), positions.mutable_data());
    h.n_rows = 0;
    observe(layer, head, attention, positions);
  }
}

void PythonScorePolicy::Score(size_t layer, size_t kv_head, const KvCache& cache, std::span<float> out) {
  const size_t n = out.size();
  const std::span<const SlotMeta> meta = cache.Meta(layer, kv_head);
  std::vector<float>* since = attention_ ? &since_.Sync(layer, kv_head, meta) : nullptr;
  py::gil_scoped_acquire gil;
  py::array_t<float> attention(n);
  if (since) {
    std::copy(since->begin(), since->begin() + n, attention.mutable_data());
  } else {
    std::fill(attention.mutable_data(), attention.mutable_data() + n, 0.0f);
  }
  py::array_t<float> keys({n, head_dim_});
  float* k = keys.mutable_data();
  for (size_t i = 0; i < n; ++i) {
    const float* row = cache.KeyRow(layer, kv_head, i, k + i * head_dim_);
    if (row != k + i * head_dim_) std::copy(row, row + head_dim_, k + i * head_dim_);
  }
  py::array_t<int32_t> positions(n);
  for (size_t i = 0; i < n; ++i) positions.mutable_data()[i] = meta[i].pos;

  const py::object result = instance_->attr("score")(layer, kv_head, attention, keys, positions);
  const auto scores = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(result);
  if (!scores) {
    throw Error(class_name_ + ".score",
                "must return an array of floats, got " +
                    py::str(py::type::of(result).attr("__name__")).cast<std::string>());
  }
  if (scores.ndim() != 1 || static_cast<size_t>(scores.size()) != n) {
    throw Error(class_name_ + ".score", "returned " + std::to_string(scores.size()) + " scores in " +
                                            std::to_string(scores.ndim()) + " dimensions for " +
                                            std::to_string(n) + " slots (layer " + std::to_string(layer) +
                                            ", kv head " + std::to_string(kv_head) + ")");
  }
  const float* s = scores.data();
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(s[i])) {
      throw Error(class_name_ + ".score", "returned NaN for slot " + std::to_string(i) + " (layer " +
                                              std::to_string(layer) + ", kv head " + std::to_string(kv_head) +
                                              ")");
    }
    out[i] = s[i];
  }
  if (since) std::fill(since->begin(), since->end(), 0.0f);
}

void PythonScorePolicy::OnEvicted(size_t layer, size_t kv_head, const KvCache& cache) {
  if (attention_) since_.Sync(layer, kv_head, cache.Meta(layer, kv_head));
}

void PythonScorePolicy::OnCacheChanged(size_t layer, const KvCache& cache) {
  if (attention_) since_.SyncLayer(layer, cache);
}

}  // namespace kvlab::python
