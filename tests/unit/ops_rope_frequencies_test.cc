// RoPE frequency tables of the scaled variants (ops/rope_frequencies.h) against tables computed independently
// from transformers' modeling_rope_utils.py formulas, against the arch-zoo reference, and the config checks.
//
// The expected tables below come from tests/unit/ops_rope_frequencies_expected.py, which restates each HF
// function in numpy float32 (the inputs of each case are in its comment and in that script's main()).
// The tables are kept out of clang-format, which would set one number per line.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "kvlab/ops/rope.h"
#include "kvlab/ops/rope_frequencies.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

// Same formula, same float32 steps: only pow's last bit may differ (numpy vs libm), so allow 4 ulps.
void ExpectTable(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 4 * FLT_EPSILON * std::fabs(expected[i])) << "pair " << i;
  }
}

RopeScaling Llama3(float factor, float low, float high, int32_t original) {
  RopeScaling s;
  s.type = RopeScalingType::kLlama3;
  s.factor = factor;
  s.low_freq_factor = low;
  s.high_freq_factor = high;
  s.original_max_positions = original;
  return s;
}

RopeScaling Yarn(float factor, int32_t original) {
  RopeScaling s;
  s.type = RopeScalingType::kYarn;
  s.factor = factor;
  s.original_max_positions = original;
  return s;
}

// Synthetic Phi-3-mini-128k-like LongRoPE factors for head_dim 96 (48 pairs): short near 1, long rising
// to 60 (PHI3_SHORT / PHI3_LONG in the script).
// clang-format off
const std::vector<float> kPhi3Short = {
    1.0f, 1.0f, 1.0001f, 1.0003f, 1.0006f, 1.0009f, 1.0013f, 1.0018f, 1.0023f, 1.0029f, 1.0036f, 1.0044f,
    1.0052f, 1.0061f, 1.0071f, 1.0081f, 1.0093f, 1.0105f, 1.0117f, 1.0131f, 1.0145f, 1.016f, 1.0175f,
    1.0192f, 1.0209f, 1.0226f, 1.0245f, 1.0264f, 1.0284f, 1.0305f, 1.0326f, 1.0348f, 1.0371f, 1.0394f,
    1.0419f, 1.0444f, 1.0469f, 1.0496f, 1.0523f, 1.0551f, 1.0579f, 1.0609f, 1.0639f, 1.067f, 1.0701f,
    1.0733f, 1.0766f, 1.08f};
// clang-format on
// clang-format off
const std::vector<float> kPhi3Long = {
    1.0f, 1.0006f, 1.0045f, 1.0153f, 1.0364f, 1.071f, 1.1227f, 1.1949f, 1.291f, 1.4143f, 1.5683f, 1.7564f,
    1.982f, 2.2485f, 2.5593f, 2.9179f, 3.3277f, 3.7919f, 4.3142f, 4.8978f, 5.5462f, 6.2628f, 7.051f, 7.9142f,
    8.8558f, 9.8793f, 10.988f, 12.1854f, 13.4748f, 14.8597f, 16.3434f, 17.9295f, 19.6212f, 21.4221f,
    23.3355f, 25.3648f, 27.5134f, 29.7848f, 32.1824f, 34.7095f, 37.3696f, 40.1661f, 43.1023f, 46.1818f,
    49.4079f, 52.784f, 56.3136f, 60.0f};
// clang-format on

RopeScaling Phi3LongRope() {
  RopeScaling s;
  s.type = RopeScalingType::kLongRope;
  s.original_max_positions = 4096;
  s.short_factor = kPhi3Short;
  s.long_factor = kPhi3Long;
  return s;
}

TEST(RopeFrequencies, TypeNamesAreHuggingFaceRopeTypes) {
  EXPECT_STREQ(RopeScalingTypeName(RopeScalingType::kNone), "none");
  EXPECT_STREQ(RopeScalingTypeName(RopeScalingType::kLinear), "linear");
  EXPECT_STREQ(RopeScalingTypeName(RopeScalingType::kLlama3), "llama3");
  EXPECT_STREQ(RopeScalingTypeName(RopeScalingType::kYarn), "yarn");
  EXPECT_STREQ(RopeScalingTypeName(RopeScalingType::kLongRope), "longrope");
}

