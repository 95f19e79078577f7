// Safetensors reader and writer.
//
// File layout: u64 little-endian header length N | N bytes of JSON | tensor data.
// The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// data section) plus an optional "__metadata__" object of string -> string.
// Sharded checkpoints add model.safetensors.index.json whose "weight_map" maps tensor name -> shard file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kvlab/tensor/dtype.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {

// A tensor as stored: a view into the mapped file.
struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major, as PyTorch wrote it
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // path of the file that holds it (for error messages)
  int64_t NumElements() const;
};

// One .safetensors file. Reads F32, F16 and BF16; any other dtype is rejected at Open with the tensor's name.
class SafetensorsFile {
 public:
  // Throws kvlab::Error naming the file: too small, header length outside the file, malformed JSON,
  // unsupported dtype, shape/offset mismatch, data outside the file, overlapping tensors.
  static SafetensorsFile Open(const std::filesystem::path& path);

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // "__metadata__"
  const SafetensorsTensor* Find(const std::string& name) const;                     // nullptr if absent
  const std::shared_ptr<MappedFile>& file() const { return file_; }

 private:
  std::shared_ptr<MappedFile> file_;
  std::string path_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// All tensors of a Hugging Face checkpoint directory: model.safetensors, or the shards listed in
// model.safetensors.index.json.
class SafetensorsCheckpoint {
 public:
  // Throws kvlab::Error if the directory has neither file, or the index names a missing shard or tensor.
  static SafetensorsCheckpoint OpenDirectory(const std::filesystem::path& dir);

  // nullptr if absent. A name that __metadata__ maps to another tensor (transformers' record of a tied
  // tensor it did not save) resolves to that tensor.
  const SafetensorsTensor* Find(const std::string& name) const;
  const std::vector<SafetensorsFile>& shards() const { return shards_; }
  // Where errors about a tensor should point: the file holding it, else the checkpoint's main file.
  std::string Describe() const { return describe_; }
  std::vector<std::shared_ptr<MappedFile>> MappedFiles() const;

 private:
  std::vector<SafetensorsFile> shards_;
  std::string describe_;
};

// One tensor to write. `fill` writes exactly DTypeBytes(dtype, elements) bytes into `out`; it is called once,
// in order, so a writer of a large model holds only one tensor in memory at a time.
struct SafetensorsWriteSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::function<void(std::span<uint8_t> out)> fill;
};

// Writes `path` atomically: everything goes to "<path>.tmp", which is renamed over `path` only once complete
// (and removed on failure), so a crash or a full disk never leaves a half-written checkpoint behind.
void WriteSafetensors(const std::filesystem::path& path, const std::vector<SafetensorsWriteSpec>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Convenience for small tensors already in memory (tests): copies `nbytes` from `data`.
SafetensorsWriteSpec SafetensorsBytes(std::string name, DType dtype, std::vector<int64_t> shape,
                                      const void* data);

// "F32", "F16", "BF16" as safetensors spells them.
const char* SafetensorsDTypeName(DType t);

}  // namespace kvlab
