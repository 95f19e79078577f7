#include "kvlab/io/gguf_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "kvlab/util/atomic_file.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

constexpr uint32_t kGgufVersion = 3;
constexpr uint32_t kDefaultAlignment = 32;

// Metadata value types (gguf_type in ggml); only those the writer emits.
enum ValueType : uint32_t { kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9, kU64 = 10, kF64 = 12 };

template <typename T>
void Put(std::vector<uint8_t>& b, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  b.insert(b.end(), p, p + sizeof(T));
}

void PutString(std::vector<uint8_t>& b, const std::string& s) {
  Put<uint64_t>(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}

uint64_t AlignUp(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

const char* TypeName(GgmlType t) {
  switch (t) {
    case GgmlType::kF32: return "F32";
    case GgmlType::kF16: return "F16";
    case GgmlType::kQ8_0: return "Q8_0";
    case GgmlType::kBF16: return "BF16";
  }
  return "?";
}

void WriteZeros(std::FILE* f, const std::string& where, size_t n) {
  static const uint8_t kZeros[64] = {};
  while (n > 0) {
    const size_t k = std::min(n, sizeof(kZeros));
    WriteBytes(f, where, kZeros, k);
    n -= k;
  }
}

}  // namespace

uint64_t GgmlTypeBytes(GgmlType t, uint64_t elements) {
  switch (t) {
    case GgmlType::kF32: return elements * 4;
    case GgmlType::kF16:
    case GgmlType::kBF16: return elements * 2;
    case GgmlType::kQ8_0: return elements / 32 * 34;  // blocks of one f16 scale + 32 int8
  }
  return 0;
}

std::vector<uint8_t>& GgufWriter::NewKey(const std::string& key, uint32_t value_type) {
  if (std::find(keys_.begin(), keys_.end(), key) != keys_.end()) {
    throw Error("GGUF writer", "metadata key " + key + " added twice");
  }
  keys_.push_back(key);
  PutString(kv_, key);
  Put(kv_, value_type);
  return kv_;
}

void GgufWriter::SetU32(const std::string& key, uint32_t v) { Put(NewKey(key, kU32), v); }
void GgufWriter::SetI32(const std::string& key, int32_t v) { Put(NewKey(key, kI32), v); }
void GgufWriter::SetU64(const std::string& key, uint64_t v) { Put(NewKey(key, kU64), v); }
void GgufWriter::SetF32(const std::string& key, float v) { Put(NewKey(key, kF32), v); }
void GgufWriter::SetF64(const std::string& key, double v) { Put(NewKey(key, kF64), v); }
void GgufWriter::SetBool(const std::string& key, bool v) { Put<uint8_t>(NewKey(key, kBool), v ? 1 : 0); }
void GgufWriter::SetString(const std::string& key, const std::string& v) { PutString(NewKey(key, kString), v); }

void GgufWriter::SetI32Array(const std::string& key, const std::vector<int32_t>& v) {
  std::vector<uint8_t>& b = NewKey(key, kArray);
  Put<uint32_t>(b, kI32);
  Put<uint64_t>(b, v.size());
  for (int32_t x : v) Put(b, x);
}

void GgufWriter::SetF32Array(const std::string& key, const std::vector<float>& v) {
  std::vector<uint8_t>& b = NewKey(key, kArray);
  Put<uint32_t>(b, kF32);
  Put<uint64_t>(b, v.size());
  for (float x : v) Put(b, x);
}

void GgufWriter::SetBoolArray(const std::string& key, const std::vector<bool>& v) {
  std::vector<uint8_t>& b = NewKey(key, kArray);
  Put<uint32_t>(b, kBool);
  Put<uint64_t>(b, v.size());
  for (bool x : v) Put<uint8_t>(b, x ? 1 : 0);
}

void GgufWriter::SetStringArray(const std::string& key, const std::vector<std::string>& v) {
  std::vector<uint8_t>& b = NewKey(key, kArray);
  Put<uint32_t>(b, kString);
  Put<uint64_t>(b, v.size());
  for (const std::string& s : v) PutString(b, s);
}

void GgufWriter::AddTensor(const std::string& name, GgmlType type, std::vector<uint64_t> ggml_shape, Fill fill) {
  for (const TensorSpec& t : tensors_) {
    if (t.name == name) throw Error("GGUF writer", "tensor " + name + " added twice");
  }
  if (ggml_shape.empty() || ggml_shape.size() > 4) {
    throw Error("GGUF writer", "tensor " + name + " must have 1 to 4 dimensions");
  }
  if (type == GgmlType::kQ8_0 && ggml_shape[0] % 32 != 0) {
    throw Error("GGUF writer", "tensor " + name + ": Q8_0 rows must be a multiple of 32 values, got " +
                                   std::to_string(ggml_shape[0]));
  }
  uint64_t elements = 1;
  for (uint64_t d : ggml_shape) elements *= d;
  tensors_.push_back({name, type, std::move(ggml_shape), GgmlTypeBytes(type, elements), std::move(fill)});
}

void GgufWriter::SetAlignment(uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw Error("GGUF writer", "alignment must be a power of two, got " + std::to_string(alignment));
  }
  alignment_ = alignment;
}

void GgufWriter::Write(const std::filesystem::path& path) const {
  // Header: magic, version, counts, metadata, tensor infos; then zero padding up to the data section.
  std::vector<uint8_t> header;
  header.insert(header.end(), {'G', 'G', 'U', 'F'});
  Put(header, kGgufVersion);
  Put<uint64_t>(header, tensors_.size());
  const bool write_alignment = alignment_ != kDefaultAlignment;
  Put<uint64_t>(header, keys_.size() + (write_alignment ? 1 : 0));
  header.insert(header.end(), kv_.begin(), kv_.end());
  if (write_alignment) {
    PutString(header, "general.alignment");
    Put<uint32_t>(header, kU32);
    Put<uint32_t>(header, alignment_);
  }
  uint64_t offset = 0;  // of each tensor's data, from the start of the data section
  for (const TensorSpec& t : tensors_) {
    PutString(header, t.name);
    Put<uint32_t>(header, static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) Put<uint64_t>(header, d);
    Put<uint32_t>(header, static_cast<uint32_t>(t.type));
    Put<uint64_t>(header, offset);
    offset += AlignUp(t.bytes, alignment_);
  }
  header.resize(AlignUp(header.size(), alignment_), 0);

  WriteFileAtomically(path, [&](std::FILE* f, const std::string& where) {
    WriteBytes(f, where, header.data(), header.size());
    std::vector<uint8_t> data;
    for (const TensorSpec& t : tensors_) {
      data.assign(t.bytes, 0);
      t.fill(std::span<uint8_t>(data));
      if (data.size() != t.bytes) {
        throw Error(where, "tensor " + t.name + " (" + TypeName(t.type) + ") filled the wrong number of bytes");
      }
      WriteBytes(f, where, data.data(), data.size());
      WriteZeros(f, where, AlignUp(t.bytes, alignment_) - t.bytes);
    }
  });
}

}  // namespace kvlab
