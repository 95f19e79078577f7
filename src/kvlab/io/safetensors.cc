#include "kvlab/io/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "kvlab/tensor/ggml_quants.h"
#include "kvlab/util/atomic_file.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

using nlohmann::json;

// The reference implementation refuses headers above 100 MB; so do we, before parsing anything.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr int64_t kMaxDim = int64_t{1} << 40;

const char* const kSupportedHint = "kvlab reads F32, F16 and BF16 safetensors; convert the checkpoint first";

bool ParseDType(const std::string& s, DType* out) {
  if (s == "F32")
    *out = DType::kF32;
  else if (s == "F16")
    *out = DType::kF16;
  else if (s == "BF16")
    *out = DType::kBF16;
  else
    return false;
  return true;
}

json ParseHeaderJson(const std::string& path, const uint8_t* p, size_t n) {
  try {
    json j = json::parse(p, p + n);
    if (!j.is_object()) throw Error(path, "safetensors header is not a JSON object");
    return j;
  } catch (const json::parse_error& e) {
    throw Error(path, std::string("malformed safetensors header JSON: ") + e.what());
  }
}

std::vector<int64_t> ParseShape(const std::string& path, const std::string& name, const json& shape) {
  if (!shape.is_array()) throw Error(path, "tensor " + name + ": shape is not an array");
  std::vector<int64_t> dims;
  for (const json& d : shape) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(kMaxDim)) {
      throw Error(path, "tensor " + name + ": shape entry " + d.dump() + " is not a valid dimension");
    }
    dims.push_back(d.get<int64_t>());
  }
  return dims;
}

// Number of elements, or an Error when the product would overflow (a corrupt or hostile header).
uint64_t CheckedElements(const std::string& path, const std::string& name,
                         const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > (std::numeric_limits<uint64_t>::max() / 8) / static_cast<uint64_t>(d)) {
      throw Error(path, "tensor " + name + ": shape is too large");
    }
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

std::pair<uint64_t, uint64_t> ParseOffsets(const std::string& path, const std::string& name, const json& j) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_number_unsigned() || !j[1].is_number_unsigned()) {
    throw Error(path, "tensor " + name + ": data_offsets must be [begin, end] non-negative integers");
  }
  return {j[0].get<uint64_t>(), j[1].get<uint64_t>()};
}

std::map<std::string, std::string> ParseMetadata(const std::string& path, const json& j) {
  if (!j.is_object()) throw Error(path, "__metadata__ is not a JSON object");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) throw Error(path, "__metadata__ value of " + k + " is not a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

// One header entry -> tensor view; `data`/`data_size` is the data section after the header.
SafetensorsTensor ParseTensor(const std::string& path, const std::string& name, const json& e,
                              const uint8_t* data, uint64_t data_size) {
  if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets")) {
    throw Error(path, "tensor " + name + ": header entry needs dtype, shape and data_offsets");
  }
  SafetensorsTensor t;
  t.name = name;
  t.file = path;
  const std::string dtype = e["dtype"].is_string() ? e["dtype"].get<std::string>() : e["dtype"].dump();
  if (!ParseDType(dtype, &t.dtype)) {
    throw Error(path, "tensor " + name + " has unsupported dtype " + dtype, kSupportedHint);
  }
  t.shape = ParseShape(path, name, e["shape"]);
  const uint64_t elements = CheckedElements(path, name, t.shape);
  const auto [begin, end] = ParseOffsets(path, name, e["data_offsets"]);
  if (begin > end || end > data_size) {
    throw Error(path, "tensor " + name + ": data_offsets [" + std::to_string(begin) + ", " +
                          std::to_string(end) + "] lie outside the " + std::to_string(data_size) +
                          "-byte data section");
  }
  const uint64_t expected = DTypeBytes(t.dtype, elements);
  if (end - begin != expected) {
    throw Error(path, "tensor " + name + ": " + std::to_string(end - begin) + " bytes of data, but dtype " +
                          dtype + " and its shape need " + std::to_string(expected));
  }
  t.data = data + begin;
  t.nbytes = end - begin;
  return t;
}

