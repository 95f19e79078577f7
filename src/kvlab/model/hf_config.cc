#include "kvlab/model/hf_config.h"

#include <fmt/format.h>

#include <algorithm>
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
  // Present and explicitly null (where null means something other than "absent").
  bool IsNull(const char* field) const {
    auto it = j_.find(field);
    return it != j_.end() && it->is_null();
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
int32_t DecoderHeadDim(const Fields& f, int32_t dim, int32_t heads) {
  if (heads > 0 && dim % heads != 0 && f.Get("head_dim") == nullptr) {
    f.Fail(fmt::format("hidden_size {} is not divisible by num_attention_heads {}", dim, heads));
  }
  return heads > 0 ? f.Int("head_dim", dim / heads) : 0;
}

// Typed access to the fields of the rope_scaling object, named "rope_scaling.<field>" in errors.
float ScalingFloat(const Fields& f, const json& o, const char* field, std::optional<float> fallback) {
  auto it = o.find(field);
  if (it == o.end() || it->is_null()) {
    if (!fallback) f.Fail(std::string("field rope_scaling.") + field + " is missing");
    return *fallback;
  }
  if (!it->is_number()) f.Fail(std::string("field rope_scaling.") + field + " must be a number, got " + it->dump());
  return it->get<float>();
}

std::vector<float> ScalingFactors(const Fields& f, const json& o, const char* field) {
  auto it = o.find(field);
  if (it == o.end() || !it->is_array()) f.Fail(std::string("field rope_scaling.") + field + " must be a list of numbers");
  std::vector<float> out;
  for (const json& v : *it) {
    if (!v.is_number()) f.Fail(std::string("field rope_scaling.") + field + " must be a list of numbers");
    out.push_back(v.get<float>());
  }
  return out;
}

// rope_scaling as transformers' modeling_rope_utils reads it ("rope_type", or the older "type").
// dynamic (NTK) is refused: its frequencies change with the sequence length, so keys already in a cache
// would have been rotated with other frequencies than the ones a later query uses.
RopeScaling ParseRopeScaling(const Fields& f) {
  RopeScaling s;
  const json* o = f.Get("rope_scaling");
  if (o == nullptr) return s;
  if (!o->is_object()) f.Fail("field rope_scaling must be an object or null, got " + o->dump().substr(0, 40));
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    auto it = o->find(key);
    if (it != o->end() && it->is_string()) {
      type = it->get<std::string>();
      break;
    }
  }
  if (type.empty()) f.Fail("field rope_scaling.rope_type is missing");
  const int32_t top_original = f.Int("original_max_position_embeddings", 0);
  auto original = [&](bool required) {
    auto it = o->find("original_max_position_embeddings");
    if (it != o->end() && it->is_number_integer()) {
      const int64_t v = it->get<int64_t>();
      if (v <= 0 || v > std::numeric_limits<int32_t>::max())
        f.Fail("field rope_scaling.original_max_position_embeddings is out of range: " + it->dump());
      return static_cast<int32_t>(v);
    }
    if (it != o->end() && !it->is_null()) f.Fail("field rope_scaling.original_max_position_embeddings must be an integer");
    if (required && top_original <= 0) f.Fail("field rope_scaling.original_max_position_embeddings is missing");
    return top_original;
  };
  if (type == "default") return s;
  if (type == "linear") {
    s.type = RopeScalingType::kLinear;
    s.factor = ScalingFloat(f, *o, "factor", std::nullopt);
  } else if (type == "llama3") {
    s.type = RopeScalingType::kLlama3;
    s.factor = ScalingFloat(f, *o, "factor", std::nullopt);
    s.low_freq_factor = ScalingFloat(f, *o, "low_freq_factor", std::nullopt);
    s.high_freq_factor = ScalingFloat(f, *o, "high_freq_factor", std::nullopt);
    s.original_max_positions = original(true);
  } else if (type == "yarn") {
    s.type = RopeScalingType::kYarn;
    // Without a factor, yarn scales by max_position_embeddings / original_max_position_embeddings.
    s.factor_given = o->contains("factor") && !(*o)["factor"].is_null();
    if (s.factor_given) s.factor = ScalingFloat(f, *o, "factor", std::nullopt);
    s.original_max_positions = original(false);
    // transformers reads `beta_fast or 32`: a 0 means the default too.
    s.beta_fast = ScalingFloat(f, *o, "beta_fast", 32.0f);
    s.beta_slow = ScalingFloat(f, *o, "beta_slow", 1.0f);
    if (s.beta_fast == 0) s.beta_fast = 32.0f;
    if (s.beta_slow == 0) s.beta_slow = 1.0f;
    if (o->contains("attention_factor") && !(*o)["attention_factor"].is_null())
      s.attention_factor = ScalingFloat(f, *o, "attention_factor", std::nullopt);
    if (o->contains("mscale") && !(*o)["mscale"].is_null()) s.mscale = ScalingFloat(f, *o, "mscale", std::nullopt);
    if (o->contains("mscale_all_dim") && !(*o)["mscale_all_dim"].is_null())
      s.mscale_all_dim = ScalingFloat(f, *o, "mscale_all_dim", std::nullopt);
    auto t = o->find("truncate");
    if (t != o->end() && !t->is_null()) {
      if (!t->is_boolean()) f.Fail("field rope_scaling.truncate must be true or false");
      s.truncate = t->get<bool>();
    }
  } else if (type == "longrope" || type == "su") {  // "su" is the name early Phi-3 configs used
    s.type = RopeScalingType::kLongRope;
    s.short_factor = ScalingFactors(f, *o, "short_factor");
    s.long_factor = ScalingFactors(f, *o, "long_factor");
    s.original_max_positions = original(true);
    if (o->contains("attention_factor") && !(*o)["attention_factor"].is_null())
      s.attention_factor = ScalingFloat(f, *o, "attention_factor", std::nullopt);
  } else if (type == "dynamic") {
    f.Fail("field rope_scaling.rope_type \"dynamic\" (NTK) is not supported: its frequencies change with the "
           "sequence length, which a cache of already-rotated keys cannot follow");
  } else {
    f.Fail("field rope_scaling.rope_type \"" + type + "\" is not supported (linear, llama3, yarn or longrope)");
  }
  return s;
}