TEST(RopeFrequencies, PlainTableGivesExactlyThePlainAngles) {
  for (const auto& [head_dim, theta] :
       std::vector<std::pair<int32_t, float>>{{8, 1e4f}, {64, 1e4f}, {128, 5e5f}, {24, 1e6f}, {96, 1e4f}}) {
    const RopeFrequencies f = ComputeRopeFrequencies(RopeScaling{}, theta, head_dim, 2048);
    ASSERT_EQ(f.inv_freq.size(), static_cast<size_t>(head_dim / 2));
    EXPECT_EQ(f.attention_scaling, 1.0f);
    for (int32_t pos : {0, 1, 37, 4095, 131071}) {
      RopeAngles plain, table;
      plain.Compute(pos, head_dim, theta);
      table.Compute(pos, f);
      EXPECT_EQ(table.cos, plain.cos) << "head_dim " << head_dim << " pos " << pos;
      EXPECT_EQ(table.sin, plain.sin) << "head_dim " << head_dim << " pos " << pos;
    }
  }
}

TEST(RopeFrequencies, LinearDividesByFactor) {
  // Linear x2 on theta 1e4, head_dim 16 (the arch-zoo llama-linear config).
  RopeScaling s;
  s.type = RopeScalingType::kLinear;
  s.factor = 2.0f;
  const RopeFrequencies f = ComputeRopeFrequencies(s, 1e4f, 16, 256);
  ExpectTable(f.inv_freq, {0.5f, 0.158113882f, 0.0500000007f, 0.0158113893f, 0.00499999989f, 0.00158113893f,
                           0.000500000024f, 0.000158113893f});
  EXPECT_EQ(f.attention_scaling, 1.0f);
}

TEST(RopeFrequencies, Llama3ArchZooCaseCoversAllThreeBands) {
  // theta 5e5, head_dim 32, factor 8, low/high_freq_factor 1/4, original 32: wavelengths below 8 positions
  // are kept (pair 0), above 32 divided by 8 (pairs 2-15), and pair 1 (wavelength ~29) blended.
  const RopeFrequencies f = ComputeRopeFrequencies(Llama3(8, 1, 4, 32), 5e5f, 32, 256);
  // clang-format off
  const std::vector<float> expected = {
      1.0f, 0.21466738f, 0.0242403448f, 0.0106746377f, 0.00470075384f, 0.00207005511f, 0.000911583134f,
      0.000401430763f, 0.000176776681f, 7.78465546e-05f, 3.42810235e-05f, 1.50962178e-05f, 6.64787058e-06f,
      2.92749974e-06f, 1.28917316e-06f, 5.6770881e-07f};
  // clang-format on
  ExpectTable(f.inv_freq, expected);
  EXPECT_EQ(f.attention_scaling, 1.0f);
  // The bands themselves, against the plain table: kept, blended strictly in between, divided by the factor.
  const RopeFrequencies plain = ComputeRopeFrequencies(RopeScaling{}, 5e5f, 32, 256);
  EXPECT_EQ(f.inv_freq[0], plain.inv_freq[0]);
  EXPECT_LT(f.inv_freq[1], plain.inv_freq[1]);
  EXPECT_GT(f.inv_freq[1], plain.inv_freq[1] / 8);
  for (size_t i = 2; i < 16; ++i) EXPECT_EQ(f.inv_freq[i], plain.inv_freq[i] / 8) << "pair " << i;
}

