// config.json parsing: the decoder families' and GPT-2's fields, transformers' defaults, and one clear error per bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "io_test_writers.h"
#include "kvlab/model/hf_config.h"
#include "kvlab/model/presets.h"
#include "model_config_expect.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

const char* kLlama = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 128, "intermediate_size": 384,
  "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 4, "max_position_embeddings": 512,
  "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "tie_word_embeddings": true, "bos_token_id": 1,
  "eos_token_id": 2, "vocab_size": 2048, "rope_scaling": null, "hidden_act": "silu"})";

ModelConfig Parse(const std::string& text) { return ParseHfConfig(text, "dir/config.json"); }

// kLlama with one field replaced (or removed, when value is empty).
std::string LlamaWith(const std::string& field, const std::string& value) {
  auto j = nlohmann::json::parse(kLlama);
  if (value.empty())
    j.erase(field);
  else
    j[field] = nlohmann::json::parse(value);
  return j.dump();
}

TEST(HfConfigTest, Llama) {
  const ModelConfig c = Parse(kLlama);
  EXPECT_EQ(c.arch, Arch::kLlama);
  EXPECT_EQ(c.dim, 128);
  EXPECT_EQ(c.ffn_dim, 384);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.max_seq_len, 512);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-6f);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.rope_style, RopeStyle::kHalf);
  EXPECT_EQ(c.activation, Activation::kSiLU);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 2);
  EXPECT_EQ(c.vocab_size, 2048);
}

TEST(HfConfigTest, LlamaDefaultsAndVariants) {
  EXPECT_EQ(Parse(LlamaWith("num_key_value_heads", "")).n_kv_heads, 8);  // absent -> MHA
  EXPECT_FALSE(Parse(LlamaWith("tie_word_embeddings", "")).tied_embeddings);
  EXPECT_EQ(Parse(LlamaWith("head_dim", "32")).head_dim, 32);
  EXPECT_EQ(Parse(LlamaWith("eos_token_id", "[128001, 128009]")).eos_id, 128001);
  EXPECT_EQ(Parse(LlamaWith("bos_token_id", "null")).bos_id, -1);
  EXPECT_EQ(Parse(LlamaWith("rope_theta", "500000")).rope_theta, 500000.0f);  // an int is a number too
  auto j = nlohmann::json::parse(kLlama);
  j.erase("model_type");
  EXPECT_EQ(Parse(j.dump()).arch, Arch::kLlama);  // architectures alone suffices
}