// Which layers attend through the model's own sliding window: `layer_types` when the config lists them
// (transformers >= 4.53 writes it for every family), else each family's rule.
std::vector<int32_t> SlidingLayers(const Fields& f, Arch arch, int32_t n_layers) {
  const int32_t window = f.Int("sliding_window", 0);
  std::vector<bool> sliding(static_cast<size_t>(std::max(n_layers, 0)), false);
  if (const json* types = f.Get("layer_types")) {
    if (!types->is_array() || types->size() != sliding.size()) {
      f.Fail(fmt::format("field layer_types must list one type for each of the {} layers", n_layers));
    }
    for (size_t i = 0; i < sliding.size(); ++i) {
      const json& t = (*types)[i];
      if (t == "sliding_attention") {
        sliding[i] = true;
      } else if (t != "full_attention") {
        f.Fail("field layer_types[" + std::to_string(i) + "] must be \"sliding_attention\" or \"full_attention\", got " +
               t.dump().substr(0, 40));
      }
    }
  } else {
    for (size_t i = 0; i < sliding.size(); ++i) {
      switch (arch) {
        case Arch::kMistral:  // every layer, when sliding_window is set
        case Arch::kPhi3:
          sliding[i] = window > 0;
          break;
        case Arch::kQwen2:
        case Arch::kQwen3:  // sliding only with use_sliding_window, from layer max_window_layers on
          sliding[i] = f.Bool("use_sliding_window", false) &&
                       static_cast<int32_t>(i) >= f.Int("max_window_layers", n_layers);
          break;
        case Arch::kGemma2:  // even layers slide, odd layers are global
          sliding[i] = i % 2 == 0;
          break;
        case Arch::kGemma3: {  // every pattern-th layer is global
          const int32_t pattern = f.Int("sliding_window_pattern", 6);
          sliding[i] = pattern <= 0 || (static_cast<int32_t>(i) + 1) % pattern != 0;
          break;
        }
        default:
          break;
      }
    }
  }
  if (std::find(sliding.begin(), sliding.end(), true) == sliding.end()) return {};
  if (window <= 0) f.Fail("field sliding_window must be a positive integer for the sliding-window layers");
  std::vector<int32_t> out(sliding.size());
  for (size_t i = 0; i < sliding.size(); ++i) out[i] = sliding[i] ? window : 0;
  return out;
}