TEST(RopeFrequencies, Llama3MatchesLlama31_8B) {
  // Llama-3.1-8B: theta 5e5, head_dim 128, factor 8, low/high_freq_factor 1/4, original 8192.
  const RopeFrequencies f = ComputeRopeFrequencies(Llama3(8, 1, 4, 8192), 5e5f, 128, 131072);
  // clang-format off
  const std::vector<float> expected = {
      1.0f, 0.814617217f, 0.66360122f, 0.540580988f, 0.440366626f, 0.358730227f, 0.292227805f, 0.238053843f,
      0.193922758f, 0.157972813f, 0.128687382f, 0.10483095f, 0.0853971019f, 0.0695659518f, 0.0566696189f,
      0.046164047f, 0.0376060307f, 0.0306345206f, 0.0249554086f, 0.0203291047f, 0.0165604409f, 0.0134904208f,
      0.0109895291f, 0.00895225909f, 0.00729266508f, 0.00594072975f, 0.00483942125f, 0.00394227589f,
      0.00321144611f, 0.00216657063f, 0.00137189368f, 0.00085675146f, 0.000524846022f, 0.00031269365f,
      0.000178507791f, 9.5562129e-05f, 7.78465546e-05f, 6.34151438e-05f, 5.16590735e-05f, 4.20823671e-05f,
      3.42810235e-05f, 2.79259093e-05f, 2.27489272e-05f, 1.85316694e-05f, 1.50962178e-05f, 1.22976389e-05f,
      1.00178677e-05f, 8.1607277e-06f, 6.64787058e-06f, 5.41546933e-06f, 4.41153452e-06f, 3.59371234e-06f,
      2.92749974e-06f, 2.38479174e-06f, 1.94269251e-06f, 1.58255079e-06f, 1.28917316e-06f, 1.05018262e-06f,
      8.55496921e-07f, 6.96902532e-07f, 5.6770881e-07f, 4.6246538e-07f, 3.76732288e-07f, 3.06892588e-07f};
  // clang-format on
  ExpectTable(f.inv_freq, expected);
}

TEST(RopeFrequencies, YarnMatchesQwen25Config) {
  // Qwen2.5's yarn recipe: theta 1e6, head_dim 128, factor 4, original 32768 (max_position_embeddings 32768);
  // attention factor 0.1 ln 4 + 1.
  const RopeFrequencies f = ComputeRopeFrequencies(Yarn(4, 32768), 1e6f, 128, 32768);
  // clang-format off
  const std::vector<float> expected = {
      1.0f, 0.805842221f, 0.649381638f, 0.523299098f, 0.421696514f, 0.339820832f, 0.273841977f, 0.220673397f,
      0.177827939f, 0.143301263f, 0.115478203f, 0.0930572003f, 0.0749894157f, 0.0604296438f, 0.0486967526f,
      0.0392418988f, 0.0316227786f, 0.0254829675f, 0.0205352493f, 0.0165481716f, 0.0133352149f,
      0.0107460786f, 0.00865964312f, 0.00697830599f, 0.00537532149f, 0.0041317381f, 0.00316842273f,
      0.00242342241f, 0.00184827659f, 0.00140511245f, 0.00106436107f, 0.000802959781f, 0.000602941145f,
      0.000450323569f, 0.000334240554f, 0.000246258394f, 0.000179841183f, 0.00012993149f, 9.26230132e-05f,
      6.4903943e-05f, 4.44569851e-05f, 3.58253128e-05f, 2.88695519e-05f, 2.32642997e-05f, 1.87473561e-05f,
      1.51074091e-05f, 1.21741887e-05f, 9.81047469e-06f, 7.90569356e-06f, 6.37074254e-06f, 5.13381246e-06f,
      4.13704265e-06f, 3.33380399e-06f, 2.68651957e-06f, 2.16491071e-06f, 1.74457637e-06f, 1.40585337e-06f,
      1.13289593e-06f, 9.12935377e-07f, 7.35681851e-07f, 5.92843435e-07f, 4.7773824e-07f, 3.84981632e-07f,
      3.10234441e-07f};
  // clang-format on
  ExpectTable(f.inv_freq, expected);
  EXPECT_FLOAT_EQ(f.attention_scaling, 1.13862944f);
}

