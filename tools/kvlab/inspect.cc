// kvlab inspect: what a model file holds (architecture, shapes, family features, dtypes, sizes) without
// running it.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "kvlab/io/gguf.h"
#include "kvlab/util/assets.h"

namespace kvlab::cli {

namespace {
struct InspectArgs {
  ModelOptions model;
  bool json = false;
};

// A float as the shortest decimal that reads back to it (1e-06, not 9.999999974752427e-07).
double ShortestDecimal(float f) { return std::stod(fmt::format("{}", f)); }

// Counts weight bytes per dtype as loaded (every matrix of the model once).
std::map<std::string, int64_t> BytesByDType(const ModelWeights& w) {
  std::map<std::string, int64_t> out;
  auto add = [&](const MatrixView& m) {
    if (!m.empty()) out[std::string(DTypeName(m.dtype))] += static_cast<int64_t>(m.Bytes());
  };
  add(w.tok_emb);
  add(w.pos_emb);
  for (const LayerWeights& l : w.layers) {
    for (const MatrixView* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) add(*m);
  }
  if (w.lm_head.data != w.tok_emb.data) add(w.lm_head);
  return out;
}

// For a GGUF file: every tensor's stored ggml type (F32, Q4_K, Q6_K, ...) with its tensor count and bytes,
// since the mixes (Q4_K_M and the like) give different tensors different types and loading converts them.
nlohmann::json GgufStoredTypes(const std::filesystem::path& path) {
  const GgufFile g = GgufFile::Open(path);
  nlohmann::json out = nlohmann::json::object();
  for (const GgufTensorInfo& t : g.tensors()) {
    nlohmann::json& entry = out[GgmlTypeName(t.ggml_type)];
    entry["tensors"] = entry.value("tensors", 0) + 1;
    entry["bytes"] = entry.value("bytes", int64_t{0}) + static_cast<int64_t>(t.nbytes);
  }
  return out;
}

// rope_scaling with the parameters of its type (HF's names), {"type": "none"} without scaling.
nlohmann::json RopeScalingJson(const ModelConfig& c) {
  if (!c.HasRope()) return nullptr;
  const RopeScaling& s = c.rope_scaling;
  nlohmann::json j = {{"type", RopeScalingTypeName(s.type)}};
  auto optional = [&](const char* key, const std::optional<float>& v) {
    if (v) j[key] = ShortestDecimal(*v);
  };
  switch (s.type) {
    case RopeScalingType::kNone:
      break;
    case RopeScalingType::kLinear:
      j["factor"] = ShortestDecimal(s.factor);
      break;
    case RopeScalingType::kLlama3:
      j["factor"] = ShortestDecimal(s.factor);
      j["low_freq_factor"] = ShortestDecimal(s.low_freq_factor);
      j["high_freq_factor"] = ShortestDecimal(s.high_freq_factor);
      j["original_max_positions"] = s.original_max_positions;
      break;
    case RopeScalingType::kYarn:
      if (s.factor_given) j["factor"] = ShortestDecimal(s.factor);
      j["original_max_positions"] = s.original_max_positions;
      j["beta_fast"] = ShortestDecimal(s.beta_fast);
      j["beta_slow"] = ShortestDecimal(s.beta_slow);
      optional("attention_factor", s.attention_factor);
      optional("mscale", s.mscale);
      optional("mscale_all_dim", s.mscale_all_dim);
      j["truncate"] = s.truncate;
      break;
    case RopeScalingType::kLongRope:
      j["original_max_positions"] = s.original_max_positions;
      j["short_factor"] = s.short_factor;
      j["long_factor"] = s.long_factor;
      optional("attention_factor", s.attention_factor);
      break;
  }
  return j;
}

// The layers that attend through the model's own sliding window, and that window: one number when they share
// it (as every Hugging Face and GGUF config says), else each layer's.
void AddSlidingWindow(const ModelConfig& c, nlohmann::json& j) {
  std::vector<int32_t> layers, windows;
  for (int32_t i = 0; i < c.n_layers; ++i) {
    if (c.Window(static_cast<size_t>(i)) == 0) continue;
    layers.push_back(i);
    windows.push_back(c.Window(static_cast<size_t>(i)));
  }
  const bool shared =
      std::adjacent_find(windows.begin(), windows.end(), std::not_equal_to<>()) == windows.end();
  j["sliding_window"] = windows.empty() ? nlohmann::json(nullptr)
                        : shared        ? nlohmann::json(windows.front())
                                        : nlohmann::json(windows);
  j["sliding_window_layers"] = layers;
}

// Layer indices as ranges for the text output: [0,1,2,3,4,6] -> "0-4,6".
std::string IndexRanges(const nlohmann::json& indices) {
  std::string out;
  for (size_t i = 0; i < indices.size();) {
    size_t end = i;
    while (end + 1 < indices.size() && indices[end + 1].get<int64_t>() == indices[end].get<int64_t>() + 1)
      ++end;
    if (!out.empty()) out += ",";
    out += std::to_string(indices[i].get<int64_t>());
    if (end > i) out += "-" + std::to_string(indices[end].get<int64_t>());
    i = end + 1;
  }
  return out.empty() ? "none" : out;
}

// Bytes of an uncompressed f32 cache holding the whole trained context: a layer with its own sliding window
// holds at most the window.
int64_t FullContextKvBytes(const ModelConfig& c) {
  const int64_t per_token = c.KvBytesPerToken() / c.n_layers;  // one layer's K and V
  int64_t bytes = 0;
  for (size_t l = 0; l < static_cast<size_t>(c.n_layers); ++l) {
    const int32_t w = c.Window(l);
    bytes += per_token * (w > 0 ? std::min(w, c.max_seq_len) : c.max_seq_len);
  }
  return bytes;
}

// A number, or null where the feature is off (0 in ModelConfig).
nlohmann::json NumberOrNull(float v) {
  return v > 0 ? nlohmann::json(ShortestDecimal(v)) : nlohmann::json(nullptr);
}

void Run(const InspectArgs& a) {
  const auto path = ResolveModelPath(a.model.model);
  LoadedModel m = LoadModel(path);
  const ModelConfig& c = m.config;
  nlohmann::json j = {
      {"path", path.string()},
      {"format", ModelFormatName(m.format)},
      {"architecture", ArchName(c.arch)},
      {"dim", c.dim},
      {"n_layers", c.n_layers},
      {"n_heads", c.n_heads},
      {"n_kv_heads", c.n_kv_heads},
      {"head_dim", c.head_dim},
      {"ffn_dim", c.ffn_dim},
      {"vocab_size", c.vocab_size},
      {"max_seq_len", c.max_seq_len},
      {"norm_eps", ShortestDecimal(c.norm_eps)},
      {"rope_theta", ShortestDecimal(c.rope_theta)},
      {"rope_style", RopeStyleName(c.rope_style)},
      {"activation", ActivationName(c.activation)},
      {"tied_embeddings", c.tied_embeddings},
      {"bos_id", c.bos_id},
      {"eos_id", c.eos_id},
      {"parameters", m.ParameterCount()},
      {"weight_bytes", m.WeightBytes()},
      {"weight_bytes_by_dtype", BytesByDType(m.weights)},
      {"kv_bytes_per_token_f32", c.KvBytesPerToken()},
      {"kv_bytes_full_context_f32", FullContextKvBytes(c)},
      {"rope_scaling", RopeScalingJson(c)},
      {"rope_local_theta", NumberOrNull(c.rope_local_theta)},
      {"qkv_bias", c.qkv_bias},
      {"qk_norm", c.qk_norm},
      {"sandwich_norms", c.sandwich_norms},
      {"embed_scale", ShortestDecimal(c.embed_scale)},
      {"attention_scale", ShortestDecimal(c.AttentionScale())},
      {"attn_softcap", NumberOrNull(c.attn_softcap)},
      {"final_softcap", NumberOrNull(c.final_softcap)},
  };
  if (m.format == ModelFormat::kGguf) j["gguf_stored_types"] = GgufStoredTypes(m.path);
  AddSlidingWindow(c, j);
  if (a.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  for (const auto& [key, value] : j.items()) {
    const std::string text = value.is_string()                ? value.get<std::string>()
                             : key == "sliding_window_layers" ? IndexRanges(value)
                                                              : value.dump();
    std::printf("%-28s %s\n", key.c_str(), text.c_str());
  }
}
}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd =
      app.add_subcommand("inspect", "show a model's architecture, shapes, family features, dtypes and sizes");
  cmd->add_option("model", args->model.model, "model path or name under $KVLAB_ASSETS/models")
      ->capture_default_str();
  cmd->add_option("-m,--model", args->model.model, "same as the positional argument");
  cmd->add_flag("--json", args->json, "print JSON");
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
