#include "kvlab/io/hf_config.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {
namespace {

using nlohmann::json;

// Typed access to the fields of one config.json; every failure names the file and the field.
// A field set to null counts as absent, as transformers treats it.
class Fields {
 public:
  Fields(const json& j, std::string source) : j_(j), source_(std::move(source)) {}

  const json* Get(const char* field) const {
    auto it = j_.find(field);
    return (it == j_.end() || it->is_null()) ? nullptr : &*it;
  }

  int32_t Int(const char* field) const {
    const json* v = Get(field);
    if (v == nullptr) throw Error(source_, std::string("missing required field ") + field);
    return ToInt(field, *v);
  }
  int32_t Int(const char* field, int32_t fallback) const {
    const json* v = Get(field);
    return v == nullptr ? fallback : ToInt(field, *v);
  }
  float Float(const char* field, float fallback) const {
    const json* v = Get(field);
    if (v == nullptr) return fallback;
    if (!v->is_number()) Wrong(field, "a number", *v);
    return v->get<float>();
  }
  bool Bool(const char* field, bool fallback) const {
    const json* v = Get(field);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) Wrong(field, "true or false", *v);
    return v->get<bool>();
  }
  std::string String(const char* field, const std::string& fallback) const {
    const json* v = Get(field);
    if (v == nullptr) return fallback;
    if (!v->is_string()) Wrong(field, "a string", *v);
    return v->get<std::string>();
  }
  // bos/eos ids: an int, or (Llama 3 style) a list of ints of which the first is used.
  // Absent -> the architecture's default; an explicit null -> -1 (the model has no such token).
  int32_t TokenId(const char* field, int32_t fallback) const {
    auto it = j_.find(field);
    if (it == j_.end()) return fallback;
    if (it->is_null()) return -1;
    if (it->is_array()) return it->empty() ? -1 : ToInt(field, (*it)[0]);
    return ToInt(field, *it);
  }

  [[noreturn]] void Fail(const std::string& what) const { throw Error(source_, what); }
  const std::string& source() const { return source_; }

 private:
  int32_t ToInt(const char* field, const json& v) const {
    if (!v.is_number_integer()) Wrong(field, "an integer", v);
    const int64_t i = v.get<int64_t>();
    if (i < std::numeric_limits<int32_t>::min() || i > std::numeric_limits<int32_t>::max()) {
      Fail(std::string("field ") + field + " is out of range: " + v.dump());
    }
    return static_cast<int32_t>(i);
  }
  [[noreturn]] void Wrong(const char* field, const char* expected, const json& v) const {
    std::string got = v.dump();
    if (got.size() > 40) got = got.substr(0, 40) + "...";
    Fail(std::string("field ") + field + " must be " + expected + ", got " + got);
  }

  const json& j_;
  std::string source_;
};

// head_dim defaults to hidden_size / num_attention_heads, which must then divide evenly.
int32_t LlamaHeadDim(const Fields& f, int32_t dim, int32_t heads) {
  if (heads > 0 && dim % heads != 0 && f.Get("head_dim") == nullptr) {
    f.Fail(fmt::format("hidden_size {} is not divisible by num_attention_heads {}", dim, heads));
  }
  return heads > 0 ? f.Int("head_dim", dim / heads) : 0;
}

// Llama features kvlab does not implement are refused, not silently ignored: they would change the outputs.
void RejectUnsupportedLlama(const Fields& f) {
  if (f.Get("rope_scaling") != nullptr) {
    f.Fail("field rope_scaling is set, but kvlab implements only plain RoPE");
  }
  if (f.Bool("attention_bias", false))
    f.Fail("field attention_bias is true; kvlab's Llama has no attention biases");
  if (f.Bool("mlp_bias", false)) f.Fail("field mlp_bias is true; kvlab's Llama has no MLP biases");
  const std::string act = f.String("hidden_act", "silu");
  if (act != "silu") f.Fail("field hidden_act is \"" + act + "\"; Llama in kvlab uses silu");
}

ModelConfig ParseLlama(const Fields& f) {
  RejectUnsupportedLlama(f);
  ModelConfig c;
  c.arch = Arch::kLlama;
  c.dim = f.Int("hidden_size");
  c.ffn_dim = f.Int("intermediate_size");
  c.n_layers = f.Int("num_hidden_layers");
  c.n_heads = f.Int("num_attention_heads");
  c.n_kv_heads = f.Int("num_key_value_heads", c.n_heads);
  c.head_dim = LlamaHeadDim(f, c.dim, c.n_heads);
  c.vocab_size = f.Int("vocab_size");
  // Defaults are transformers' LlamaConfig defaults.
  c.max_seq_len = f.Int("max_position_embeddings", 2048);
  c.norm_eps = f.Float("rms_norm_eps", 1e-6f);
  c.rope_theta = f.Float("rope_theta", 10000.0f);
  c.rope_style = RopeStyle::kHalf;  // HF Llama checkpoints are permuted for rotate_half
  c.activation = Activation::kSiLU;
  c.tied_embeddings = f.Bool("tie_word_embeddings", false);
  c.bos_id = f.TokenId("bos_token_id", 1);
  c.eos_id = f.TokenId("eos_token_id", 2);
  return c;
}