// The gate activation of a gated MLP: hidden_activation (Gemma) or hidden_act.
Activation GateActivation(const Fields& f, const char* fallback) {
  std::string act = f.String("hidden_activation", "");
  const char* field = "hidden_activation";
  if (act.empty()) {
    act = f.String("hidden_act", fallback);
    field = "hidden_act";
  }
  if (act == "silu" || act == "swish") return Activation::kSiLU;
  if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_tanh") return Activation::kGeluTanh;
  if (act == "gelu") return Activation::kGeluErf;
  f.Fail(std::string("field ") + field + " \"" + act + "\" is not supported (silu, gelu_pytorch_tanh or gelu)");
}

// Features kvlab does not implement are refused, not silently ignored: they would change the outputs.
void RejectUnsupportedDecoder(const Fields& f, Arch arch) {
  if (arch != Arch::kQwen2 && f.Bool("attention_bias", false))
    f.Fail("field attention_bias is true; kvlab runs attention biases only as Qwen2 lays them out");
  if (f.Bool("mlp_bias", false)) f.Fail("field mlp_bias is true; kvlab's gated MLP has no biases");
  if (f.Float("partial_rotary_factor", 1.0f) != 1.0f)
    f.Fail("field partial_rotary_factor is not 1; kvlab rotates whole heads");
  for (const char* moe : {"num_local_experts", "num_experts"}) {
    if (f.Int(moe, 0) > 0) f.Fail(std::string("field ") + moe + " is set: mixture-of-experts models are not supported");
  }
}

ModelConfig ParseDecoder(const Fields& f, Arch arch) {
  RejectUnsupportedDecoder(f, arch);
  const bool gemma = arch == Arch::kGemma2 || arch == Arch::kGemma3;
  ModelConfig c;
  c.arch = arch;
  c.dim = f.Int("hidden_size");
  c.ffn_dim = f.Int("intermediate_size");
  c.n_layers = f.Int("num_hidden_layers");
  c.n_heads = f.Int("num_attention_heads");
  c.n_kv_heads = f.Int("num_key_value_heads", c.n_heads);
  c.head_dim = DecoderHeadDim(f, c.dim, c.n_heads);
  c.vocab_size = f.Int("vocab_size");
  // Defaults are transformers' config defaults of each family.
  c.max_seq_len = f.Int("max_position_embeddings", 2048);
  c.norm_eps = f.Float("rms_norm_eps", arch == Arch::kPhi3 ? 1e-5f : 1e-6f);
  c.rope_theta = f.Float("rope_theta", arch == Arch::kGemma3 ? 1e6f : 10000.0f);
  c.rope_style = RopeStyle::kHalf;  // Hugging Face checkpoints are permuted for rotate_half
  c.rope_scaling = ParseRopeScaling(f);
  c.activation = GateActivation(f, gemma ? "gelu_pytorch_tanh" : "silu");
  c.tied_embeddings = f.Bool("tie_word_embeddings", gemma);
  c.bos_id = f.TokenId("bos_token_id", arch == Arch::kLlama || arch == Arch::kMistral ? 1 : -1);
  c.eos_id = f.TokenId("eos_token_id", arch == Arch::kLlama || arch == Arch::kMistral ? 2 : -1);
  c.qkv_bias = arch == Arch::kQwen2;
  c.qk_norm = arch == Arch::kQwen3 || arch == Arch::kGemma3;
  c.layer_window = SlidingLayers(f, arch, c.n_layers);
  if (gemma) {
    c.sandwich_norms = true;
    // transformers multiplies by hidden_size**0.5 as a tensor of the activations' dtype (float32 here).
    c.embed_scale = static_cast<float>(std::sqrt(static_cast<double>(c.dim)));
    const float scalar = f.Float("query_pre_attn_scalar", static_cast<float>(c.head_dim));
    if (scalar <= 0) f.Fail("field query_pre_attn_scalar must be positive");
    c.query_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(scalar)));
    // Absent: the family's default (Gemma2Config: 50 and 30); an explicit null: no capping, as transformers
    // reads None.
    auto softcap = [&](const char* field, float gemma2_default) {
      if (f.IsNull(field)) return 0.0f;
      return f.Float(field, arch == Arch::kGemma2 ? gemma2_default : 0.0f);
    };
    c.attn_softcap = softcap("attn_logit_softcapping", 50.0f);
    c.final_softcap = softcap("final_logit_softcapping", 30.0f);
    if (c.attn_softcap < 0 || c.final_softcap < 0) f.Fail("logit soft-capping must not be negative");
  }
  if (arch == Arch::kGemma3) c.rope_local_theta = f.Float("rope_local_base_freq", 10000.0f);
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