// DeepSeek-V2-Lite's rope dims and yarn factor (theta 1e4, rotary dim 64, factor 40, original 4096, max
// 163840) with mscale 1.0 and mscale_all_dim 0.707, so that the mscale ratio is not 1.
RopeScaling DeepSeekStyleYarn() {
  RopeScaling s = Yarn(40, 4096);
  s.mscale = 1.0f;
  s.mscale_all_dim = 0.707f;
  return s;
}
// clang-format off
const std::vector<float> kDeepSeekStyleInvFreq = {
    1.0f, 0.749894202f, 0.562341332f, 0.421696514f, 0.316227764f, 0.237137392f, 0.177827939f, 0.133352146f,
    0.100000001f, 0.0749894157f, 0.0562341288f, 0.0390069261f, 0.0268793609f, 0.0183781441f, 0.012447956f,
    0.0083345091f, 0.00550000044f, 0.00356199732f, 0.00224936521f, 0.00137051346f, 0.000790569407f,
    0.000414990413f, 0.00017782794f, 3.3338034e-05f, 2.49999994e-05f, 1.87473543e-05f, 1.40585325e-05f,
    1.05424142e-05f, 7.90569447e-06f, 5.92843435e-06f, 4.44569832e-06f, 3.33380353e-06f};
// clang-format on

TEST(RopeFrequencies, YarnDeepSeekStyleAttentionIsTheMscaleRatio) {
  const RopeFrequencies f = ComputeRopeFrequencies(DeepSeekStyleYarn(), 1e4f, 64, 163840);
  ExpectTable(f.inv_freq, kDeepSeekStyleInvFreq);
  // get_mscale(40, 1.0) / get_mscale(40, 0.707).
  EXPECT_FLOAT_EQ(f.attention_scaling, 1.08572638f);

  // HF tests `if mscale and mscale_all_dim`: a zero mscale counts as absent, which leaves get_mscale(factor)
  // (taken as a value it would give get_mscale(40, 0) / get_mscale(40, 0.707) < 1).
  RopeScaling zero_mscale = DeepSeekStyleYarn();
  zero_mscale.mscale = 0.0f;
  EXPECT_FLOAT_EQ(ComputeRopeFrequencies(zero_mscale, 1e4f, 64, 163840).attention_scaling,
                  static_cast<float>(0.1 * std::log(40.0) + 1.0));
  // An explicit attention_factor wins over both.
  RopeScaling explicit_factor = DeepSeekStyleYarn();
  explicit_factor.attention_factor = 0.5f;
  EXPECT_EQ(ComputeRopeFrequencies(explicit_factor, 1e4f, 64, 163840).attention_scaling, 0.5f);
}

TEST(RopeFrequencies, YarnWithoutTruncateKeepsFractionalRampEnds) {
  // gpt-oss-style yarn: theta 1.5e5, head_dim 64, factor 32, original 4096, truncate false (ramp ends ~8.09
  // and ~17.39 instead of 8 and 18); attention factor 0.1 ln 32 + 1.
  RopeScaling s = Yarn(32, 4096);
  s.truncate = false;
  const RopeFrequencies f = ComputeRopeFrequencies(s, 1.5e5f, 64, 131072);
  // clang-format off
  const std::vector<float> expected = {
      1.0f, 0.689044297f, 0.47478205f, 0.327145845f, 0.225418001f, 0.155322984f, 0.107024424f, 0.0737445652f,
      0.05081328f, 0.0317056961f, 0.0193350017f, 0.0115920492f, 0.00679495931f, 0.00386035908f,
      0.00209379266f, 0.00105260219f, 0.000456483918f, 0.000129318694f, 3.83088118e-05f, 2.63964721e-05f,
      1.8188337e-05f, 1.25325696e-05f, 8.63549576e-06f, 5.95023948e-06f, 4.09997847e-06f, 2.82506676e-06f,
      1.94659629e-06f, 1.34129107e-06f, 9.24208962e-07f, 6.36820914e-07f, 4.38797855e-07f, 3.0235114e-07f};
  // clang-format on
  ExpectTable(f.inv_freq, expected);
  EXPECT_FLOAT_EQ(f.attention_scaling, 1.34657359f);
}

