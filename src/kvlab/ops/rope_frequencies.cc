#include "kvlab/ops/rope_frequencies.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kvlab/util/error.h"

// Each table follows the function for its rope type in transformers' src/transformers/modeling_rope_utils.py
// step by step, in the precision torch uses there: tensors are float32; Python scalars (math.log, config
// values, ratios of ints) are double and become float32 where they meet a tensor. torch evaluates
// `scalar / tensor` as reciprocal(tensor) * scalar, so those quotients are written that way here. The
// results agree with HF's to float rounding (torch's and libm's float32 pow may differ in the last bit).

namespace kvlab {
namespace {

// theta^(2i/dim) in float32, HF's base ** (arange(0, dim, 2) / dim): the frequencies before inversion.
// The same expression as RopeAngles::Compute, so the plain table reproduces it bit for bit.
float BaseFrequency(float theta, size_t i, int32_t dim) {
  return std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(dim));
}

// _compute_default_rope_parameters: inv_freq = 1 / base^(2i/dim).
std::vector<float> DefaultInvFreq(float theta, int32_t dim) {
  std::vector<float> inv(static_cast<size_t>(dim / 2));
  for (size_t i = 0; i < inv.size(); ++i) inv[i] = 1.0f / BaseFrequency(theta, i, dim);
  return inv;
}

// _compute_llama3_parameters: wavelengths above original/low_freq_factor are divided by factor, those below
// original/high_freq_factor kept, and the medium band blended linearly in original/wavelen.
std::vector<float> Llama3InvFreq(const RopeScaling& s, float theta, int32_t dim) {
  std::vector<float> inv = DefaultInvFreq(theta, dim);
  const double original = s.original_max_positions;
  const float low_freq_wavelen = static_cast<float>(original / s.low_freq_factor);
  const float high_freq_wavelen = static_cast<float>(original / s.high_freq_factor);
  const float two_pi = static_cast<float>(2.0 * std::numbers::pi);
  const float smooth_span = static_cast<float>(static_cast<double>(s.high_freq_factor) - s.low_freq_factor);
  for (float& f : inv) {
    const float wavelen = (1.0f / f) * two_pi;  // HF: 2 * math.pi / inv_freq
    float scaled = wavelen > low_freq_wavelen ? f / s.factor : f;
    const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    if (medium) {
      // HF: smooth_factor = (old_context_len / wavelen - low_freq_factor)
      //                     / (high_freq_factor - low_freq_factor)
      const float smooth =
          ((1.0f / wavelen) * static_cast<float>(original) - s.low_freq_factor) / smooth_span;
      scaled = (1.0f - smooth) * scaled / s.factor + smooth * scaled;
    }
    f = scaled;
  }
  return inv;
}

// get_mscale in _compute_yarn_parameters: YaRN's attention temperature for a context stretched by `scale`.
double YarnMscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// find_correction_dim: the dimension index whose wavelength makes `rotations` turns over `positions`.
double YarnCorrectionDim(double rotations, int32_t dim, double base, double positions) {
  return (dim * std::log(positions / (rotations * 2.0 * std::numbers::pi))) / (2.0 * std::log(base));
}

// _compute_yarn_parameters: pairs that turn more than beta_fast times over the original context keep their
// frequency (extrapolation), those turning fewer than beta_slow times are divided by factor (interpolation),
// and a linear ramp over the pair index blends the two in between.
RopeFrequencies YarnFrequencies(const RopeScaling& s, float theta, int32_t dim, int32_t max_positions) {
  const int32_t original = s.original_max_positions > 0 ? s.original_max_positions : max_positions;
  // HF: `if factor is None: factor = config.max_position_embeddings / original_max_position_embeddings`.
  const double factor =
      s.factor_given ? static_cast<double>(s.factor) : static_cast<double>(max_positions) / original;
  KVLAB_CHECK(factor > 0.0);

  RopeFrequencies out;
  if (s.attention_factor) {
    out.attention_scaling = *s.attention_factor;
  } else if (s.mscale.value_or(0.0f) != 0.0f && s.mscale_all_dim.value_or(0.0f) != 0.0f) {
    // HF tests `if mscale and mscale_all_dim`, so a zero counts as absent.
    out.attention_scaling =
        static_cast<float>(YarnMscale(factor, *s.mscale) / YarnMscale(factor, *s.mscale_all_dim));
  } else {
    out.attention_scaling = static_cast<float>(YarnMscale(factor, 1.0));
  }

  // find_correction_range: the ramp's ends, rounded outwards only when truncate is set.
  double low = YarnCorrectionDim(s.beta_fast, dim, theta, original);
  double high = YarnCorrectionDim(s.beta_slow, dim, theta, original);
  if (s.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // linear_ramp_factor: prevent a zero-width ramp

  const float ramp_low = static_cast<float>(low);
  const float ramp_span = static_cast<float>(high - low);
  const float factor_f = static_cast<float>(factor);
  out.inv_freq.resize(static_cast<size_t>(dim / 2));
  for (size_t i = 0; i < out.inv_freq.size(); ++i) {
    const float pos_freq = BaseFrequency(theta, i, dim);
    const float extrapolation = 1.0f / pos_freq;
    const float interpolation = 1.0f / (factor_f * pos_freq);
    const float ramp = std::clamp((static_cast<float>(i) - ramp_low) / ramp_span, 0.0f, 1.0f);
    const float extrapolation_weight = 1.0f - ramp;  // HF: inv_freq_extrapolation_factor
    out.inv_freq[i] = interpolation * (1.0f - extrapolation_weight) + extrapolation * extrapolation_weight;
  }
  return out;
}

// _compute_longrope_parameters: per-pair rescaling by short_factor or long_factor, and an attention factor
// from the context extension ratio max_position_embeddings / original_max_position_embeddings. (Phi-3 configs
// carry no rope_scaling.factor; every transformers version derives it from that ratio for them.)
RopeFrequencies LongRopeFrequencies(const RopeScaling& s, float theta, int32_t dim, int32_t max_positions,
                                    bool long_context) {
  const double original = s.original_max_positions;
  const double factor = static_cast<double>(max_positions) / original;
  RopeFrequencies out;
  if (s.attention_factor) {
    out.attention_scaling = *s.attention_factor;
  } else if (factor > 1.0) {
    out.attention_scaling = static_cast<float>(std::sqrt(1.0 + std::log(factor) / std::log(original)));
  }
  const std::vector<float>& ext = long_context ? s.long_factor : s.short_factor;
  KVLAB_CHECK(ext.size() == static_cast<size_t>(dim / 2));
  out.inv_freq.resize(ext.size());
  for (size_t i = 0; i < ext.size(); ++i) out.inv_freq[i] = 1.0f / (ext[i] * BaseFrequency(theta, i, dim));
  return out;
}

}  // namespace

const char* RopeScalingTypeName(RopeScalingType t) {
  switch (t) {
    case RopeScalingType::kNone:
      return "none";
    case RopeScalingType::kLinear:
      return "linear";
    case RopeScalingType::kLlama3:
      return "llama3";
    case RopeScalingType::kYarn:
      return "yarn";
    case RopeScalingType::kLongRope:
      return "longrope";
  }
  return "unknown";
}

RopeFrequencies ComputeRopeFrequencies(const RopeScaling& s, float theta, int32_t rotary_dim,
                                       int32_t max_positions, bool long_context) {
  KVLAB_CHECK(rotary_dim > 0 && rotary_dim % 2 == 0);
  switch (s.type) {
    case RopeScalingType::kNone:
      return {DefaultInvFreq(theta, rotary_dim), 1.0f};
    case RopeScalingType::kLinear: {
      // _compute_linear_scaling_rope_parameters: inv_freq /= factor (position interpolation).
      std::vector<float> inv = DefaultInvFreq(theta, rotary_dim);
      for (float& f : inv) f /= s.factor;
      return {std::move(inv), 1.0f};
    }
    case RopeScalingType::kLlama3:
      KVLAB_CHECK(s.original_max_positions > 0);
      return {Llama3InvFreq(s, theta, rotary_dim), 1.0f};
    case RopeScalingType::kYarn:
      KVLAB_CHECK(s.original_max_positions > 0 || max_positions > 0);
      return YarnFrequencies(s, theta, rotary_dim, max_positions);
    case RopeScalingType::kLongRope:
      KVLAB_CHECK(s.original_max_positions > 0);
      return LongRopeFrequencies(s, theta, rotary_dim, max_positions, long_context);
  }
  KVLAB_CHECK(false);
  return {};
}

namespace {

// Throws the one-line error for rope_scaling.<field>.
class ScalingChecks {
 public:
  ScalingChecks(const std::string& source, RopeScalingType type) : source_(source), type_(type) {}