// Each family's own fields and transformers' defaults for them.
TEST(HfConfigTest, Families) {
  auto with = [](nlohmann::json j) {
    nlohmann::json base = nlohmann::json::parse(kLlama);
    for (auto& [k, v] : j.items()) base[k] = v;
    return Parse(base.dump());
  };
  const ModelConfig l3 = with({{"rope_theta", 500000.0},
                               {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                                 {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}}}});
  EXPECT_EQ(l3.rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(l3.rope_scaling.original_max_positions, 8192);
  EXPECT_FLOAT_EQ(l3.rope_scaling.high_freq_factor, 4.0f);
  const ModelConfig q2 = with({{"model_type", "qwen2"}, {"use_sliding_window", false}, {"sliding_window", 4096}});
  EXPECT_EQ(q2.arch, Arch::kQwen2);
  EXPECT_TRUE(q2.qkv_bias);
  EXPECT_FALSE(q2.AnySlidingLayer());  // use_sliding_window false
  const ModelConfig q2w = with({{"model_type", "qwen2"}, {"use_sliding_window", true}, {"sliding_window", 32},
                                {"max_window_layers", 1}});
  EXPECT_EQ(q2w.layer_window, (std::vector<int32_t>{0, 32}));  // layers from max_window_layers on slide
  const ModelConfig q3 = with({{"model_type", "qwen3"}, {"head_dim", 32}});
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_EQ(q3.q_dim(), 8 * 32);
  const ModelConfig m = with({{"model_type", "mistral"}, {"sliding_window", 4096}});
  EXPECT_EQ(m.layer_window, (std::vector<int32_t>{4096, 4096}));
  EXPECT_FALSE(with({{"model_type", "mistral"}, {"sliding_window", nullptr}}).AnySlidingLayer());
  const ModelConfig g2 = with({{"model_type", "gemma2"}, {"sliding_window", 16}, {"query_pre_attn_scalar", 256},
                               {"hidden_activation", "gelu_pytorch_tanh"}});
  EXPECT_EQ(g2.layer_window, (std::vector<int32_t>{16, 0}));  // even layers slide
  EXPECT_TRUE(g2.sandwich_norms);
  EXPECT_FLOAT_EQ(g2.embed_scale, std::sqrt(128.0f));
  EXPECT_FLOAT_EQ(g2.AttentionScale(), 1.0f / 16.0f);
  EXPECT_FLOAT_EQ(g2.attn_softcap, 50.0f);  // transformers' Gemma2Config defaults
  EXPECT_FLOAT_EQ(g2.final_softcap, 30.0f);
  // An explicit null is no capping, as transformers reads None; the writer says it that way too.
  ModelConfig g2_uncapped = with({{"model_type", "gemma2"}, {"sliding_window", 16}, {"attn_logit_softcapping", nullptr},
                                  {"final_logit_softcapping", nullptr}});
  EXPECT_EQ(g2_uncapped.attn_softcap, 0.0f);
  EXPECT_EQ(g2_uncapped.final_softcap, 0.0f);
  EXPECT_EQ(Parse(HfConfigJson(g2_uncapped)).attn_softcap, 0.0f);
  EXPECT_EQ(g2.activation, Activation::kGeluTanh);
  const ModelConfig g3 = with({{"model_type", "gemma3_text"}, {"sliding_window", 512}, {"sliding_window_pattern", 2},
                               {"rope_local_base_freq", 10000.0}, {"attn_logit_softcapping", nullptr},
                               {"final_logit_softcapping", nullptr}});
  EXPECT_EQ(g3.layer_window, (std::vector<int32_t>{512, 0}));
  EXPECT_TRUE(g3.qk_norm);
  EXPECT_EQ(g3.attn_softcap, 0.0f);
  EXPECT_TRUE(g3.LocalRope(0));
  EXPECT_FALSE(g3.LocalRope(1));
  const ModelConfig phi = with({{"model_type", "phi3"}, {"original_max_position_embeddings", 4096},
                                {"rope_scaling", {{"type", "longrope"}, {"short_factor", std::vector<float>(8, 1.0f)},
                                                  {"long_factor", std::vector<float>(8, 2.0f)}}}});
  EXPECT_EQ(phi.arch, Arch::kPhi3);
  EXPECT_EQ(phi.rope_scaling.type, RopeScalingType::kLongRope);
  EXPECT_EQ(phi.rope_scaling.original_max_positions, 4096);  // from the top level, where Phi-3 keeps it
}

TEST(HfConfigTest, Gpt2AndDefaults) {
  const ModelConfig c = Parse(R"({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 768,
      "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024})");
  EXPECT_EQ(c.arch, Arch::kGpt2);
  EXPECT_EQ(c.ffn_dim, 3072);  // n_inner absent -> 4 * n_embd
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.n_kv_heads, 12);
  EXPECT_EQ(c.activation, Activation::kGeluTanh);  // gelu_new by default
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(c.eos_id, 50256);
  const ModelConfig e =
      Parse(R"({"model_type": "gpt2", "n_embd": 64, "n_layer": 1, "n_head": 4, "n_inner": 100,
      "vocab_size": 65, "n_positions": 64, "activation_function": "gelu", "tie_word_embeddings": false})");
  EXPECT_EQ(e.activation, Activation::kGeluErf);
  EXPECT_EQ(e.ffn_dim, 100);
  EXPECT_FALSE(e.tied_embeddings);
  EXPECT_EQ(Parse(R"({"model_type": "gpt2", "n_embd": 64, "n_layer": 1, "n_head": 4, "vocab_size": 9,
      "activation_function": "gelu_pytorch_tanh"})")
                .activation,
            Activation::kGeluTanh);
}