TEST(RopeFrequencies, YarnDerivesWhatTheConfigLeavesOut) {
  // No factor: max_position_embeddings / original_max_position_embeddings = 163840 / 4096 = 40.
  RopeScaling no_factor = DeepSeekStyleYarn();
  no_factor.factor_given = false;
  no_factor.factor = 1.0f;
  const RopeFrequencies derived = ComputeRopeFrequencies(no_factor, 1e4f, 64, 163840);
  ExpectTable(derived.inv_freq, kDeepSeekStyleInvFreq);
  EXPECT_FLOAT_EQ(derived.attention_scaling, 1.08572638f);
  // An explicit factor wins over the ratio (newer transformers; max_position_embeddings 32768 here).
  ExpectTable(ComputeRopeFrequencies(DeepSeekStyleYarn(), 1e4f, 64, 32768).inv_freq, kDeepSeekStyleInvFreq);
  // No original_max_position_embeddings: the correction range uses max_position_embeddings instead.
  RopeScaling no_original = DeepSeekStyleYarn();
  no_original.original_max_positions = 0;
  ExpectTable(ComputeRopeFrequencies(no_original, 1e4f, 64, 4096).inv_freq, kDeepSeekStyleInvFreq);
}

TEST(RopeFrequencies, LongRopeMatchesPhi3MiniStyleConfig) {
  // Phi-3-mini-128k-style: theta 1e4, head_dim 96, original 4096, max 131072: factor 32 and attention factor
  // sqrt(1 + ln 32 / ln 4096) whether short or long factors are in use.
  const RopeScaling s = Phi3LongRope();
  const RopeFrequencies short_f = ComputeRopeFrequencies(s, 1e4f, 96, 131072, /*long_context=*/false);
  // clang-format off
  const std::vector<float> expected_short = {
      1.0f, 0.825404227f, 0.681223929f, 0.562172651f, 0.463880539f, 0.382774174f, 0.315817207f, 0.260546744f,
      0.214949086f, 0.177313745f, 0.146253422f, 0.120622016f, 0.0994826928f, 0.0820399597f, 0.0676489025f,
      0.055782292f, 0.0459881909f, 0.0379137807f, 0.0312570669f, 0.0257640593f, 0.0212364215f, 0.0175027475f,
      0.014425545f, 0.0118870484f, 0.00979527831f, 0.00807162374f, 0.00664999429f, 0.00547877373f,
      0.00451340899f, 0.00371779315f, 0.00306244195f, 0.00252237869f, 0.00207736413f, 0.00171087112f,
      0.00140877184f, 0.00116002245f, 0.000955201045f, 0.000786399003f, 0.000647431298f, 0.000532974431f,
      0.000438755087f, 0.000361126062f, 0.000297234481f, 0.000244625815f, 0.0002013302f, 0.000165683348f,
      0.000136336588f, 0.000112178459f};
  // clang-format on
  ExpectTable(short_f.inv_freq, expected_short);
  EXPECT_FLOAT_EQ(short_f.attention_scaling, 1.19023812f);

  const RopeFrequencies long_f = ComputeRopeFrequencies(s, 1e4f, 96, 131072, /*long_context=*/true);
  // clang-format off
  const std::vector<float> expected_long = {
      1.0f, 0.82490927f, 0.678239942f, 0.553867161f, 0.447856903f, 0.357720524f, 0.281667203f, 0.218441471f,
      0.166881084f, 0.12573567f, 0.0935917348f, 0.0689778849f, 0.0504540876f, 0.0367090963f, 0.0266202521f,
      0.0192721225f, 0.0139483381f, 0.0101036085f, 0.00732992869f, 0.00532924384f, 0.00388452457f,
      0.00283943187f, 0.00208168919f, 0.00153082795f, 0.00112920348f, 0.000835488609f, 0.000620032719f,
      0.000461487798f, 0.000344464468f, 0.000257823907f, 0.000193489599f, 0.000145578946f, 0.000109801345f,
      8.30114441e-05f, 6.28998459e-05f, 4.77641224e-05f, 3.63459294e-05f, 2.77122708e-05f, 2.11697061e-05f,
      1.62013675e-05f, 1.24207654e-05f, 9.53835752e-06f, 7.33667957e-06f, 5.6519184e-06f, 4.3605055e-06f,
      3.36897438e-06f, 2.60647448e-06f, 2.01921262e-06f};
  // clang-format on
  ExpectTable(long_f.inv_freq, expected_long);
  EXPECT_FLOAT_EQ(long_f.attention_scaling, 1.19023812f);
}