  void Positive(const char* field, float v) const {
    if (!(std::isfinite(v) && v > 0.0f)) Fail(field, fmt::format("must be a finite number > 0, got {}", v));
  }
  void NotNegative(const char* field, float v) const {
    if (!(std::isfinite(v) && v >= 0.0f)) Fail(field, fmt::format("must be a finite number >= 0, got {}", v));
  }
  void PositiveInt(const char* field, int32_t v) const {
    if (v <= 0) Fail(field, fmt::format("must be > 0, got {}", v));
  }
  void FactorList(const char* field, const std::vector<float>& v, int32_t rotary_dim) const {
    const size_t want = static_cast<size_t>(rotary_dim / 2);
    if (v.size() != want) {
      Fail(field, fmt::format("must have rotary_dim/2 = {} entries, got {}", want, v.size()));
    }
    for (size_t i = 0; i < v.size(); ++i) {
      if (!(std::isfinite(v[i]) && v[i] > 0.0f)) {
        Fail(field, fmt::format("entry {} must be a finite number > 0, got {}", i, v[i]));
      }
    }
  }
  [[noreturn]] void Fail(const char* field, const std::string& what) const {
    throw Error(source_,
                fmt::format("rope_scaling.{} {} (rope_type {})", field, what, RopeScalingTypeName(type_)));
  }

