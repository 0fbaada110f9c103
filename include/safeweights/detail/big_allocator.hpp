// An allocator for the index's large arrays: from 2 MiB up it maps memory
// itself and asks for transparent huge pages, so a 100,000-tensor header
// costs a handful of page faults instead of thousands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "safeweights/io/platform.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

inline void* allocate_big(std::size_t bytes, std::size_t align) {
  if (bytes < huge_page_bytes) return ::operator new(bytes, std::align_val_t(align));
  // Round up to whole huge pages; mmap gives page alignment, and the kernel
  // backs every aligned 2 MiB run inside the range with a huge page.
  std::size_t size = (bytes + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
  void* p = platform::map_pages(size);
  if (!p) throw std::bad_alloc();
  platform::advise_huge_pages(p, size);
  return p;
}

// The same, zero-filled: mapped memory is zero already, and its untouched
// pages cost nothing, so a generously sized table is cheap.
inline void* allocate_big_zeroed(std::size_t bytes, std::size_t align) {
  void* p = allocate_big(bytes, align);
  if (bytes < huge_page_bytes) std::memset(p, 0, bytes);
  return p;
}

inline void free_big(void* p, std::size_t bytes, std::size_t align) noexcept {
  if (!p) return;
  if (bytes < huge_page_bytes) {
    ::operator delete(p, std::align_val_t(align));
    return;
  }
  platform::unmap_pages(p, (bytes + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes);
}

template <class T>
struct big_allocator {
  using value_type = T;
  big_allocator() = default;
  template <class U>
  big_allocator(const big_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(allocate_big(n * sizeof(T), alignof(T) < 16 ? 16 : alignof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { free_big(p, n * sizeof(T), alignof(T) < 16 ? 16 : alignof(T)); }
  template <class U>
  bool operator==(const big_allocator<U>&) const noexcept { return true; }
};

template <class T>
using big_vector = std::vector<T, big_allocator<T>>;

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
