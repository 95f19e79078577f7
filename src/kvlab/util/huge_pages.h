// Large read-mostly buffers backed by transparent huge pages where the kernel allows it.
//
// Why: decode streams every weight once per token. With 4 KiB pages a 440 MB model spans ~110k pages and
// the page walks of the TLB misses cost a third of the achievable bandwidth (measured: a file mmap reached
// ~46% of the read-bandwidth bound on one core, the same weights in huge-page memory ~80%).
#pragma once

#include <cstddef>
#include <memory>

namespace kvlab {

class HugePageBuffer {
 public:
  HugePageBuffer() = default;
  // Anonymous, zero-filled, 2 MiB-aligned; asks for huge pages with madvise (harmless if refused).
  // Throws kvlab::Error if the memory cannot be mapped.
  explicit HugePageBuffer(size_t bytes);
  ~HugePageBuffer();
  HugePageBuffer(HugePageBuffer&& other) noexcept;
  HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* mapping_ = nullptr;  // what mmap returned (unaligned)
  size_t mapping_bytes_ = 0;
  void* data_ = nullptr;     // 2 MiB-aligned start inside the mapping
  size_t size_ = 0;
};

}  // namespace kvlab