 private:
  const std::string& source_;
  RopeScalingType type_;
};

}  // namespace

void ValidateRopeScaling(const RopeScaling& s, int32_t rotary_dim, const std::string& source) {
  const ScalingChecks check(source, s.type);
  switch (s.type) {
    case RopeScalingType::kNone:
      return;
    case RopeScalingType::kLinear:
      check.Positive("factor", s.factor);
      return;
    case RopeScalingType::kLlama3:
      check.Positive("factor", s.factor);
      check.PositiveInt("original_max_position_embeddings", s.original_max_positions);
      check.Positive("low_freq_factor", s.low_freq_factor);
      check.Positive("high_freq_factor", s.high_freq_factor);
      if (!(s.low_freq_factor < s.high_freq_factor)) {
        check.Fail("high_freq_factor", fmt::format("must be greater than low_freq_factor {}, got {}",
                                                   s.low_freq_factor, s.high_freq_factor));
      }
      return;
    case RopeScalingType::kYarn:
      if (s.factor_given) check.Positive("factor", s.factor);
      // 0 stands for "absent": HF then uses max_position_embeddings.
      if (s.original_max_positions < 0) {
        check.Fail("original_max_position_embeddings",
                   fmt::format("must be > 0, got {}", s.original_max_positions));
      }
      check.Positive("beta_fast", s.beta_fast);
      check.Positive("beta_slow", s.beta_slow);
      if (s.beta_fast < s.beta_slow) {
        check.Fail("beta_fast",
                   fmt::format("must be at least beta_slow {}, got {}", s.beta_slow, s.beta_fast));
      }
      if (s.attention_factor) check.Positive("attention_factor", *s.attention_factor);
      if (s.mscale) check.NotNegative("mscale", *s.mscale);
      if (s.mscale_all_dim) check.NotNegative("mscale_all_dim", *s.mscale_all_dim);
      return;
    case RopeScalingType::kLongRope:
      check.PositiveInt("original_max_position_embeddings", s.original_max_positions);
      check.FactorList("short_factor", s.short_factor, rotary_dim);
      check.FactorList("long_factor", s.long_factor, rotary_dim);
      if (s.attention_factor) check.Positive("attention_factor", *s.attention_factor);
      return;
  }
}

}  // namespace kvlab