TEST(RopeFrequencies, LongRopeAttentionFactorRules) {
  RopeScaling s = Phi3LongRope();
  // No context extension (max <= original): attention factor 1, where the formula would give <= 1.
  EXPECT_EQ(ComputeRopeFrequencies(s, 1e4f, 96, 4096).attention_scaling, 1.0f);
  EXPECT_EQ(ComputeRopeFrequencies(s, 1e4f, 96, 2048).attention_scaling, 1.0f);
  // An explicit attention_factor wins.
  s.attention_factor = 1.25f;
  EXPECT_EQ(ComputeRopeFrequencies(s, 1e4f, 96, 131072).attention_scaling, 1.25f);
}

TEST(RopeFrequencies, AnglesOfATableAreScaledCosAndSin) {
  const RopeFrequencies f = ComputeRopeFrequencies(Yarn(4, 32768), 1e6f, 128, 32768);
  ASSERT_NE(f.attention_scaling, 1.0f);
  RopeAngles a;
  for (int32_t pos : {0, 5, 40000}) {
    a.Compute(pos, f);
    ASSERT_EQ(a.cos.size(), f.inv_freq.size());
    for (size_t i = 0; i < f.inv_freq.size(); ++i) {
      const double angle = static_cast<double>(pos) * f.inv_freq[i];
      EXPECT_NEAR(a.cos[i], std::cos(angle) * f.attention_scaling, 2e-7) << "pos " << pos << " pair " << i;
      EXPECT_NEAR(a.sin[i], std::sin(angle) * f.attention_scaling, 2e-7) << "pos " << pos << " pair " << i;
    }
  }
}

// The rope_scaling of an arch-zoo config.json (the types those configs use).
RopeScaling ScalingFromConfig(const nlohmann::json& config) {
  RopeScaling s;
  if (!config.contains("rope_scaling") || config["rope_scaling"].is_null()) return s;
  const nlohmann::json& r = config["rope_scaling"];
  const std::string type = r.value("rope_type", r.value("type", "default"));
  if (type == "linear") {
    s.type = RopeScalingType::kLinear;
  } else if (type == "llama3") {
    s.type = RopeScalingType::kLlama3;
    s.low_freq_factor = r.at("low_freq_factor").get<float>();
    s.high_freq_factor = r.at("high_freq_factor").get<float>();
    s.original_max_positions = r.at("original_max_position_embeddings").get<int32_t>();
  } else {
    ADD_FAILURE() << "rope_type " << type << " not expected in the arch zoo";
  }
  s.factor = r.at("factor").get<float>();
  return s;
}

// rope_inv_freq_per_layer holds HF's tables rounded to 6 significant digits.
void ExpectSixDigits(const std::vector<float>& actual, const nlohmann::json& expected,
                     const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double e = expected[i].get<double>();
    EXPECT_NEAR(actual[i], e, 6e-6 * std::fabs(e)) << what << " pair " << i;
  }
}

