// GGUF reader. Layout (all little-endian):
//   "GGUF" u32 version | n_tensors | n_kv | kv pairs | tensor infos | padding to alignment | tensor data
// Version 1 stores counts, string lengths, array lengths and tensor dimensions as u32; versions 2 and 3 use
// u64 for all of them (v3 only adds big-endian files, which kvlab does not read). The file is untrusted
// input: every count is checked against the bytes left before anything is reserved, so a corrupt header
// yields an Error instead of a crash or a multi-gigabyte allocation.
#include "kvlab/io/gguf.h"

#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>

#include "kvlab/util/error.h"

namespace kvlab {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // bytes "GGUF" read as a little-endian u32
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;   // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 4;  // arrays of arrays of ...: bounded so a hostile file cannot recurse deep
constexpr int64_t kMaxDim = int64_t{1} << 40;

// Metadata value types (gguf_type in ggml).
enum ValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

struct GgmlTypeInfo {
  uint32_t id;
  const char* name;
  uint32_t block;  // elements per block
  uint32_t bytes;  // bytes per block
};

// Block geometry of the ggml types we know, so that even tensors kvlab cannot read are bounds-checked.
constexpr GgmlTypeInfo kGgmlTypes[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},      {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},      {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},
    {10, "Q2_K", 256, 84},    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
    {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},   {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},
    {22, "IQ2_S", 256, 82},   {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},        {29, "IQ1_M", 256, 56},
    {30, "BF16", 1, 2},
};

const GgmlTypeInfo* FindGgmlType(uint32_t id) {
  for (const GgmlTypeInfo& t : kGgmlTypes) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

// The ggml types kvlab reads, mapped to its DType (the block-quantized ones are dequantized or repacked
// at load: tensor/ggml_quants.h).
std::optional<DType> SupportedDType(uint32_t id) {
  switch (id) {
    case 0:
      return DType::kF32;
    case 1:
      return DType::kF16;
    case 2:
      return DType::kQ4_0;
    case 3:
      return DType::kQ4_1;
    case 6:
      return DType::kQ5_0;
    case 7:
      return DType::kQ5_1;
    case 8:
      return DType::kQ8_0;
    case 10:
      return DType::kQ2_K;
    case 11:
      return DType::kQ3_K;
    case 12:
      return DType::kQ4_K;
    case 13:
      return DType::kQ5_K;
    case 14:
      return DType::kQ6_K;
    case 30:
      return DType::kBF16;
    default:
      return std::nullopt;
  }
}

// Smallest encoding of one value of a type, used to reject counts that cannot fit in the file.
size_t MinValueBytes(uint32_t type, size_t len_bytes) {
  switch (type) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    case kString:
      return len_bytes;
    case kArray:
      return 4 + len_bytes;
    default:
      return 1;
  }
}

const char* ValueKindName(const GgufValue& v) {
  static const char* const kNames[] = {"unsigned int", "int",       "float",       "bool",           "string",
                                       "string array", "int array", "float array", "array of arrays"};
  return kNames[v.index()];
}

}  // namespace

const char* GgmlTypeName(uint32_t ggml_type) {
  const GgmlTypeInfo* t = FindGgmlType(ggml_type);
  return t != nullptr ? t->name : "unknown";
}

int64_t GgufTensorInfo::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Reads one file into a GgufFile. A cursor over the mapped bytes; every read goes through Take().
class GgufParser {
 public:
  explicit GgufParser(GgufFile& out) : out_(out), data_(out.file_->data()), size_(out.file_->size()) {}

