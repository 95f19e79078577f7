// Read-only memory map of a whole file. Model weights are views into it (never copied unless converted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace kvlab {

class MappedFile {
 public:
  // Throws kvlab::Error naming the path if it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> Open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Reads a whole (small) text file; throws kvlab::Error naming the path on failure.
std::string ReadTextFile(const std::filesystem::path& path);

}  // namespace kvlab
