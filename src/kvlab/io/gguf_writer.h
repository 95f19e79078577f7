// GGUF v3 writer: metadata key/values, tensor infos and tensor data aligned as llama.cpp's gguf-py writes
// them (little-endian, u64 counts and lengths, tensor data offsets relative to the aligned data section).
// The file is written atomically: to "<path>.tmp", renamed over `path` only once complete.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace kvlab {

// ggml tensor type ids kvlab writes (ggml.h's enum ggml_type).
enum class GgmlType : uint32_t { kF32 = 0, kF16 = 1, kQ8_0 = 8, kBF16 = 30 };

// Bytes of `elements` values of a type (q8_0: elements must be a multiple of 32, checked by AddTensor).
uint64_t GgmlTypeBytes(GgmlType t, uint64_t elements);

class GgufWriter {
 public:
  // Metadata, written in the order added. A key may be added once (a second Set throws).
  void SetU32(const std::string& key, uint32_t v);
  void SetI32(const std::string& key, int32_t v);
  void SetU64(const std::string& key, uint64_t v);
  void SetF32(const std::string& key, float v);
  void SetF64(const std::string& key, double v);
  void SetBool(const std::string& key, bool v);
  void SetString(const std::string& key, const std::string& v);
  void SetI32Array(const std::string& key, const std::vector<int32_t>& v);
  void SetF32Array(const std::string& key, const std::vector<float>& v);
  void SetBoolArray(const std::string& key, const std::vector<bool>& v);
  void SetStringArray(const std::string& key, const std::vector<std::string>& v);

  // One tensor. `ggml_shape` is in GGUF order (ggml_shape[0] = the fastest-varying dimension, i.e. the
  // columns of a row-major matrix). `fill` writes exactly GgmlTypeBytes(type, elements) bytes into `out`; it
  // is called once, in the order the tensors were added, so the writer holds one tensor at a time.
  using Fill = std::function<void(std::span<uint8_t> out)>;
  void AddTensor(const std::string& name, GgmlType type, std::vector<uint64_t> ggml_shape, Fill fill);

  // Data alignment (general.alignment is written when it is not GGUF's default of 32). Power of two.
  void SetAlignment(uint32_t alignment);

  // Writes the file. Throws kvlab::Error naming the path on any I/O failure (the .tmp file is removed).
  void Write(const std::filesystem::path& path) const;

 private:
  struct TensorSpec {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> shape;
    uint64_t bytes;
    Fill fill;
  };
  std::vector<uint8_t>& NewKey(const std::string& key, uint32_t value_type);

  std::vector<uint8_t> kv_;  // serialized key/value pairs
  std::vector<std::string> keys_;
  std::vector<TensorSpec> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace kvlab