TEST(RopeFrequencies, MatchesArchZooReferenceTables) {
  KVLAB_REQUIRE_ASSETS();
  const nlohmann::json ref = test::ReadJson(test::AssetsDir() / "reference/arch_zoo_reference.json");
  for (const char* name : {"llama3", "llama-linear"}) {
    const nlohmann::json& c = ref.at("cases").at(name);
    const nlohmann::json config =
        test::ReadJson(test::AssetsDir() / c.at("dir").get<std::string>() / "config.json");
    const RopeScaling s = ScalingFromConfig(config);
    ASSERT_NE(s.type, RopeScalingType::kNone) << name;
    ValidateRopeScaling(s, c.at("derived").at("head_dim").get<int32_t>(), name);
    const RopeFrequencies f = ComputeRopeFrequencies(s, config.at("rope_theta").get<float>(),
                                                     c.at("derived").at("head_dim").get<int32_t>(),
                                                     config.at("max_position_embeddings").get<int32_t>());
    for (const nlohmann::json& layer : c.at("derived").at("rope_inv_freq_per_layer")) {
      ExpectSixDigits(f.inv_freq, layer, name);
    }
  }
}

TEST(RopeFrequencies, MatchesGemma3LocalAndGlobalTables) {
  // Gemma3: sliding layers use rope_local_base_freq unscaled, full-attention layers rope_theta with the
  // linear rope_scaling.
  KVLAB_REQUIRE_ASSETS();
  const nlohmann::json ref = test::ReadJson(test::AssetsDir() / "reference/arch_zoo_reference.json");
  const nlohmann::json& c = ref.at("cases").at("gemma3");
  const nlohmann::json config =
      test::ReadJson(test::AssetsDir() / c.at("dir").get<std::string>() / "config.json");
  const int32_t head_dim = config.at("head_dim").get<int32_t>();
  const int32_t max_positions = config.at("max_position_embeddings").get<int32_t>();
  const RopeFrequencies local = ComputeRopeFrequencies(
      RopeScaling{}, config.at("rope_local_base_freq").get<float>(), head_dim, max_positions);
  const RopeScaling global_scaling = ScalingFromConfig(config);
  ASSERT_EQ(global_scaling.type, RopeScalingType::kLinear);
  const RopeFrequencies global =
      ComputeRopeFrequencies(global_scaling, config.at("rope_theta").get<float>(), head_dim, max_positions);

  const nlohmann::json& layer_types = config.at("layer_types");
  const nlohmann::json& tables = c.at("derived").at("rope_inv_freq_per_layer");
  ASSERT_EQ(tables.size(), layer_types.size());
  bool saw_global = false;
  for (size_t l = 0; l < tables.size(); ++l) {
    const bool is_global = layer_types[l].get<std::string>() == "full_attention";
    saw_global |= is_global;
    ExpectSixDigits(is_global ? global.inv_freq : local.inv_freq, tables[l],
                    "gemma3 layer " + std::to_string(l));
  }
  EXPECT_TRUE(saw_global);
}

