// GGUF reader (versions 1, 2 and 3): metadata key/values and tensor infos, over a memory-mapped file.
// Every size and offset read from the header is bounds-checked against the file before use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "kvlab/tensor/dtype.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {

struct GgufArrayList;

// One metadata value. Scalars: unsigned ints -> uint64_t, signed ints -> int64_t, f32/f64 -> double.
// Arrays keep their element type's natural C++ type (int and bool arrays -> int64_t, float arrays -> double);
// an array of arrays is a GgufArrayList.
using GgufValue = std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<std::string>,
                               std::vector<int64_t>, std::vector<double>, GgufArrayList>;

// An array whose elements are themselves arrays (rare: GGUF allows it, no model kvlab loads uses it).
struct GgufArrayList {
  std::vector<GgufValue> items;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the fastest-varying (columns)
  uint32_t ggml_type = 0;      // raw ggml type id
  bool supported = false;      // kvlab reads F32, F16, BF16, Q8_0, Q4_0/1, Q5_0/1, Q2_K..Q6_K
  DType dtype = DType::kF32;   // meaningful only when supported
  const uint8_t* data = nullptr;
  size_t nbytes = 0;  // 0 for a ggml type whose block size kvlab does not know
  int64_t NumElements() const;
};

// "F32", "Q4_K", ... for a ggml type id; "unknown" for ids kvlab has never heard of.
const char* GgmlTypeName(uint32_t ggml_type);

class GgufFile {
 public:
  // Parses the header, metadata and tensor infos. Throws kvlab::Error naming the file on any problem:
  // wrong magic, unsupported version, truncated data, offsets outside the file, unknown value type, ...
  // Tensors of a type kvlab cannot read are listed anyway; FindTensor throws for them.
  static GgufFile Open(const std::filesystem::path& path);

  uint32_t version() const { return version_; }
  const std::string& path() const { return path_; }
  bool Has(const std::string& key) const { return kv_.count(key) != 0; }

  // Typed getters; throw kvlab::Error "<file>: metadata <key> missing / has the wrong type".
  std::string GetString(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;   // any integer type
  double GetFloat(const std::string& key) const;  // any float or integer type
  const std::vector<std::string>& GetStringArray(const std::string& key) const;
  const std::vector<int64_t>& GetIntArray(const std::string& key) const;
  const std::vector<double>& GetFloatArray(const std::string& key) const;
  // Optional variants: nullopt when the key is absent (still throw on a wrong type).
  std::optional<int64_t> FindInt(const std::string& key) const;
  std::optional<double> FindFloat(const std::string& key) const;
  std::optional<std::string> FindString(const std::string& key) const;
  uint64_t alignment() const { return alignment_; }

  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  // nullptr if absent. Throws "<file>: tensor <name>: unsupported tensor type N (NAME)" if present with a
  // type kvlab cannot read.
  const GgufTensorInfo* FindTensor(const std::string& name) const;
  const std::shared_ptr<MappedFile>& file() const { return file_; }

 private:
  std::shared_ptr<MappedFile> file_;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;  // name -> position in tensors_
  friend class GgufParser;
};

}  // namespace kvlab
