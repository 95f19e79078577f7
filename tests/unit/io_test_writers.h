// Writers of synthetic model files for the io tests: small GGUF and llama2.c files built byte by byte, so
// each test can corrupt exactly the field it is about. (Safetensors files come from kvlab's own writer, or
// raw.)
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kvlab/util/error.h"

namespace kvlab::test {

using Bytes = std::vector<uint8_t>;

inline void WriteFile(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void WriteFile(const std::filesystem::path& path, const std::string& text) {
  WriteFile(path, Bytes(text.begin(), text.end()));
}

inline Bytes ReadFileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

template <typename T>
void Put(Bytes& b, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  b.insert(b.end(), p, p + sizeof(T));
}

inline void PutBytes(Bytes& b, const void* p, size_t n) {
  const auto* q = static_cast<const uint8_t*>(p);
  b.insert(b.end(), q, q + n);
}

// Runs f and checks that it throws kvlab::Error whose message contains every one of `parts`.
inline void ExpectError(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected kvlab::Error containing \"" << (parts.empty() ? "" : parts[0]) << "\"";
  } catch (const kvlab::Error& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message must be one line: " << msg;
  }
}

// GGUF file builder. Version 1 writes u32 lengths/counts/dims; versions 2 and 3 write u64.
class GgufBuilder {
 public:
  explicit GgufBuilder(uint32_t version = 3) : version_(version) {}

  enum Type : uint32_t { kU8, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64 };

  void Len(Bytes& b, uint64_t n) const {
    if (version_ == 1)
      Put(b, static_cast<uint32_t>(n));
    else
      Put(b, n);
  }
  void Str(Bytes& b, const std::string& s) const {
    Len(b, s.size());
    PutBytes(b, s.data(), s.size());
  }
  // Raw key + type; the caller appends the value bytes to kv().
  Bytes& Key(const std::string& key, uint32_t type) {
    ++n_kv_;
    Str(kv_, key);
    Put(kv_, type);
    return kv_;
  }
  void U32(const std::string& k, uint32_t v) { Put(Key(k, kU32), v); }
  void I32(const std::string& k, int32_t v) { Put(Key(k, kI32), v); }
  void F32(const std::string& k, float v) { Put(Key(k, kF32), v); }
  void String(const std::string& k, const std::string& v) { Str(Key(k, kString), v); }
  void StringArray(const std::string& k, const std::vector<std::string>& v) {
    Bytes& b = Key(k, kArray);
    Put(b, uint32_t{kString});
    Len(b, v.size());
    for (const auto& s : v) Str(b, s);
  }
  void F32Array(const std::string& k, const std::vector<float>& v) {
    Bytes& b = Key(k, kArray);
    Put(b, uint32_t{kF32});
    Len(b, v.size());
    for (float f : v) Put(b, f);
  }
  void I32Array(const std::string& k, const std::vector<int32_t>& v) {
    Bytes& b = Key(k, kArray);
    Put(b, uint32_t{kI32});
    Len(b, v.size());
    for (int32_t i : v) Put(b, i);
  }

  // shape in GGUF order (shape[0] = columns). `data` is padded to the alignment in the data section.
  void Tensor(const std::string& name, std::vector<uint64_t> shape, uint32_t ggml_type, Bytes data) {
    tensors_.push_back({name, std::move(shape), ggml_type, std::move(data)});
  }
  void TensorF32(const std::string& name, std::vector<uint64_t> shape, const std::vector<float>& v) {
    Bytes b;
    PutBytes(b, v.data(), v.size() * 4);
    Tensor(name, std::move(shape), 0, std::move(b));
  }

  // Overrides for corruption tests.
  std::optional<uint64_t> n_kv_override, n_tensors_override;
  std::function<uint64_t(size_t index, uint64_t offset)> offset_override;
  uint64_t alignment = 32;

  Bytes Build() const {
    Bytes b;
    PutBytes(b, "GGUF", 4);
    Put(b, version_);
    Len(b, n_tensors_override.value_or(tensors_.size()));
    Len(b, n_kv_override.value_or(n_kv_));
    b.insert(b.end(), kv_.begin(), kv_.end());
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const auto& t = tensors_[i];
      Str(b, t.name);
      Put(b, static_cast<uint32_t>(t.shape.size()));
      for (uint64_t d : t.shape) Len(b, d);
      Put(b, t.ggml_type);
      offsets.push_back(offset);
      Put(b, offset_override ? offset_override(i, offset) : offset);
      offset += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    if (tensors_.empty()) return b;
    b.resize((b.size() + alignment - 1) / alignment * alignment, 0);
    const size_t start = b.size();
    for (size_t i = 0; i < tensors_.size(); ++i) {
      b.resize(start + offsets[i], 0);
      b.insert(b.end(), tensors_[i].data.begin(), tensors_[i].data.end());
    }
    return b;
  }

 private:
  struct T {
    std::string name;
    std::vector<uint64_t> shape;
    uint32_t ggml_type;
    Bytes data;
  };
  uint32_t version_;
  uint64_t n_kv_ = 0;
  Bytes kv_;
  std::vector<T> tensors_;
};

// Deterministic small values for synthetic weights: value i of tensor `salt`.
inline float TestValue(int salt, size_t i) {
  return static_cast<float>(static_cast<int>((i * 7 + salt * 13) % 23) - 11) / 16.0f;
}

inline std::vector<float> TestValues(int salt, size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = TestValue(salt, i);
  return v;
}

}  // namespace kvlab::test
