#include "kvlab/kv/entropy_budgets.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kvlab/util/error.h"

namespace kvlab {

std::vector<size_t> SplitByWeight(const std::vector<double>& weights, const std::vector<size_t>& floors,
                                  const std::vector<size_t>& caps, size_t total) {
  const size_t n = weights.size();
  KVLAB_CHECK(floors.size() == n && caps.size() == n);
  std::vector<double> share(n);  // real-valued allocation, floor ≤ share ≤ cap
  size_t floor_sum = 0;
  for (size_t i = 0; i < n; ++i) {
    share[i] = static_cast<double>(std::min(floors[i], caps[i]));
    floor_sum += std::min(floors[i], caps[i]);
  }
  // Water-filling: hand out what is left in proportion to the weights of the units below their cap; a unit
  // that reaches its cap is fixed there and the rest goes round again (at most n rounds).
  double left = total > floor_sum ? static_cast<double>(total - floor_sum) : 0.0;
  std::vector<bool> full(n, false);
  for (size_t round = 0; round < n && left > 1e-9; ++round) {
    double weight = 0.0;
    for (size_t i = 0; i < n; ++i) {
      if (!full[i]) weight += weights[i];
    }
    if (weight <= 0.0) break;
    double handed = 0.0;
    bool capped = false;
    for (size_t i = 0; i < n; ++i) {
      if (full[i]) continue;
      const double want = share[i] + left * weights[i] / weight;
      const double got = std::min(want, static_cast<double>(caps[i]));
      if (got < want) {
        full[i] = true;
        capped = true;
      }
      handed += got - share[i];
      share[i] = got;
    }
    left -= handed;
    if (!capped) break;
  }
  // Whole slots: round down, then give the slots left to the largest remainders (below their cap).
  std::vector<size_t> out(n);
  size_t given = 0;
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<size_t>(std::floor(share[i] + 1e-9));
    given += out[i];
  }
  size_t budget = std::min(total, std::accumulate(caps.begin(), caps.end(), size_t{0}));
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return share[a] - std::floor(share[a]) > share[b] - std::floor(share[b]);
  });
  for (size_t k = 0; given < budget && k < n; ++k) {
    const size_t i = order[k];
    if (out[i] < caps[i] && weights[i] > 0.0) {
      ++out[i];
      ++given;
    }
  }
  return out;
}

void EntropyBudgets::Bind(size_t n_layers, size_t n_kv_heads, Mode mode, size_t every, size_t cap) {
  n_layers_ = n_layers;
  n_kv_heads_ = n_kv_heads;
  mode_ = mode;
  every_ = std::max<size_t>(every, 1);
  cap_ = std::max<size_t>(cap, 1);
  last_block_ = -1;
  last_uniform_ = 0;
  sum_.assign(n_layers * n_kv_heads, 0.0);
  samples_.assign(n_layers * n_kv_heads, 0);
  budget_.assign(n_layers * n_kv_heads, 0);
}

void EntropyBudgets::Observe(const AttentionRow& row) {
  if (static_cast<size_t>(row.query_pos) % every_ != every_ - 1) return;
  double h = 0.0;
  for (float p : row.probs) {
    if (p > 0.0f) h -= static_cast<double>(p) * std::log(static_cast<double>(p));
  }
  const size_t idx = row.layer * n_kv_heads_ + row.kv_head;
  sum_[idx] += h;
  samples_[idx] += 1;
}

double EntropyBudgets::MeanEntropy(size_t layer, size_t kv_head) const {
  const size_t idx = layer * n_kv_heads_ + kv_head;
  return samples_[idx] ? sum_[idx] / samples_[idx] : 0.0;
}

void EntropyBudgets::Update(size_t tokens_seen, size_t uniform, size_t floor) {
  const int64_t block = static_cast<int64_t>(tokens_seen / every_);
  if (block == last_block_ && uniform == last_uniform_) return;  // (a ratio's uniform budget moves too)
  last_block_ = block;
  last_uniform_ = uniform;
  // A unit's weight is its heads' mean sampled entropy; while no head has a positive one (no sample yet,
  // or every row looked at one token), every unit weighs the same.
  double sampled = 0.0;
  for (size_t i = 0; i < sum_.size(); ++i) sampled += samples_[i] ? sum_[i] : 0.0;
  auto weight = [&](size_t layer, size_t head) { return sampled > 0.0 ? MeanEntropy(layer, head) : 1.0; };
  const size_t cap = std::min(cap_ * uniform, std::max(tokens_seen, floor));
  if (mode_.layers) {
    // Units: layers (heads=entropy too: every head of every layer), sharing the model's total.
    const size_t units = mode_.heads ? n_layers_ * n_kv_heads_ : n_layers_;
    const size_t per_unit_heads = mode_.heads ? 1 : n_kv_heads_;
    std::vector<double> w(units, 0.0);
    for (size_t l = 0; l < n_layers_; ++l) {
      for (size_t h = 0; h < n_kv_heads_; ++h) {
        w[mode_.heads ? l * n_kv_heads_ + h : l] += weight(l, h) / static_cast<double>(per_unit_heads);
      }
    }
    const std::vector<size_t> b =
        SplitByWeight(w, std::vector<size_t>(units, floor), std::vector<size_t>(units, cap), units * uniform);
    for (size_t l = 0; l < n_layers_; ++l) {
      for (size_t h = 0; h < n_kv_heads_; ++h)
        budget_[l * n_kv_heads_ + h] = b[mode_.heads ? l * n_kv_heads_ + h : l];
    }
    return;
  }
  // heads=entropy alone: each layer's heads share the layer's total.
  for (size_t l = 0; l < n_layers_; ++l) {
    std::vector<double> w(n_kv_heads_);
    for (size_t h = 0; h < n_kv_heads_; ++h) w[h] = weight(l, h);
    const std::vector<size_t> b = SplitByWeight(w, std::vector<size_t>(n_kv_heads_, floor),
                                                std::vector<size_t>(n_kv_heads_, cap), n_kv_heads_ * uniform);
    std::copy(b.begin(), b.end(), budget_.begin() + static_cast<std::ptrdiff_t>(l * n_kv_heads_));
  }
}

size_t EntropyBudgets::HeadBound(size_t uniform, size_t floor) const {
  const size_t units = mode_.layers ? (mode_.heads ? n_layers_ * n_kv_heads_ : n_layers_) : n_kv_heads_;
  const size_t total = units * uniform;
  const size_t others = (units - 1) * floor;
  return std::min(cap_ * uniform, total > others ? total - others : floor);
}

size_t EntropyBudgets::LayerBound(size_t uniform, size_t floor) const {
  if (!mode_.layers) return n_kv_heads_ * uniform;  // heads=entropy: the layer's total is fixed
  return n_kv_heads_ * HeadBound(uniform, floor);
}

}  // namespace kvlab
