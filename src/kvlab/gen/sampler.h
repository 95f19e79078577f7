// Sampler: picks the next token from logits. Chain (llama.cpp order): repetition penalty -> top-k ->
// temperature -> top-p -> draw. temperature 0 means greedy (argmax, lowest id on ties).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace kvlab {

struct SamplerConfig {
  float temperature = 0.8f;     // 0: greedy
  int32_t top_k = 40;           // 0: off
  float top_p = 0.95f;          // 1: off
  float repeat_penalty = 1.0f;  // 1: off (CTRL-style: positive logits divided, negative multiplied)
  int32_t repeat_last_n = 64;   // how many previous tokens the penalty looks at
  uint64_t seed = 0;
};

// What an error calls each setting: the CLI's flags by default; the Python package passes its keywords.
struct SamplerArgNames {
  const char* temperature = "--temp";
  const char* top_k = "--top-k";
  const char* top_p = "--top-p";
  const char* repeat_penalty = "--repeat-penalty";
  const char* repeat_last_n = "--repeat-last-n";
};

// Throws kvlab::Error naming the setting if a value is out of range (negative temperature, top_p outside
// (0,1], ...).
void ValidateSamplerConfig(const SamplerConfig& c, const SamplerArgNames& names = {});

class Sampler {
 public:
  explicit Sampler(const SamplerConfig& config);
  // logits: [vocab], modified in place by the penalty. history: tokens seen so far (prompt + generated).
  int32_t Sample(std::span<float> logits, std::span<const int32_t> history);

 private:
  SamplerConfig config_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // [vocab] reused between calls
  std::vector<uint8_t> penalized_;                     // [vocab] all 0 between calls
};

int32_t Argmax(std::span<const float> logits);

}  // namespace kvlab
