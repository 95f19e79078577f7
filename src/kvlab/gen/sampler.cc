#include "kvlab/gen/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kvlab/util/error.h"

namespace kvlab {

void ValidateSamplerConfig(const SamplerConfig& c, const SamplerArgNames& names) {
  if (!(c.temperature >= 0.0f) || !std::isfinite(c.temperature))
    throw Error(names.temperature, "must be >= 0, got " + std::to_string(c.temperature));
  if (c.top_k < 0) throw Error(names.top_k, "must be >= 0, got " + std::to_string(c.top_k));
  if (!(c.top_p > 0.0f && c.top_p <= 1.0f))
    throw Error(names.top_p, "must be in (0, 1], got " + std::to_string(c.top_p));
  if (!(c.repeat_penalty > 0.0f) || !std::isfinite(c.repeat_penalty))
    throw Error(names.repeat_penalty, "must be > 0, got " + std::to_string(c.repeat_penalty));
  if (c.repeat_last_n < 0) throw Error(names.repeat_last_n, "must be >= 0");
}

int32_t Argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(const SamplerConfig& config) : config_(config), rng_(config.seed) {
  ValidateSamplerConfig(config);
}

int32_t Sampler::Sample(std::span<float> logits, std::span<const int32_t> history) {
  if (config_.repeat_penalty != 1.0f && config_.repeat_last_n > 0) {
    const size_t from = history.size() > static_cast<size_t>(config_.repeat_last_n)
                            ? history.size() - static_cast<size_t>(config_.repeat_last_n)
                            : 0;
    // Penalize each token once, however often it repeats; the flags are reset after use, so the buffer
    // is allocated once per stream, not per token.
    penalized_.resize(logits.size(), 0);
    for (size_t i = from; i < history.size(); ++i) {
      const int32_t t = history[i];
      if (t < 0 || static_cast<size_t>(t) >= logits.size() || penalized_[t]) continue;
      penalized_[t] = 1;
      float& l = logits[t];
      l = l > 0 ? l / config_.repeat_penalty : l * config_.repeat_penalty;
    }
    for (size_t i = from; i < history.size(); ++i) {
      if (history[i] >= 0 && static_cast<size_t>(history[i]) < logits.size()) penalized_[history[i]] = 0;
    }
  }
  if (config_.temperature == 0.0f) return Argmax(logits);

  candidates_.clear();
  for (size_t i = 0; i < logits.size(); ++i) candidates_.emplace_back(logits[i], static_cast<int32_t>(i));
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t keep = candidates_.size();
  if (config_.top_k > 0 && static_cast<size_t>(config_.top_k) < keep) {
    keep = static_cast<size_t>(config_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  // Softmax over the kept candidates at the given temperature.
  const float max_logit = candidates_[0].first;
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) {
    candidates_[i].first = std::exp((candidates_[i].first - max_logit) / config_.temperature);
    sum += candidates_[i].first;
  }
  // Nucleus: the smallest prefix whose probability mass reaches top_p.
  if (config_.top_p < 1.0f) {
    double mass = 0;
    for (size_t i = 0; i < keep; ++i) {
      mass += candidates_[i].first / sum;
      if (mass >= config_.top_p) {
        keep = i + 1;
        break;
      }
    }
    sum = 0;
    for (size_t i = 0; i < keep; ++i) sum += candidates_[i].first;
  }
  std::uniform_real_distribution<double> uniform(0.0, sum);
  double r = uniform(rng_);
  for (size_t i = 0; i < keep; ++i) {
    r -= candidates_[i].first;
    if (r <= 0) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace kvlab
