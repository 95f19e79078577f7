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

// std::allocator for big growable arrays (the KV cache): allocations of 2 MiB or more are 2 MiB-aligned
// and madvised for huge pages, for the same TLB reason as the weights (measured: attention reading an f32
// cache at context 1024 went from ~19 to ~28 GB/s). Smaller ones come from operator new.
void* AllocateHugePageAware(size_t bytes);
void FreeHugePageAware(void* p, size_t bytes) noexcept;

template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(AllocateHugePageAware(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { FreeHugePageAware(p, n * sizeof(T)); }
  friend bool operator==(const HugePageAllocator&, const HugePageAllocator&) { return true; }
};

}  // namespace kvlab