// The message ValidateRopeScaling throws, or "" when it accepts.
std::string ValidationError(const RopeScaling& s, int32_t rotary_dim) {
  try {
    ValidateRopeScaling(s, rotary_dim, "model/config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RopeFrequenciesValidate, AcceptsRealConfigs) {
  EXPECT_EQ(ValidationError(RopeScaling{}, 64), "");
  EXPECT_EQ(ValidationError(Llama3(8, 1, 4, 8192), 128), "");
  EXPECT_EQ(ValidationError(Yarn(4, 32768), 128), "");
  EXPECT_EQ(ValidationError(DeepSeekStyleYarn(), 64), "");
  EXPECT_EQ(ValidationError(Phi3LongRope(), 96), "");
  RopeScaling linear;
  linear.type = RopeScalingType::kLinear;
  linear.factor = 8.0f;
  EXPECT_EQ(ValidationError(linear, 24), "");
}

TEST(RopeFrequenciesValidate, ErrorsNameTheField) {
  struct Case {
    RopeScaling s;
    int32_t rotary_dim;
    std::string field;
  };
  std::vector<Case> cases;
  auto add = [&](RopeScaling s, int32_t rotary_dim, const std::string& field) {
    cases.push_back({std::move(s), rotary_dim, field});
  };
  RopeScaling linear;
  linear.type = RopeScalingType::kLinear;
  linear.factor = 0.0f;
  add(linear, 64, "rope_scaling.factor");
  linear.factor = std::nanf("");
  add(linear, 64, "rope_scaling.factor");

  add(Llama3(-8, 1, 4, 8192), 128, "rope_scaling.factor");
  add(Llama3(8, 1, 4, 0), 128, "rope_scaling.original_max_position_embeddings");
  add(Llama3(8, 0, 4, 8192), 128, "rope_scaling.low_freq_factor");
  add(Llama3(8, 4, 1, 8192), 128, "rope_scaling.high_freq_factor");
  add(Llama3(8, 2, 2, 8192), 128, "rope_scaling.high_freq_factor");

  add(Yarn(0, 32768), 128, "rope_scaling.factor");
  add(Yarn(4, -1), 128, "rope_scaling.original_max_position_embeddings");
  RopeScaling yarn = Yarn(4, 32768);
  yarn.beta_fast = 0.5f;
  add(yarn, 128, "rope_scaling.beta_fast");
  yarn = Yarn(4, 32768);
  yarn.beta_slow = -1.0f;
  add(yarn, 128, "rope_scaling.beta_slow");
  yarn = Yarn(4, 32768);
  yarn.attention_factor = 0.0f;
  add(yarn, 128, "rope_scaling.attention_factor");
  yarn = DeepSeekStyleYarn();
  yarn.mscale = -1.0f;
  add(yarn, 64, "rope_scaling.mscale");
  yarn = DeepSeekStyleYarn();
  yarn.mscale_all_dim = INFINITY;
  add(yarn, 64, "rope_scaling.mscale_all_dim");

  RopeScaling longrope = Phi3LongRope();
  add(longrope, 128, "rope_scaling.short_factor");  // 48 entries where rotary_dim 128 needs 64
  longrope.long_factor.pop_back();
  add(longrope, 96, "rope_scaling.long_factor");
  longrope = Phi3LongRope();
  longrope.short_factor[7] = 0.0f;
  add(longrope, 96, "rope_scaling.short_factor");
  longrope = Phi3LongRope();
  longrope.original_max_positions = 0;
  add(longrope, 96, "rope_scaling.original_max_position_embeddings");
  longrope = Phi3LongRope();
  longrope.attention_factor = -1.0f;
  add(longrope, 96, "rope_scaling.attention_factor");

  for (const Case& c : cases) {
    const std::string msg = ValidationError(c.s, c.rotary_dim);
    EXPECT_EQ(msg.rfind("model/config.json: " + c.field + " ", 0), 0u)
        << "expected an error on " << c.field << " for rope_type " << RopeScalingTypeName(c.s.type)
        << ", got \"" << msg << "\"";
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
}

TEST(RopeFrequenciesValidate, IgnoresFieldsTheTypeDoesNotUse) {
  // A yarn-only field out of range does not matter to llama3, nor a llama3 one to yarn; yarn without a factor
  // derives it (see YarnDerivesWhatTheConfigLeavesOut).
  RopeScaling llama3 = Llama3(8, 1, 4, 8192);
  llama3.beta_fast = -1.0f;
  EXPECT_EQ(ValidationError(llama3, 128), "");
  RopeScaling yarn = Yarn(4, 32768);
  yarn.low_freq_factor = 5.0f;
  EXPECT_EQ(ValidationError(yarn, 128), "");
  yarn.factor_given = false;
  yarn.factor = 0.0f;
  EXPECT_EQ(ValidationError(yarn, 128), "");
}

}  // namespace
}  // namespace kvlab
