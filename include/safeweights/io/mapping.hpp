// A read-only memory mapping of a whole file, unmapped on destruction.
//
// If the file is truncated by someone else while mapped, touching the lost
// pages raises SIGBUS: that is how mmap works. For files on shared or
// untrusted storage open with io_mode::pread, which never maps.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "safeweights/io/file_handle.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

class mapping {
 public:
  mapping() = default;
  mapping(mapping&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  mapping& operator=(mapping&& other) noexcept {
    if (this != &other) {
      unmap();
      base_ = std::exchange(other.base_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  mapping(const mapping&) = delete;
  mapping& operator=(const mapping&) = delete;
  ~mapping() { unmap(); }

  // Maps all of `file`. An empty file gives an empty mapping (mmap refuses length 0).
  static result<mapping> map(const file_handle& file) {
    mapping m;
    if (file.size() == 0) return m;
    if (file.size() > static_cast<std::uint64_t>(SIZE_MAX)) return make_error(errc::io_error, "file too large to map");
    void* p = ::mmap(nullptr, static_cast<std::size_t>(file.size()), PROT_READ, MAP_SHARED, file.fd(), 0);
    if (p == MAP_FAILED) return errno_error(errc::io_error, "cannot map");
    m.base_ = static_cast<const std::byte*>(p);
    m.size_ = static_cast<std::size_t>(file.size());
    return m;
  }

  // The mapped file, whole.
  std::span<const std::byte> bytes() const noexcept { return {base_, size_}; }

  // No readahead on faults: each touched page is read alone (a hint; never fails the mapping).
  void advise_random() const noexcept {
    if (base_) ::madvise(const_cast<std::byte*>(base_), size_, MADV_RANDOM);
  }

 private:
  void unmap() noexcept {
    if (base_) ::munmap(const_cast<std::byte*>(base_), size_);
    base_ = nullptr;
    size_ = 0;
  }
  const std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