// Tensors must not share bytes: an aliasing file would make one tensor's edits show up in another.
void CheckNoOverlap(const std::string& path, std::vector<const SafetensorsTensor*> ts) {
  std::sort(ts.begin(), ts.end(), [](auto* a, auto* b) { return a->data < b->data; });
  for (size_t i = 1; i < ts.size(); ++i) {
    if (ts[i - 1]->nbytes > 0 && ts[i - 1]->data + ts[i - 1]->nbytes > ts[i]->data) {
      throw Error(path,
                  "tensors " + ts[i - 1]->name + " and " + ts[i]->name + " overlap in the data section");
    }
  }
}

}  // namespace

int64_t SafetensorsTensor::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const char* SafetensorsDTypeName(DType t) {
  switch (t) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kQ8_0:
      return "Q8_0";  // not a safetensors dtype (nor are the GGUF types below); the writer refuses them
    case DType::kQ4_0:
      return "Q4_0";
    case DType::kQ4_1:
      return "Q4_1";
    case DType::kQ5_0:
      return "Q5_0";
    case DType::kQ5_1:
      return "Q5_1";
    case DType::kQ2_K:
      return "Q2_K";
    case DType::kQ3_K:
      return "Q3_K";
    case DType::kQ4_K:
      return "Q4_K";
    case DType::kQ5_K:
      return "Q5_K";
    case DType::kQ6_K:
      return "Q6_K";
    case DType::kQ8:
      return "Q8";  // kvlab's in-memory layout, never in a file
  }
  return "?";
}

SafetensorsFile SafetensorsFile::Open(const std::filesystem::path& path) {
  SafetensorsFile f;
  f.file_ = MappedFile::Open(path);
  f.path_ = path.string();
  const uint8_t* p = f.file_->data();
  const size_t size = f.file_->size();
  if (size < 8)
    throw Error(f.path_, "too small to be a safetensors file (" + std::to_string(size) + " bytes)");
  uint64_t header_len;
  std::memcpy(&header_len, p, 8);
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    throw Error(f.path_,
                "safetensors header length " + std::to_string(header_len) + " exceeds the file size " +
                    std::to_string(size),
                "the file is truncated or not a safetensors file");
  }
  const json header = ParseHeaderJson(f.path_, p + 8, header_len);
  const uint8_t* data = p + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      f.metadata_ = ParseMetadata(f.path_, entry);
      continue;
    }
    f.index_[name] = f.tensors_.size();
    f.tensors_.push_back(ParseTensor(f.path_, name, entry, data, data_size));
  }
  std::vector<const SafetensorsTensor*> views;
  for (const auto& t : f.tensors_) views.push_back(&t);
  CheckNoOverlap(f.path_, std::move(views));
  return f;
}

const SafetensorsTensor* SafetensorsFile::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

// Reads model.safetensors.index.json -> the distinct shard file names, checking that every tensor it lists
// is really in its shard (a stale index is a common way to end up with a broken checkpoint).
std::vector<std::string> ReadShardIndex(const std::filesystem::path& index_path, json* weight_map) {
  const std::string where = index_path.string();
  json j;
  try {
    j = json::parse(ReadTextFile(index_path));
  } catch (const json::parse_error& e) {
    throw Error(where, std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    throw Error(where, "missing weight_map object");
  }
  *weight_map = j["weight_map"];
  std::set<std::string> files;
  for (const auto& [name, file] : weight_map->items()) {
    if (!file.is_string()) throw Error(where, "weight_map entry " + name + " is not a file name");
    const std::string f = file.get<std::string>();
    // Shards live beside the index; a path component would let an index point anywhere on disk.
    if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..") {
      throw Error(where, "weight_map entry " + name + " names an invalid shard file \"" + f + "\"");
    }
    files.insert(f);
  }
  return {files.begin(), files.end()};
}

}  // namespace

