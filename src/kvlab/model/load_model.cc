// LoadModel: picks the loader from what the path is, plus the LoadedModel accounting helpers.
#include <cstring>
#include <fstream>

#include "kvlab/model/load_llama2c.h"
#include "kvlab/model/loaders.h"
#include "kvlab/model/weights.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;

// GGUF is recognised by its magic as well as its extension, so a renamed file still loads as what it is.
bool StartsWithGgufMagic(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

// A config.json or *.safetensors inside a Hugging Face directory stands for the directory.
bool IsHfDirectoryMember(const fs::path& path) {
  return path.filename() == "config.json" || path.extension() == ".safetensors";
}

LoadedModel LoadAsStored(const fs::path& path, const LoadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path.string(), "no such file or directory");
  if (fs::is_directory(path, ec)) {
    if (!fs::exists(path / "config.json")) {
      throw Error(path.string(), "directory has no config.json",
                  "point at a Hugging Face model directory, a .gguf file or a llama2.c .bin file");
    }
    return LoadHfModel(path, options);
  }
  if (path.extension() == ".gguf" || StartsWithGgufMagic(path)) return LoadGgufModel(path, options);
  if (IsHfDirectoryMember(path) && fs::exists(path.parent_path() / "config.json")) {
    return LoadHfModel(path.parent_path(), options);
  }
  return LoadLlama2cModel(path);
}
}  // namespace

LoadedModel LoadModel(const fs::path& path, const LoadOptions& options) {
  LoadedModel m = LoadAsStored(path, options);
  switch (options.weights) {
    case WeightFormat::kAuto:
    case WeightFormat::kF32: break;  // the loaders already produced these
    case WeightFormat::kBF16: m.ConvertMatrices(DType::kBF16); break;
    case WeightFormat::kF16: m.ConvertMatrices(DType::kF16); break;
    case WeightFormat::kQ8: m.ConvertMatrices(DType::kQ8); break;
  }
  return m;
}

int64_t LoadedModel::ParameterCount() const {
  auto m = [](const MatrixView& v) { return v.empty() ? 0 : v.rows * v.cols; };
  auto v = [](const VectorView& x) { return x.empty() ? 0 : x.size; };
  const ModelWeights& w = weights;
  int64_t n = m(w.tok_emb) + m(w.pos_emb) + v(w.final_norm) + v(w.final_norm_b) + v(w.lm_head_b);
  if (w.lm_head.data != w.tok_emb.data) n += m(w.lm_head);  // a tied head is the embedding, counted once
  for (const LayerWeights& l : w.layers) {
    for (const MatrixView* x : l.Matrices()) n += m(*x);
    for (const VectorView* x : l.Vectors()) n += v(*x);
  }
  return n;
}

// One decode step reads every layer matrix and vector once, the whole output head, and just one row of
// the token (and position) embedding; that is the memory-bandwidth floor of a step.
int64_t LoadedModel::WeightBytes() const {
  auto m = [](const MatrixView& v) { return v.empty() ? 0 : static_cast<int64_t>(v.Bytes()); };
  auto row = [](const MatrixView& v) {
    return v.empty() ? 0 : static_cast<int64_t>(DTypeBytes(v.dtype, static_cast<size_t>(v.cols)));
  };
  auto v = [](const VectorView& x) { return x.empty() ? 0 : x.size * int64_t{sizeof(float)}; };
  const ModelWeights& w = weights;
  int64_t n =
      row(w.tok_emb) + row(w.pos_emb) + m(w.lm_head) + v(w.lm_head_b) + v(w.final_norm) + v(w.final_norm_b);
  for (const LayerWeights& l : w.layers) {
    for (const MatrixView* x : l.Matrices()) n += m(*x);
    for (const VectorView* x : l.Vectors()) n += v(*x);
  }
  return n;
}

}  // namespace kvlab