TEST(HfConfigTest, ErrorsNameFileAndField) {
  const std::string f = "dir/config.json";
  ExpectError([&] { Parse("{\"hidden_size\": "); }, {f, "malformed JSON"});
  ExpectError([&] { Parse("[]"); }, {f, "not a JSON object"});
  // A number beyond a double is nlohmann's out_of_range, not a parse_error (found by hf_config_fuzz).
  ExpectError([&] { Parse(R"({"model_type": "gpt2", "layer_norm_epsilon": 1e705})"); }, {f, "malformed JSON"});
  ExpectError([&] { Parse(LlamaWith("hidden_size", "")); }, {f, "missing required field hidden_size"});
  ExpectError([&] { Parse(LlamaWith("hidden_size", "\"128\"")); },
              {f, "field hidden_size must be an integer, got \"128\""});
  ExpectError([&] { Parse(LlamaWith("num_hidden_layers", "2.5")); },
              {f, "field num_hidden_layers must be an integer"});
  ExpectError([&] { Parse(LlamaWith("rms_norm_eps", "\"small\"")); },
              {f, "field rms_norm_eps must be a number"});
  ExpectError([&] { Parse(LlamaWith("tie_word_embeddings", "1")); },
              {f, "field tie_word_embeddings must be true or false"});
  ExpectError([&] { Parse(LlamaWith("vocab_size", "99999999999")); },
              {f, "field vocab_size is out of range"});
  ExpectError([&] { Parse(LlamaWith("rope_scaling", R"({"type": "dynamic", "factor": 2.0})")); },
              {f, "field rope_scaling.rope_type \"dynamic\" (NTK) is not supported"});
  ExpectError([&] { Parse(LlamaWith("rope_scaling", R"({"rope_type": "ntk-by-parts", "factor": 2.0})")); },
              {f, "field rope_scaling.rope_type \"ntk-by-parts\" is not supported"});
  ExpectError([&] { Parse(LlamaWith("rope_scaling", R"({"factor": 2.0})")); }, {f, "rope_scaling.rope_type is missing"});
  ExpectError([&] { Parse(LlamaWith("rope_scaling", R"({"rope_type": "linear"})")); },
              {f, "rope_scaling.factor is missing"});
  ExpectError([&] { Parse(LlamaWith("rope_scaling", R"({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
      "high_freq_factor": 4.0})")); },
              {f, "rope_scaling.original_max_position_embeddings is missing"});
  ExpectError([&] { Parse(LlamaWith("rope_scaling", R"({"rope_type": "longrope", "short_factor": [1.0],
      "long_factor": "x", "original_max_position_embeddings": 64})")); },
              {f, "rope_scaling.long_factor must be a list of numbers"});
  ExpectError([&] { Parse(LlamaWith("rope_scaling", "3")); }, {f, "field rope_scaling must be an object"});
  ExpectError([&] { Parse(LlamaWith("hidden_act", "\"relu\"")); }, {f, "field hidden_act \"relu\" is not supported"});
  ExpectError([&] { Parse(LlamaWith("attention_bias", "true")); }, {f, "attention_bias"});
  ExpectError([&] { Parse(LlamaWith("partial_rotary_factor", "0.5")); }, {f, "partial_rotary_factor"});
  ExpectError([&] { Parse(LlamaWith("num_local_experts", "8")); }, {f, "num_local_experts", "mixture-of-experts"});
  ExpectError([&] { Parse(LlamaWith("layer_types", R"(["full_attention"])")); },
              {f, "field layer_types must list one type for each of the 2 layers"});
  ExpectError([&] { Parse(LlamaWith("layer_types", R"(["full_attention", "chunked_attention"])")); },
              {f, "field layer_types[1] must be"});
  ExpectError([&] { Parse(LlamaWith("layer_types", R"(["sliding_attention", "full_attention"])")); },
              {f, "field sliding_window must be a positive integer"});
  ExpectError([&] { Parse(LlamaWith("num_attention_heads", "7")); },
              {f, "hidden_size 128 is not divisible by num_attention_heads 7"});
  ExpectError([&] { Parse(LlamaWith("num_key_value_heads", "3")); }, {f, "n_kv_heads"});
  ExpectError([&] { Parse(LlamaWith("num_hidden_layers", "0")); }, {f, "n_layers must be positive"});
  ExpectError([&] { Parse(R"({"architectures": ["MixtralForCausalLM"], "model_type": "mixtral"})"); },
              {f, "unsupported architecture MixtralForCausalLM (mixture of experts)"});
  ExpectError([&] { Parse(R"({"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3"})"); },
              {f, "unsupported architecture Gemma3ForConditionalGeneration (a vision-language model"});
  ExpectError([&] { Parse(R"({"architectures": ["FalconForCausalLM"], "model_type": "falcon"})"); },
              {f, "unsupported architecture FalconForCausalLM", "Qwen3"});
  ExpectError([&] { Parse("{}"); }, {f, "unsupported architecture (none given)"});
  ExpectError(
      [&] {
        Parse(R"({"model_type": "gpt2", "n_embd": 64, "n_layer": 1, "n_head": 4, "vocab_size": 9,
      "activation_function": "relu"})");
      },
      {f, "activation_function \"relu\""});
  ExpectError([&] { Parse(R"({"model_type": "gpt2", "n_layer": 1, "n_head": 4, "vocab_size": 9})"); },
              {f, "missing required field n_embd"});
}

TEST(HfConfigTest, ReadsFilesAndReportsMissingOnes) {
  const auto dir = TempDir("hfc");
  WriteFile(dir / "config.json", std::string(kLlama));
  EXPECT_EQ(ReadHfConfig(dir / "config.json").dim, 128);
  ExpectError([&] { ReadHfConfig(dir / "absent.json"); }, {"absent.json", "cannot open"});
}

TEST(HfConfigTest, EveryPresetRoundTrips) {
  for (const ModelPreset& p : ModelPresets()) {
    ExpectSameConfig(p.config, ParseHfConfig(HfConfigJson(p.config), p.name), p.name);
  }
}

// The released models' presets are written in their families' own fields, as their config.json files are.
TEST(HfConfigTest, PresetsWriteTheFamiliesOwnFields) {
  auto written = [](const char* preset) {
    return nlohmann::json::parse(HfConfigJson(FindModelPreset(preset).config));
  };
  const auto llama = written("llama-3.2-1b");
  EXPECT_EQ(llama["model_type"], "llama");
  EXPECT_EQ(llama["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(llama["rope_scaling"]["factor"], 32.0);
  EXPECT_EQ(llama["rope_scaling"]["original_max_position_embeddings"], 8192);
  EXPECT_FALSE(llama.contains("layer_types"));
  const auto qwen = written("qwen2.5-0.5b");
  EXPECT_EQ(qwen["architectures"][0], "Qwen2ForCausalLM");
  EXPECT_EQ(qwen["use_sliding_window"], false);
  EXPECT_FALSE(qwen.contains("layer_types"));
  const auto gemma = written("gemma-3-1b");
  EXPECT_EQ(gemma["model_type"], "gemma3_text");
  EXPECT_EQ(gemma["sliding_window"], 512);
  EXPECT_EQ(gemma["sliding_window_pattern"], 6);
  EXPECT_EQ(gemma["query_pre_attn_scalar"], 256);
  EXPECT_EQ(gemma["rope_local_base_freq"], 10000.0);
  EXPECT_EQ(gemma["hidden_activation"], "gelu_pytorch_tanh");
  EXPECT_TRUE(gemma["attn_logit_softcapping"].is_null());
  EXPECT_FALSE(gemma.contains("layer_types"));
  const auto mistral = written("mistral-7b");
  EXPECT_EQ(mistral["sliding_window"], 4096);
  EXPECT_FALSE(mistral.contains("layer_types"));
  const auto phi = written("phi-3-mini");
  EXPECT_EQ(phi["model_type"], "phi3");
  EXPECT_EQ(phi["sliding_window"], 2047);
  EXPECT_EQ(phi["original_max_position_embeddings"], 4096);
  const auto gemma2 = written("gemma2-tiny");
  EXPECT_EQ(gemma2["attn_logit_softcapping"], 50.0);
  EXPECT_EQ(gemma2["final_logit_softcapping"], 30.0);
  EXPECT_EQ(gemma2["query_pre_attn_scalar"], 24);
}

// A tiny preset's config, the features ParseHfConfig derives from its family set, to vary one field of.
ModelConfig TinyOf(const char* preset) { return FindModelPreset(preset).config; }

ModelConfig RoundTrip(const ModelConfig& c, const std::string& what) {
  const ModelConfig back = ParseHfConfig(HfConfigJson(c), what);
  ExpectSameConfig(c, back, what);
  return back;
}

TEST(HfConfigTest, RopeScalingOfEveryTypeRoundTrips) {
  ModelConfig c = TinyOf("llama-tiny");
  c.rope_scaling.type = RopeScalingType::kLinear;
  c.rope_scaling.factor = 2.5f;
  RoundTrip(c, "linear");
  c.rope_scaling = {};
  c.rope_scaling.type = RopeScalingType::kYarn;
  c.rope_scaling.factor = 4.0f;
  c.rope_scaling.original_max_positions = 32;
  c.rope_scaling.beta_fast = 16.0f;
  c.rope_scaling.attention_factor = 1.25f;
  c.rope_scaling.mscale = 0.7f;
  c.rope_scaling.mscale_all_dim = 0.3f;
  c.rope_scaling.truncate = false;
  RoundTrip(c, "yarn");
  c.rope_scaling = {};
  c.rope_scaling.type = RopeScalingType::kYarn;
  c.rope_scaling.factor_given = false;  // HF then scales by max_position_embeddings / original
  c.rope_scaling.original_max_positions = 64;
  RoundTrip(c, "yarn without factor");
  ModelConfig phi = TinyOf("phi3-tiny");
  phi.max_seq_len = 256;
  phi.rope_scaling.type = RopeScalingType::kLongRope;
  phi.rope_scaling.short_factor = {1.0f, 1.05f, 1.1f, 1.3f, 1.5f, 1.9f, 2.3f, 2.9f};
  phi.rope_scaling.long_factor = {1.0f, 1.2f, 2.5f, 4.0f, 7.5f, 11.0f, 16.25f, 23.0f};
  phi.rope_scaling.original_max_positions = 128;
  phi.rope_scaling.attention_factor = 1.19f;
  RoundTrip(phi, "longrope");
  EXPECT_EQ(nlohmann::json::parse(HfConfigJson(phi))["original_max_position_embeddings"], 128);
}

// Layouts a family's own fields cannot say are written as layer_types; those they can are not.
TEST(HfConfigTest, SlidingLayoutsRoundTrip) {
  auto layer_types = [](const ModelConfig& c) {
    return nlohmann::json::parse(HfConfigJson(c)).contains("layer_types");
  };
  ModelConfig m = TinyOf("mistral-tiny");
  m.layer_window = {0, 16, 16};
  RoundTrip(m, "mistral, first layer global");
  EXPECT_TRUE(layer_types(m));
  m.layer_window = {};
  RoundTrip(m, "mistral, no window");
  EXPECT_FALSE(layer_types(m));

  ModelConfig q = TinyOf("qwen3-tiny");
  q.layer_window = {0, 64};  // from max_window_layers on
  RoundTrip(q, "qwen3, second layer slides");
  const auto qj = nlohmann::json::parse(HfConfigJson(q));
  EXPECT_EQ(qj["use_sliding_window"], true);
  EXPECT_EQ(qj["max_window_layers"], 1);
  EXPECT_FALSE(qj.contains("layer_types"));
  q.layer_window = {64, 0};  // not Qwen's rule
  RoundTrip(q, "qwen3, first layer slides");
  EXPECT_TRUE(layer_types(q));

  ModelConfig g2 = TinyOf("gemma2-tiny");
  g2.layer_window = {};
  RoundTrip(g2, "gemma2, all global");
  EXPECT_TRUE(layer_types(g2));
  g2.layer_window = {16, 16, 0, 16};
  RoundTrip(g2, "gemma2, odd pattern");

  ModelConfig g3 = TinyOf("gemma3-tiny");
  g3.layer_window = {16, 16, 16, 16};
  RoundTrip(g3, "gemma3, all sliding");
  EXPECT_FALSE(layer_types(g3));
  g3.layer_window = {};
  RoundTrip(g3, "gemma3, all global");
  g3.layer_window = {0, 16, 16, 16};
  RoundTrip(g3, "gemma3, first layer global");

  ModelConfig l = TinyOf("llama-tiny");  // Llama has no rule of its own: layer_types says it all
  l.layer_window = {8, 0};
  RoundTrip(l, "llama with a window");
}

TEST(HfConfigTest, GemmaQueryScalarsRoundTrip) {
  ModelConfig g = TinyOf("gemma2-tiny");
  for (float scalar : {24.0f, 144.0f, 256.0f, 30.5f}) {
    g.query_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(scalar)));
    RoundTrip(g, "query_pre_attn_scalar " + std::to_string(scalar));
  }
}

// A value the family's config.json has no field for is an error naming the ModelConfig field, not a file that
// reads back as another model.
TEST(HfConfigTest, WriterRefusesWhatTheFamilyCannotSay) {
  ModelConfig l = TinyOf("llama-tiny");
  l.qkv_bias = true;
  ExpectError([&] { HfConfigJson(l); }, {"qkv_bias", "llama config.json cannot express"});
  ModelConfig q = TinyOf("qwen2-tiny");
  q.qk_norm = true;
  ExpectError([&] { HfConfigJson(q); }, {"qk_norm", "qwen2"});
  ModelConfig m = TinyOf("mistral-tiny");
  m.attn_softcap = 30.0f;
  ExpectError([&] { HfConfigJson(m); }, {"attn_softcap"});
  m = TinyOf("mistral-tiny");
  m.layer_window = {16, 8, 16};
  ExpectError([&] { HfConfigJson(m); }, {"layer_window", "one sliding_window"});
  ModelConfig g3 = TinyOf("gemma3-tiny");
  g3.embed_scale = 1.0f;
  ExpectError([&] { HfConfigJson(g3); }, {"embed_scale", "gemma3"});
  g3 = TinyOf("gemma3-tiny");
  g3.rope_local_theta = 0.0f;
  ExpectError([&] { HfConfigJson(g3); }, {"rope_local_theta"});
  ModelConfig gpt2 = TinyOf("gpt2-tiny");
  gpt2.layer_window = {8, 8};
  ExpectError([&] { HfConfigJson(gpt2); }, {"layer_window", "gpt2"});
}

}  // namespace
}  // namespace kvlab::test
