// Owned memory aligned to 64 bytes (a cache line, any SIMD register). Large
// buffers come straight from mmap and ask for transparent huge pages, which
// halves the cost of first-touching them when a tensor is read in.
#pragma once

#include "safeweights/io/platform.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <utility>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

class aligned_buffer {
 public:
  static constexpr std::size_t alignment = 64;
  static constexpr std::size_t huge_threshold = std::size_t{2} << 20;

  aligned_buffer() = default;
  // Uninitialised memory; throws std::bad_alloc when none is to be had.
  explicit aligned_buffer(std::size_t size) : size_(size) {
    if (size == 0) return;
    if (size >= huge_threshold) {
      // Over-allocate by one huge page so the start can sit on a 2 MiB boundary.
      mapped_size_ = size + huge_threshold;
      void* p = platform::map_pages(mapped_size_);
      if (!p) throw std::bad_alloc();
      mapped_base_ = p;
      auto addr = reinterpret_cast<std::uintptr_t>(p);
      auto aligned = (addr + huge_threshold - 1) & ~(huge_threshold - 1);
      data_ = reinterpret_cast<std::byte*>(aligned);
      platform::advise_huge_pages(data_, size);
    } else {
      data_ = static_cast<std::byte*>(::operator new(size, std::align_val_t(alignment)));
    }
  }
  aligned_buffer(aligned_buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        mapped_base_(std::exchange(o.mapped_base_, nullptr)),
        mapped_size_(std::exchange(o.mapped_size_, 0)) {}
  aligned_buffer& operator=(aligned_buffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      mapped_base_ = std::exchange(o.mapped_base_, nullptr);
      mapped_size_ = std::exchange(o.mapped_size_, 0);
    }
    return *this;
  }
  aligned_buffer(const aligned_buffer&) = delete;
  aligned_buffer& operator=(const aligned_buffer&) = delete;
  ~aligned_buffer() { release(); }

  // The memory: size() bytes from data(), 64-byte aligned.
  std::byte* data() noexcept { return data_; }
  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::span<std::byte> bytes() noexcept { return {data_, size_}; }
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

 private:
  void release() noexcept {
    if (mapped_base_) {
      platform::unmap_pages(mapped_base_, mapped_size_);
    } else if (data_) {
      ::operator delete(data_, std::align_val_t(alignment));
    }
    data_ = nullptr;
    mapped_base_ = nullptr;
    size_ = mapped_size_ = 0;
  }
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  void* mapped_base_ = nullptr;
  std::size_t mapped_size_ = 0;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