SafetensorsCheckpoint SafetensorsCheckpoint::OpenDirectory(const std::filesystem::path& dir) {
  SafetensorsCheckpoint c;
  const auto single = dir / "model.safetensors";
  const auto index = dir / "model.safetensors.index.json";
  if (std::filesystem::exists(single)) {
    c.shards_.push_back(SafetensorsFile::Open(single));
    c.describe_ = single.string();
    return c;
  }
  if (!std::filesystem::exists(index)) {
    throw Error(dir.string(), "no model.safetensors or model.safetensors.index.json in the directory");
  }
  c.describe_ = index.string();
  json weight_map;
  for (const std::string& shard : ReadShardIndex(index, &weight_map)) {
    c.shards_.push_back(SafetensorsFile::Open(dir / shard));
  }
  for (const auto& [name, file] : weight_map.items()) {
    const auto shard = std::find_if(c.shards_.begin(), c.shards_.end(), [&](const SafetensorsFile& s) {
      return std::filesystem::path(s.path()).filename() == file.get<std::string>();
    });
    if (shard->Find(name) == nullptr) {
      throw Error(shard->path(),
                  "tensor " + name + " listed in " + index.filename().string() + " is missing");
    }
  }
  return c;
}

const SafetensorsTensor* SafetensorsCheckpoint::Find(const std::string& name) const {
  for (const SafetensorsFile& s : shards_) {
    if (const SafetensorsTensor* t = s.Find(name)) return t;
  }
  // transformers drops shared (tied) tensors when saving and records "dropped name -> kept name" in
  // __metadata__ (TinyStories-656K: model.embed_tokens.weight -> lm_head.weight); follow one such alias.
  for (const SafetensorsFile& s : shards_) {
    auto alias = s.metadata().find(name);
    if (alias == s.metadata().end() || alias->second == name) continue;
    for (const SafetensorsFile& t : shards_) {
      if (const SafetensorsTensor* found = t.Find(alias->second)) return found;
    }
  }
  return nullptr;
}

std::vector<std::shared_ptr<MappedFile>> SafetensorsCheckpoint::MappedFiles() const {
  std::vector<std::shared_ptr<MappedFile>> files;
  for (const SafetensorsFile& s : shards_) files.push_back(s.file());
  return files;
}

// ---- writer ----

SafetensorsWriteSpec SafetensorsBytes(std::string name, DType dtype, std::vector<int64_t> shape,
                                      const void* data) {
  SafetensorsWriteSpec spec{std::move(name), dtype, std::move(shape), nullptr};
  spec.fill = [data](std::span<uint8_t> out) { std::memcpy(out.data(), data, out.size()); };
  return spec;
}

namespace {

size_t SpecBytes(const SafetensorsWriteSpec& s) {
  size_t n = 1;
  for (int64_t d : s.shape) n *= static_cast<size_t>(d);
  return DTypeBytes(s.dtype, n);
}

// The JSON header, padded with spaces to a multiple of 8 so the data section (and every f32 tensor in an
// all-f32 file) starts 8-byte aligned, as the reference writer does.
std::string BuildHeader(const std::string& path, const std::vector<SafetensorsWriteSpec>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const SafetensorsWriteSpec& t : tensors) {
    if (ggml::IsBlockQuantized(t.dtype) || t.dtype == DType::kQ8) {
      throw Error(path, "tensor " + t.name + ": safetensors cannot store " + std::string(DTypeName(t.dtype)));
    }
    if (header.contains(t.name)) throw Error(path, "duplicate tensor name " + t.name);
    const uint64_t n = SpecBytes(t);
    header[t.name] = {
        {"dtype", SafetensorsDTypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void WriteAll(std::FILE* f, const void* p, size_t n, const std::string& path) {
  if (n > 0 && std::fwrite(p, 1, n, f) != n) throw Error(path, "write failed (disk full?)");
}

void WriteContents(std::FILE* f, const std::string& path, const std::string& header,
                   const std::vector<SafetensorsWriteSpec>& tensors) {
  const uint64_t len = header.size();
  WriteAll(f, &len, 8, path);
  WriteAll(f, header.data(), header.size(), path);
  std::vector<uint8_t> buffer;  // [bytes of the largest tensor], reused
  for (const SafetensorsWriteSpec& t : tensors) {
    buffer.assign(SpecBytes(t), 0);
    t.fill(std::span<uint8_t>(buffer));
    WriteAll(f, buffer.data(), buffer.size(), path);
  }
}

}  // namespace

void WriteSafetensors(const std::filesystem::path& path, const std::vector<SafetensorsWriteSpec>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string header = BuildHeader(path.string(), tensors, metadata);
  WriteFileAtomically(path, [&](std::FILE* f, const std::string& where) { WriteContents(f, where, header, tensors); });
}

}  // namespace kvlab
