// RoPE frequency tables for the scaled variants a Hugging Face config's rope_scaling names (linear, llama3,
// yarn, longrope), computed as transformers' modeling_rope_utils.py does in float32, so that a kvlab model
// rotates by the reference implementation's angles. Dynamic NTK is not here: its frequencies change with
// the sequence length, and the model loader refuses it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvlab {

enum class RopeScalingType : uint8_t { kNone, kLinear, kLlama3, kYarn, kLongRope };
// "none", "linear", "llama3", "yarn", "longrope": HF's rope_type names ("none" is HF's "default").
const char* RopeScalingTypeName(RopeScalingType t);

// What a config's rope_scaling says (Hugging Face names in comments).
struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  float factor = 1.0f;  // factor
  // false where rope_scaling has no factor (or "factor": null): yarn then takes max_positions /
  // original_max_positions, as HF does. Longrope always takes that ratio (see ComputeRopeFrequencies).
  bool factor_given = true;
  int32_t original_max_positions = 0;           // original_max_position_embeddings (yarn: 0 = max_positions)
  float low_freq_factor = 1.0f;                 // llama3
  float high_freq_factor = 4.0f;                // llama3
  float beta_fast = 32.0f;                      // yarn
  float beta_slow = 1.0f;                       // yarn
  std::optional<float> attention_factor;        // yarn / longrope: explicit attention_factor
  std::optional<float> mscale, mscale_all_dim;  // yarn (DeepSeek-style configs)
  bool truncate = true;                         // yarn: truncate (newer transformers); default true
  std::vector<float> short_factor;              // longrope [rotary_dim/2]
  std::vector<float> long_factor;               // longrope [rotary_dim/2]
};

// The inverse frequencies RoPE rotates pair i by (angle = pos * inv_freq[i]) and the factor HF multiplies
// cos and sin by (attention_scaling; 1 except yarn and longrope).
struct RopeFrequencies {
  std::vector<float> inv_freq;  // [rotary_dim/2]
  float attention_scaling = 1.0f;
};

// theta: rope_theta; rotary_dim: head_dim (times partial_rotary_factor); max_positions: the config's
// max_position_embeddings (longrope and yarn derive their factor from it when needed).
// long_context: longrope only: use long_factor (a sequence beyond original_max_positions) instead of
// short_factor. Expects a RopeScaling that ValidateRopeScaling accepted and an even rotary_dim > 0; aborts
// otherwise, as that is a caller's bug.
RopeFrequencies ComputeRopeFrequencies(const RopeScaling& s, float theta, int32_t rotary_dim,
                                       int32_t max_positions, bool long_context = false);

// Checks a RopeScaling for a model (factor > 0, longrope factor vectors of rotary_dim/2 entries,
// llama3 low < high, original_max_positions > 0 where needed, ...); throws
// kvlab::Error(source, "rope_scaling.<field> ...") with a one-line message naming the field (HF's name).
// Fields the type does not use are not checked.
void ValidateRopeScaling(const RopeScaling& s, int32_t rotary_dim, const std::string& source);

}  // namespace kvlab
