#include "kvlab/util/huge_pages.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "kvlab/util/error.h"

namespace kvlab {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

HugePageBuffer::HugePageBuffer(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  // Over-map by one huge page so a 2 MiB-aligned range of `bytes` fits: THP only backs aligned ranges.
  mapping_bytes_ = bytes + kHugePage;
  mapping_ = ::mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) {
    mapping_ = nullptr;
    throw Error("memory", "cannot map " + std::to_string(bytes >> 20) + " MiB: " + std::strerror(errno));
  }
  const uintptr_t start = reinterpret_cast<uintptr_t>(mapping_);
  data_ = reinterpret_cast<void*>((start + kHugePage - 1) & ~(kHugePage - 1));
  ::madvise(data_, bytes, MADV_HUGEPAGE);
}

HugePageBuffer::~HugePageBuffer() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_bytes_);
}

HugePageBuffer::HugePageBuffer(HugePageBuffer&& o) noexcept
    : mapping_(std::exchange(o.mapping_, nullptr)),
      mapping_bytes_(std::exchange(o.mapping_bytes_, 0)),
      data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& o) noexcept {
  if (this != &o) {
    if (mapping_ != nullptr) ::munmap(mapping_, mapping_bytes_);
    mapping_ = std::exchange(o.mapping_, nullptr);
    mapping_bytes_ = std::exchange(o.mapping_bytes_, 0);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

void* AllocateHugePageAware(size_t bytes) {
  if (bytes < kHugePage) return ::operator new(bytes);
  const size_t rounded = (bytes + kHugePage - 1) & ~(kHugePage - 1);
  void* p = std::aligned_alloc(kHugePage, rounded);
  if (p == nullptr) throw std::bad_alloc();
  ::madvise(p, rounded, MADV_HUGEPAGE);
  return p;
}

void FreeHugePageAware(void* p, size_t bytes) noexcept {
  if (bytes < kHugePage) {
    ::operator delete(p);
  } else {
    std::free(p);
  }
}

}  // namespace kvlab
