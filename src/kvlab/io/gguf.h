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

// One metadata value. Arrays keep their element type's natural C++ type.
using GgufValue = std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<std::string>,
                               std::vector<int64_t>, std::vector<double>>;

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the fastest-varying (columns)
  uint32_t ggml_type = 0;      // raw ggml type id
  DType dtype = DType::kF32;   // only types kvlab reads: F32 (0), F16 (1), Q8_0 (8)
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
};

class GgufFile {
 public:
  // Parses the header, metadata and tensor infos. Throws kvlab::Error naming the file on any problem:
  // wrong magic, unsupported version, truncated data, offsets outside the file, unknown value type, ...
  // Tensors of a type kvlab cannot read make Open fail only if `require_supported_tensors` is set.
  static GgufFile Open(const std::filesystem::path& path);

  uint32_t version() const { return version_; }
  const std::string& path() const { return path_; }
  bool Has(const std::string& key) const { return kv_.count(key) != 0; }

  // Typed getters; throw kvlab::Error "<file>: metadata <key> missing / has the wrong type".
  std::string GetString(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;       // any integer type
  double GetFloat(const std::string& key) const;      // any float or integer type
  const std::vector<std::string>& GetStringArray(const std::string& key) const;
  const std::vector<int64_t>& GetIntArray(const std::string& key) const;
  const std::vector<double>& GetFloatArray(const std::string& key) const;
  // Optional variants: nullopt when the key is absent (still throw on a wrong type).
  std::optional<int64_t> FindInt(const std::string& key) const;
  std::optional<double> FindFloat(const std::string& key) const;
  std::optional<std::string> FindString(const std::string& key) const;

  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  // nullptr if absent. Throws if present with a type kvlab cannot read.
  const GgufTensorInfo* FindTensor(const std::string& name) const;
  const std::shared_ptr<MappedFile>& file() const { return file_; }

 private:
  std::shared_ptr<MappedFile> file_;
  std::string path_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  friend class GgufParser;
};

}  // namespace kvlab