Activation Gpt2Activation(const Fields& f) {
  const std::string act = f.String("activation_function", "gelu_new");
  if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast") return Activation::kGeluTanh;
  if (act == "gelu") return Activation::kGeluErf;
  f.Fail("field activation_function \"" + act + "\" is not supported (gelu_new, gelu_pytorch_tanh or gelu)");
}

ModelConfig ParseGpt2(const Fields& f) {
  ModelConfig c;
  c.arch = Arch::kGpt2;
  c.dim = f.Int("n_embd");
  c.n_layers = f.Int("n_layer");
  c.n_heads = f.Int("n_head");
  c.n_kv_heads = c.n_heads;
  // GPT-2 has no head_dim field: heads always split n_embd evenly.
  if (c.n_heads > 0 && c.dim % c.n_heads != 0) {
    f.Fail(fmt::format("n_embd {} is not divisible by n_head {}", c.dim, c.n_heads));
  }
  c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
  c.ffn_dim = f.Int("n_inner", 4 * c.dim);
  c.vocab_size = f.Int("vocab_size");
  c.max_seq_len = f.Int("n_positions", f.Int("n_ctx", 1024));
  c.norm_eps = f.Float("layer_norm_epsilon", 1e-5f);
  c.activation = Gpt2Activation(f);
  c.rope_style = RopeStyle::kInterleaved;  // unused: GPT-2 has learned absolute positions
  c.tied_embeddings = f.Bool("tie_word_embeddings", true);
  c.bos_id = f.TokenId("bos_token_id", 50256);
  c.eos_id = f.TokenId("eos_token_id", 50256);
  return c;
}

std::string ArchitectureName(const Fields& f) {
  const json* archs = f.Get("architectures");
  if (archs != nullptr && (!archs->is_array() || (!archs->empty() && !(*archs)[0].is_string()))) {
    f.Fail("field architectures must be a list of strings");
  }
  if (archs != nullptr && !archs->empty()) return (*archs)[0].get<std::string>();
  return "";
}

}  // namespace

ModelConfig ParseHfConfig(std::string_view json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw Error(source, std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) throw Error(source, "top level is not a JSON object");
  const Fields f(j, source);
  const std::string model_type = f.String("model_type", "");
  const std::string arch = ArchitectureName(f);
  ModelConfig c;
  if (model_type == "llama" || (model_type.empty() && arch == "LlamaForCausalLM")) {
    c = ParseLlama(f);
  } else if (model_type == "gpt2" || (model_type.empty() && arch == "GPT2LMHeadModel")) {
    c = ParseGpt2(f);
  } else {
    const std::string name = !arch.empty() ? arch : !model_type.empty() ? model_type : "(none given)";
    throw Error(source, "unsupported architecture " + name,
                "kvlab loads LlamaForCausalLM (model_type llama) and GPT2LMHeadModel (model_type gpt2)");
  }
  ValidateConfig(c, source);
  return c;
}

ModelConfig ReadHfConfig(const std::filesystem::path& config_json) {
  return ParseHfConfig(ReadTextFile(config_json), config_json.string());
}

namespace {

// float -> the shortest decimal that reads back as the same float (1e-5f is written 1e-05, not 9.99999e-06).
double ShortestDouble(float v) { return std::stod(fmt::format("{}", v)); }

json LlamaJson(const ModelConfig& c) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", c.dim},
          {"intermediate_size", c.ffn_dim},
          {"num_hidden_layers", c.n_layers},
          {"num_attention_heads", c.n_heads},
          {"num_key_value_heads", c.n_kv_heads},
          {"head_dim", c.head_dim},
          {"max_position_embeddings", c.max_seq_len},
          {"rms_norm_eps", ShortestDouble(c.norm_eps)},
          {"rope_theta", ShortestDouble(c.rope_theta)},
          {"hidden_act", "silu"},
          {"vocab_size", c.vocab_size}};
}

json Gpt2Json(const ModelConfig& c) {
  return {{"architectures", {"GPT2LMHeadModel"}},
          {"model_type", "gpt2"},
          {"n_embd", c.dim},
          {"n_layer", c.n_layers},
          {"n_head", c.n_heads},
          {"n_inner", c.ffn_dim},
          {"n_positions", c.max_seq_len},
          {"n_ctx", c.max_seq_len},
          {"layer_norm_epsilon", ShortestDouble(c.norm_eps)},
          {"activation_function", c.activation == Activation::kGeluErf ? "gelu" : "gelu_new"},
          {"vocab_size", c.vocab_size}};
}

}  // namespace

std::string HfConfigJson(const ModelConfig& c, std::string_view torch_dtype) {
  json j = c.arch == Arch::kLlama ? LlamaJson(c) : Gpt2Json(c);
  j["tie_word_embeddings"] = c.tied_embeddings;
  j["bos_token_id"] = c.bos_id >= 0 ? json(c.bos_id) : json(nullptr);
  j["eos_token_id"] = c.eos_id >= 0 ? json(c.eos_id) : json(nullptr);
  j["torch_dtype"] = std::string(torch_dtype);
  return j.dump(2) + "\n";
}

}  // namespace kvlab