  void Parse() {
    ReadHeader();
    ReadMetadata();
    ReadAlignment();
    ReadTensorInfos();
    PlaceTensors();
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const { throw Error(out_.path_, what); }

  // `what` (+ `suffix`) describes the field for the error message; callers pass strings built once per key,
  // not per array element, so reading a 100k-entry vocabulary does not build 100k messages.
  const uint8_t* Take(size_t n, const std::string& what, const char* suffix = "") {
    if (n > size_ - pos_) {
      Fail("truncated at offset " + std::to_string(pos_) + ": need " + std::to_string(n) + " bytes for " +
           what + suffix + ", file has " + std::to_string(size_ - pos_) + " left");
    }
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  template <typename T>
  T Read(const std::string& what, const char* suffix = "") {
    T v;
    std::memcpy(&v, Take(sizeof(T), what, suffix), sizeof(T));
    return v;
  }

  // Counts and lengths are u32 in GGUF v1 and u64 from v2 on.
  size_t LenBytes() const { return out_.version_ == 1 ? 4 : 8; }
  uint64_t ReadLen(const std::string& what, const char* suffix = "") {
    return out_.version_ == 1 ? Read<uint32_t>(what, suffix) : Read<uint64_t>(what, suffix);
  }

  // A count of items each at least `min_item_bytes` long: rejected if the rest of the file cannot hold them.
  uint64_t ReadCount(const std::string& what, size_t min_item_bytes, const char* suffix = "") {
    const uint64_t n = ReadLen(what, suffix);
    if (min_item_bytes > 0 && n > (size_ - pos_) / min_item_bytes) {
      Fail(what + suffix + " " + std::to_string(n) + " cannot fit in the " + std::to_string(size_ - pos_) +
           " bytes left at offset " + std::to_string(pos_));
    }
    return n;
  }

  std::string ReadString(const std::string& what) {
    const uint64_t n = ReadCount(what, 1, " length");
    const uint8_t* p = Take(n, what);
    return std::string(reinterpret_cast<const char*>(p), n);
  }

  void ReadHeader() {
    if (Read<uint32_t>("magic") != kGgufMagic) Fail("not a GGUF file (bad magic)");
    out_.version_ = Read<uint32_t>("version");
    if (out_.version_ < 1 || out_.version_ > 3) {
      Fail("unsupported GGUF version " + std::to_string(out_.version_) + " (kvlab reads 1, 2 and 3)");
    }
    n_tensors_ = ReadLen("tensor count");
    n_kv_ = ReadLen("metadata count");
  }

  void ReadMetadata() {
    // Each kv is at least a key length and a value type.
    if (n_kv_ > (size_ - pos_) / (LenBytes() + 4)) {
      Fail("metadata count " + std::to_string(n_kv_) + " cannot fit in the file");
    }
    for (uint64_t i = 0; i < n_kv_; ++i) {
      std::string key = ReadString("metadata key #" + std::to_string(i));
      const uint32_t type = Read<uint32_t>("type of metadata " + key);
      GgufValue value = ReadValue(type, key, 0);
      if (!out_.kv_.emplace(key, std::move(value)).second) Fail("duplicate metadata key " + key);
    }
  }

  GgufValue ReadValue(uint32_t type, const std::string& key, int depth) {
    if (type == kArray) return ReadArray(key, depth);
    if (type > kF64) Fail("metadata " + key + " has unknown value type " + std::to_string(type));
    return ReadScalar(type, "value of " + key);
  }

  // One non-array value; `type` is a known scalar type or kString.
  GgufValue ReadScalar(uint32_t type, const std::string& what) {
    switch (type) {
      case kU8:
        return uint64_t{Read<uint8_t>(what)};
      case kU16:
        return uint64_t{Read<uint16_t>(what)};
      case kU32:
        return uint64_t{Read<uint32_t>(what)};
      case kU64:
        return Read<uint64_t>(what);
      case kI8:
        return int64_t{Read<int8_t>(what)};
      case kI16:
        return int64_t{Read<int16_t>(what)};
      case kI32:
        return int64_t{Read<int32_t>(what)};
      case kI64:
        return Read<int64_t>(what);
      case kF32:
        return double{Read<float>(what)};
      case kF64:
        return Read<double>(what);
      case kBool:
        return Read<uint8_t>(what) != 0;
      default:
        return ReadString(what);
    }
  }

  GgufValue ReadArray(const std::string& key, int depth) {
    if (depth >= kMaxArrayDepth) Fail("metadata " + key + " nests arrays too deeply");
    const uint32_t elem = Read<uint32_t>("element type of " + key);
    if (elem > kF64) Fail("metadata " + key + " has unknown array element type " + std::to_string(elem));
    const uint64_t n = ReadCount("array " + key + " length", MinValueBytes(elem, LenBytes()));
    switch (elem) {
      case kString:
        return ReadItems<std::string>(n, elem, key);
      case kF32:
      case kF64:
        return ReadItems<double>(n, elem, key);
      case kArray: {
        GgufArrayList list;
        list.items.reserve(n);
        for (uint64_t i = 0; i < n; ++i) list.items.push_back(ReadArray(key, depth + 1));
        return list;
      }
      default:
        return ReadItems<int64_t>(n, elem, key);  // all integer types and bool
    }
  }

  // n elements of one scalar type, converted to T (int64_t, double or std::string).
  template <typename T>
  std::vector<T> ReadItems(uint64_t n, uint32_t elem, const std::string& key) {
    const std::string what = "element of " + key;
    std::vector<T> items;
    items.reserve(n);  // safe: ReadCount proved n items fit in the file
    for (uint64_t i = 0; i < n; ++i) {
      GgufValue v = ReadScalar(elem, what);
      if constexpr (std::is_same_v<T, int64_t>) {
        if (auto* u = std::get_if<uint64_t>(&v))
          items.push_back(static_cast<int64_t>(*u));
        else if (auto* b = std::get_if<bool>(&v))
          items.push_back(*b ? 1 : 0);
        else
          items.push_back(std::get<int64_t>(v));
      } else {
        items.push_back(std::get<T>(std::move(v)));
      }
    }
    return items;
  }

  void ReadAlignment() {
    out_.alignment_ = kDefaultAlignment;
    if (!out_.Has("general.alignment")) return;
    const int64_t a = out_.GetInt("general.alignment");
    if (a <= 0 || (a & (a - 1)) != 0 || a > (1 << 20)) {
      Fail("general.alignment must be a power of two, got " + std::to_string(a));
    }
    out_.alignment_ = static_cast<uint64_t>(a);
  }

  void ReadTensorInfos() {
    const size_t min_info = LenBytes() + 4 + 4 + 8;  // name length, n_dims, type, offset
    if (n_tensors_ > (size_ - pos_) / min_info) {
      Fail("tensor count " + std::to_string(n_tensors_) + " cannot fit in the file");
    }
    out_.tensors_.reserve(n_tensors_);
    for (uint64_t i = 0; i < n_tensors_; ++i) {
      out_.tensors_.push_back(ReadTensorInfo(i));
      if (!out_.tensor_index_.emplace(out_.tensors_.back().name, i).second) {
        Fail("duplicate tensor name " + out_.tensors_.back().name);
      }
    }
  }

  GgufTensorInfo ReadTensorInfo(uint64_t index) {
    GgufTensorInfo t;
    t.name = ReadString("tensor name #" + std::to_string(index));
    const uint32_t n_dims = Read<uint32_t>("dimension count of tensor " + t.name);
    if (n_dims < 1 || n_dims > kMaxDims) {
      Fail("tensor " + t.name + " has " + std::to_string(n_dims) + " dimensions (expected 1 to 4)");
    }
    int64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = ReadLen("shape of tensor " + t.name);
      if (dim == 0 || dim > static_cast<uint64_t>(kMaxDim) ||
          elements > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(dim) / 64) {
        Fail("tensor " + t.name + " has an invalid dimension " + std::to_string(dim));
      }
      t.shape.push_back(static_cast<int64_t>(dim));
      elements *= static_cast<int64_t>(dim);
    }
    t.ggml_type = Read<uint32_t>("type of tensor " + t.name);
    offsets_.push_back(Read<uint64_t>("data offset of tensor " + t.name));
    return t;
  }

  // Tensor data starts at the first aligned offset after the infos; each tensor's offset is relative to it.
  void PlaceTensors() {
    if (out_.tensors_.empty()) return;  // vocab-only files may end without the final padding
    const uint64_t align = out_.alignment_;
    const uint64_t start = (pos_ + align - 1) / align * align;
    if (start > size_)
      Fail("tensor data section starts at " + std::to_string(start) + ", past the end of the file");
    for (size_t i = 0; i < out_.tensors_.size(); ++i) PlaceTensor(out_.tensors_[i], offsets_[i], start);
  }

  void PlaceTensor(GgufTensorInfo& t, uint64_t offset, uint64_t start) {
    if (offset % out_.alignment_ != 0) {
      Fail("tensor " + t.name + " data offset " + std::to_string(offset) + " is not aligned to " +
           std::to_string(out_.alignment_));
    }
    if (offset > size_ - start)
      Fail("tensor " + t.name + " data offset " + std::to_string(offset) + " is past the end of the file");
    t.data = data_ + start + offset;
    if (auto dtype = SupportedDType(t.ggml_type)) {
      t.supported = true;
      t.dtype = *dtype;
    }
    const GgmlTypeInfo* type = FindGgmlType(t.ggml_type);
    if (type == nullptr) return;  // unknown geometry: listed, never readable
    if (t.shape[0] % type->block != 0) {
      Fail("tensor " + t.name + " row length " + std::to_string(t.shape[0]) + " is not a multiple of the " +
           type->name + " block size " + std::to_string(type->block));
    }
    t.nbytes = static_cast<size_t>(t.NumElements() / type->block * type->bytes);
    if (t.nbytes > size_ - start - offset) {
      Fail("tensor " + t.name + " (" + std::to_string(t.nbytes) + " bytes at offset " +
           std::to_string(start + offset) + ") extends past the end of the file (" + std::to_string(size_) +
           " bytes)");
    }
  }

  GgufFile& out_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
  std::vector<uint64_t> offsets_;  // [n_tensors] raw offsets, placed once the data start is known
};

GgufFile GgufFile::Open(const std::filesystem::path& path) {
  GgufFile f;
  f.file_ = MappedFile::Open(path);
  f.path_ = path.string();
  GgufParser(f).Parse();
  return f;
}

namespace {

template <typename T>
const T& GetAs(const std::map<std::string, GgufValue>& kv, const std::string& path, const std::string& key,
               const char* expected) {
  auto it = kv.find(key);
  if (it == kv.end()) throw Error(path, "metadata " + key + " missing");
  const T* v = std::get_if<T>(&it->second);
  if (v == nullptr) {
    throw Error(path,
                "metadata " + key + " has type " + ValueKindName(it->second) + ", expected " + expected);
  }
  return *v;
}

}  // namespace

std::string GgufFile::GetString(const std::string& key) const {
  return GetAs<std::string>(kv_, path_, key, "string");
}

int64_t GgufFile::GetInt(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) throw Error(path_, "metadata " + key + " missing");
  if (auto* i = std::get_if<int64_t>(&it->second)) return *i;
  if (auto* u = std::get_if<uint64_t>(&it->second)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw Error(path_, "metadata " + key + " value " + std::to_string(*u) + " is out of range");
    }
    return static_cast<int64_t>(*u);
  }
  throw Error(path_, "metadata " + key + " has type " + ValueKindName(it->second) + ", expected an integer");
}