// model_type (or, without one, the architectures entry) of each decoder family kvlab runs.
std::optional<Arch> DecoderFamily(const std::string& model_type, const std::string& architecture) {
  static const struct {
    const char* model_type;
    const char* architecture;
    Arch arch;
  } kFamilies[] = {
      {"llama", "LlamaForCausalLM", Arch::kLlama},       {"mistral", "MistralForCausalLM", Arch::kMistral},
      {"qwen2", "Qwen2ForCausalLM", Arch::kQwen2},       {"qwen3", "Qwen3ForCausalLM", Arch::kQwen3},
      {"gemma2", "Gemma2ForCausalLM", Arch::kGemma2},    {"gemma3_text", "Gemma3ForCausalLM", Arch::kGemma3},
      {"phi3", "Phi3ForCausalLM", Arch::kPhi3},
  };
  for (const auto& f : kFamilies) {
    if (model_type == f.model_type || (model_type.empty() && architecture == f.architecture)) return f.arch;
  }
  return std::nullopt;
}

// Why a known but unsupported family is refused, for the error message.
std::string UnsupportedReason(const std::string& model_type, const std::string& architecture) {
  if (model_type.find("moe") != std::string::npos || model_type == "mixtral" || model_type == "deepseek_v2" ||
      model_type == "deepseek_v3") {
    return " (mixture of experts)";
  }
  if (model_type == "gemma3" || model_type == "llava" || model_type == "mllama" ||
      architecture.find("ConditionalGeneration") != std::string::npos) {
    return " (a vision-language model: point kvlab at a text-only checkpoint)";
  }
  return "";
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
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers beyond a double
    throw Error(source, std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) throw Error(source, "top level is not a JSON object");
  const Fields f(j, source);
  const std::string model_type = f.String("model_type", "");
  const std::string arch = ArchitectureName(f);
  ModelConfig c;
  if (model_type == "gpt2" || (model_type.empty() && arch == "GPT2LMHeadModel")) {
    c = ParseGpt2(f);
  } else if (const std::optional<Arch> decoder = DecoderFamily(model_type, arch)) {
    c = ParseDecoder(f, *decoder);
  } else {
    const std::string name = !arch.empty() ? arch : !model_type.empty() ? model_type : "(none given)";
    throw Error(source, "unsupported architecture " + name + UnsupportedReason(model_type, arch),
                "kvlab loads the Llama, Mistral, Qwen2/2.5, Qwen3, Gemma 2, Gemma 3 (text), Phi-3 and GPT-2 "
                "families");
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

json ShortestDoubles(const std::vector<float>& v) {
  json out = json::array();
  for (float x : v) out.push_back(ShortestDouble(x));
  return out;
}

// ParseHfConfig derives these features from the family alone, so a config.json cannot carry any other value:
// writing one would silently give back another model. Throws kvlab::Error naming the field.
void CheckFamilyFixedFeatures(const ModelConfig& c) {
  const bool gemma = c.arch == Arch::kGemma2 || c.arch == Arch::kGemma3;
  const float gemma_embed_scale = static_cast<float>(std::sqrt(static_cast<double>(c.dim)));
  auto require = [&](bool ok, const char* field) {
    if (!ok)
      throw Error(field, std::string("a ") + ArchName(c.arch) + " config.json cannot express this value",
                  "the family fixes it");
  };
  require(c.qkv_bias == (c.arch == Arch::kQwen2), "qkv_bias");
  require(c.qk_norm == (c.arch == Arch::kQwen3 || c.arch == Arch::kGemma3), "qk_norm");
  require(c.sandwich_norms == gemma, "sandwich_norms");
  require(c.embed_scale == (gemma ? gemma_embed_scale : 1.0f), "embed_scale");
  require(gemma || c.query_scale == 0, "query_scale");
  require(gemma || c.attn_softcap == 0, "attn_softcap");
  require(gemma || c.final_softcap == 0, "final_softcap");
  require((c.arch == Arch::kGemma3) == (c.rope_local_theta > 0), "rope_local_theta");
  require(c.arch != Arch::kGpt2 || !c.AnySlidingLayer(), "layer_window");
}

const char* ActivationField(Activation a) {
  switch (a) {
    case Activation::kSiLU:
      return "silu";
    case Activation::kGeluTanh:
      return "gelu_pytorch_tanh";
    case Activation::kGeluErf:
      return "gelu";
  }
  return "silu";
}

// model_type and architectures of each decoder family, as transformers writes them.
std::pair<const char*, const char*> DecoderNames(Arch a) {
  switch (a) {
    case Arch::kMistral:
      return {"mistral", "MistralForCausalLM"};
    case Arch::kQwen2:
      return {"qwen2", "Qwen2ForCausalLM"};
    case Arch::kQwen3:
      return {"qwen3", "Qwen3ForCausalLM"};
    case Arch::kGemma2:
      return {"gemma2", "Gemma2ForCausalLM"};
    case Arch::kGemma3:
      return {"gemma3_text", "Gemma3ForCausalLM"};
    case Arch::kPhi3:
      return {"phi3", "Phi3ForCausalLM"};
    default:
      return {"llama", "LlamaForCausalLM"};
  }
}

// rope_scaling with the fields of its type only, as the model's own config.json holds them.
json RopeScalingJson(const RopeScaling& s) {
  json o = {{"rope_type", RopeScalingTypeName(s.type)}};
  switch (s.type) {
    case RopeScalingType::kNone:
      return nullptr;
    case RopeScalingType::kLinear:
      o["factor"] = ShortestDouble(s.factor);
      break;
    case RopeScalingType::kLlama3:
      o["factor"] = ShortestDouble(s.factor);
      o["low_freq_factor"] = ShortestDouble(s.low_freq_factor);
      o["high_freq_factor"] = ShortestDouble(s.high_freq_factor);
      o["original_max_position_embeddings"] = s.original_max_positions;
      break;
    case RopeScalingType::kYarn:
      if (s.factor_given) o["factor"] = ShortestDouble(s.factor);
      if (s.original_max_positions > 0) o["original_max_position_embeddings"] = s.original_max_positions;
      o["beta_fast"] = ShortestDouble(s.beta_fast);
      o["beta_slow"] = ShortestDouble(s.beta_slow);
      if (s.attention_factor) o["attention_factor"] = ShortestDouble(*s.attention_factor);
      if (s.mscale) o["mscale"] = ShortestDouble(*s.mscale);
      if (s.mscale_all_dim) o["mscale_all_dim"] = ShortestDouble(*s.mscale_all_dim);
      if (!s.truncate) o["truncate"] = false;  // true is the default; older transformers lack the field
      break;
    case RopeScalingType::kLongRope:
      o["short_factor"] = ShortestDoubles(s.short_factor);
      o["long_factor"] = ShortestDoubles(s.long_factor);
      o["original_max_position_embeddings"] = s.original_max_positions;
      if (s.attention_factor) o["attention_factor"] = ShortestDouble(*s.attention_factor);
      break;
  }
  return o;
}

// The window every sliding layer uses (0 when no layer slides): config.json has a single sliding_window.
int32_t CommonWindow(const ModelConfig& c) {
  int32_t window = 0;
  for (int32_t w : c.layer_window) {
    if (w > 0 && window > 0 && w != window) {
      throw Error("layer_window",
                  "config.json holds one sliding_window, but the layers slide over different windows");
    }
    if (w > 0) window = w;
  }
  return window;
}

// sliding_window and the family's own fields that say which layers slide (Qwen's use_sliding_window and
// max_window_layers, Gemma 3's sliding_window_pattern). layer_types as well where those cannot say it: the
// reader's rule decides, so whatever is written reads back to c.layer_window.
void AddSlidingLayers(const ModelConfig& c, json& j) {
  const int32_t window = CommonWindow(c);
  const int32_t n = c.n_layers;
  int32_t first_sliding = n, first_global = n;
  for (int32_t i = n - 1; i >= 0; --i) {
    if (c.Window(static_cast<size_t>(i)) > 0) first_sliding = i;
    if (c.Window(static_cast<size_t>(i)) == 0) first_global = i;
  }
  j["sliding_window"] = window > 0 ? json(window) : json(nullptr);
  if (c.arch == Arch::kQwen2 || c.arch == Arch::kQwen3) {
    j["use_sliding_window"] = window > 0;
    j["max_window_layers"] = first_sliding;
  }
  if (c.arch == Arch::kGemma3 && window > 0) j["sliding_window_pattern"] = first_global + 1;
  const std::vector<int32_t> want = c.AnySlidingLayer() ? c.layer_window : std::vector<int32_t>{};
  // Gemma's rule slides layers whatever the fields say and wants a window: all-global needs layer_types.
  const bool gemma = c.arch == Arch::kGemma2 || c.arch == Arch::kGemma3;
  const bool rule_suffices =
      window > 0 ? SlidingLayers(Fields(j, "config.json being written"), c.arch, n) == want : !gemma;
  if (rule_suffices) return;
  json types = json::array();
  for (int32_t i = 0; i < n; ++i)
    types.push_back(c.Window(static_cast<size_t>(i)) > 0 ? "sliding_attention" : "full_attention");
  j["layer_types"] = types;
}

// query_pre_attn_scalar that ParseHfConfig turns back into c.query_scale (1 / sqrt(scalar)): a whole number
// in every released Gemma, else the float the scale came from.
json QueryPreAttnScalar(const ModelConfig& c) {
  if (c.query_scale == 0) return c.head_dim;  // transformers' default
  auto reads_back = [&](float scalar) {
    return static_cast<float>(1.0 / std::sqrt(static_cast<double>(scalar))) == c.query_scale;
  };
  const double scalar = 1.0 / (static_cast<double>(c.query_scale) * c.query_scale);
  const float whole = static_cast<float>(std::round(scalar));
  if (reads_back(whole)) return static_cast<int64_t>(whole);
  if (reads_back(static_cast<float>(scalar))) return ShortestDouble(static_cast<float>(scalar));
  throw Error("query_scale", fmt::format("no query_pre_attn_scalar reads back to {}", c.query_scale));
}

// Gemma's soft-capping: null means none to transformers, but ParseHfConfig reads it as Gemma 2's default.
// A soft-cap, or null for none (which transformers and ParseHfConfig read as no capping in every family).
json Softcap(float cap) { return cap > 0 ? json(ShortestDouble(cap)) : json(nullptr); }

void AddGemmaFields(const ModelConfig& c, json& j) {
  j["hidden_activation"] = ActivationField(c.activation);
  j["query_pre_attn_scalar"] = QueryPreAttnScalar(c);
  j["attn_logit_softcapping"] = Softcap(c.attn_softcap);
  j["final_logit_softcapping"] = Softcap(c.final_softcap);
  if (c.arch == Arch::kGemma3) j["rope_local_base_freq"] = ShortestDouble(c.rope_local_theta);
}

json DecoderJson(const ModelConfig& c) {
  const auto [model_type, architecture] = DecoderNames(c.arch);
  json j = {{"architectures", {architecture}},
            {"model_type", model_type},
            {"hidden_size", c.dim},
            {"intermediate_size", c.ffn_dim},
            {"num_hidden_layers", c.n_layers},
            {"num_attention_heads", c.n_heads},
            {"num_key_value_heads", c.n_kv_heads},
            {"head_dim", c.head_dim},
            {"max_position_embeddings", c.max_seq_len},
            {"rms_norm_eps", ShortestDouble(c.norm_eps)},
            {"rope_theta", ShortestDouble(c.rope_theta)},
            {"rope_scaling", RopeScalingJson(c.rope_scaling)},
            {"hidden_act", ActivationField(c.activation)},
            {"vocab_size", c.vocab_size}};
  if (c.arch == Arch::kGemma2 || c.arch == Arch::kGemma3) AddGemmaFields(c, j);
  if (c.arch == Arch::kPhi3) {  // Phi-3 keeps the pre-training context at the top level
    const bool longrope = c.rope_scaling.type == RopeScalingType::kLongRope;
    j["original_max_position_embeddings"] = longrope ? c.rope_scaling.original_max_positions : c.max_seq_len;
  }
  AddSlidingLayers(c, j);
  return j;
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
  CheckFamilyFixedFeatures(c);
  json j = c.arch == Arch::kGpt2 ? Gpt2Json(c) : DecoderJson(c);
  j["tie_word_embeddings"] = c.tied_embeddings;
  j["bos_token_id"] = c.bos_id >= 0 ? json(c.bos_id) : json(nullptr);
  j["eos_token_id"] = c.eos_id >= 0 ? json(c.eos_id) : json(nullptr);
  j["torch_dtype"] = std::string(torch_dtype);
  return j.dump(2) + "\n";
}

}  // namespace kvlab
