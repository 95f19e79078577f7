// kvlab inspect: what a model file holds (architecture, shapes, dtypes, sizes) without running it.
#include <cstdio>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

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
      {"kv_bytes_full_context_f32", c.KvBytesPerToken() * c.max_seq_len},
  };
  if (m.format == ModelFormat::kGguf) j["gguf_stored_types"] = GgufStoredTypes(m.path);
  if (a.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  for (const auto& [key, value] : j.items()) {
    std::printf("%-28s %s\n", key.c_str(), value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
  }
}
}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "show a model's architecture, shapes, dtypes and sizes");
  cmd->add_option("model", args->model.model, "model path or name under $KVLAB_ASSETS/models")->capture_default_str();
  cmd->add_option("-m,--model", args->model.model, "same as the positional argument");
  cmd->add_flag("--json", args->json, "print JSON");
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