double GgufFile::GetFloat(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) throw Error(path_, "metadata " + key + " missing");
  if (auto* d = std::get_if<double>(&it->second)) return *d;
  if (std::holds_alternative<int64_t>(it->second) || std::holds_alternative<uint64_t>(it->second)) {
    return static_cast<double>(GetInt(key));
  }
  throw Error(path_, "metadata " + key + " has type " + ValueKindName(it->second) + ", expected a number");
}

const std::vector<std::string>& GgufFile::GetStringArray(const std::string& key) const {
  return GetAs<std::vector<std::string>>(kv_, path_, key, "string array");
}

const std::vector<int64_t>& GgufFile::GetIntArray(const std::string& key) const {
  return GetAs<std::vector<int64_t>>(kv_, path_, key, "int array");
}

const std::vector<double>& GgufFile::GetFloatArray(const std::string& key) const {
  return GetAs<std::vector<double>>(kv_, path_, key, "float array");
}

std::optional<int64_t> GgufFile::FindInt(const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  return GetInt(key);
}

std::optional<double> GgufFile::FindFloat(const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  return GetFloat(key);
}

std::optional<std::string> GgufFile::FindString(const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  return GetString(key);
}

const GgufTensorInfo* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  if (it == tensor_index_.end()) return nullptr;
  const GgufTensorInfo& t = tensors_[it->second];
  if (!t.supported) {
    throw Error(path_,
                "tensor " + name + ": unsupported tensor type " + std::to_string(t.ggml_type) + " (" +
                    GgmlTypeName(t.ggml_type) + ")",
                "kvlab reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and Q2_K to Q6_K GGUF tensors");
  }
  return &t;
}

}  // namespace kvlab
