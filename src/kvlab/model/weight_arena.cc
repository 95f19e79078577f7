// LoadedModel::MoveWeightsToArena: weights out of file maps (4 KiB pages) into huge-page memory.
#include <cstring>
#include <vector>

#include "kvlab/model/weights.h"

namespace kvlab {

namespace {
constexpr size_t kAlign = 64;  // cache line: every tensor starts on its own line

size_t Aligned(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Every view of the model in decode order, each tied tensor once.
struct ViewList {
  std::vector<MatrixView*> matrices;
  std::vector<VectorView*> vectors;
};

ViewList CollectViews(ModelWeights& w) {
  ViewList v;
  v.matrices.push_back(&w.tok_emb);
  v.matrices.push_back(&w.pos_emb);
  for (LayerWeights& l : w.layers) {
    for (VectorView* x : l.Vectors()) v.vectors.push_back(x);
    for (MatrixView* m : l.Matrices()) v.matrices.push_back(m);
  }
  v.vectors.push_back(&w.final_norm);
  v.vectors.push_back(&w.final_norm_b);
  v.vectors.push_back(&w.lm_head_b);
  if (w.lm_head.data != w.tok_emb.data) v.matrices.push_back(&w.lm_head);
  return v;
}
}  // namespace

void LoadedModel::MoveWeightsToArena() {
  if (arena.data() != nullptr) return;
  ViewList views = CollectViews(weights);
  const bool tied = weights.lm_head.data == weights.tok_emb.data;
  size_t bytes = 0;
  for (const MatrixView* m : views.matrices) bytes += m->empty() ? 0 : Aligned(m->Bytes());
  for (const VectorView* v : views.vectors) bytes += v->empty() ? 0 : Aligned(v->size * sizeof(float));
  HugePageBuffer buffer(bytes);
  auto* out = static_cast<uint8_t*>(buffer.data());
  size_t offset = 0;
  for (MatrixView* m : views.matrices) {
    if (m->empty()) continue;
    std::memcpy(out + offset, m->data, m->Bytes());
    m->data = out + offset;
    offset += Aligned(m->Bytes());
  }
  for (VectorView* v : views.vectors) {
    if (v->empty()) continue;
    std::memcpy(out + offset, v->data, v->size * sizeof(float));
    v->data = reinterpret_cast<const float*>(out + offset);
    offset += Aligned(v->size * sizeof(float));
  }
  if (tied) weights.lm_head = weights.tok_emb;
  arena = std::move(buffer);
  files.clear();  // nothing points into the maps or the conversion buffers any more
  owned_buffers.clear();
}

}  // namespace kvlab
