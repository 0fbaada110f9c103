// A memory mapping of a whole file, unmapped on destruction: read-only and
// shared, or copy-on-write (private and writable: a page is copied when first
// written, and no write ever reaches the file).
//
// If the file is truncated by someone else while mapped, touching the lost
// pages raises SIGBUS: that is how mmap works. For files on shared or
// untrusted storage open with io_mode::pread, which never maps. (Windows
// refuses to truncate a mapped file, so there it cannot happen.)
//
// POSIX: mmap. Windows: CreateFileMappingW and MapViewOfFile (FILE_MAP_COPY
// for copy-on-write); the mapping object is closed at once, the view keeps it.
#pragma once

#ifndef _WIN32
#include <sys/mman.h>
#endif

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
      : base_(std::exchange(other.base_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        writable_(std::exchange(other.writable_, false)) {}
  mapping& operator=(mapping&& other) noexcept {
    if (this != &other) {
      unmap();
      base_ = std::exchange(other.base_, nullptr);
      size_ = std::exchange(other.size_, 0);
      writable_ = std::exchange(other.writable_, false);
    }
    return *this;
  }
  mapping(const mapping&) = delete;
  mapping& operator=(const mapping&) = delete;
  ~mapping() { unmap(); }

  enum class access : std::uint8_t { read_only, copy_on_write };

  // Maps all of `file`. An empty file gives an empty mapping (mmap refuses length 0).
  static result<mapping> map(const file_handle& file, access how = access::read_only) {
    mapping m;
    if (file.size() == 0) return m;
    if (file.size() > static_cast<std::uint64_t>(SIZE_MAX)) return make_error(errc::io_error, "file too large to map");
    const bool private_copy = how == access::copy_on_write;
#ifdef _WIN32
    HANDLE section = ::CreateFileMappingW(file.fd(), nullptr, private_copy ? PAGE_WRITECOPY : PAGE_READONLY, 0, 0, nullptr);
    if (!section) return platform::windows_error(errc::io_error, "cannot map");
    void* p = ::MapViewOfFile(section, private_copy ? FILE_MAP_COPY : FILE_MAP_READ, 0, 0,
                              static_cast<std::size_t>(file.size()));
    const DWORD err = ::GetLastError();
    ::CloseHandle(section);
    if (!p) return platform::windows_error(errc::io_error, "cannot map", err);
#else
    void* p = ::mmap(nullptr, static_cast<std::size_t>(file.size()), private_copy ? PROT_READ | PROT_WRITE : PROT_READ,
                     private_copy ? MAP_PRIVATE : MAP_SHARED, file.fd(), 0);
    if (p == MAP_FAILED) return errno_error(errc::io_error, "cannot map");
#endif
    m.base_ = static_cast<std::byte*>(p);
    m.size_ = static_cast<std::size_t>(file.size());
    m.writable_ = private_copy;
    return m;
  }

  // The mapped file, whole.
  std::span<const std::byte> bytes() const noexcept { return {base_, size_}; }
  // The same bytes for writing, in a copy-on-write mapping; empty otherwise.
  std::span<std::byte> writable_bytes() const noexcept {
    return writable_ ? std::span<std::byte>(base_, size_) : std::span<std::byte>();
  }

  // No readahead on faults: each touched page is read alone (a hint; never
  // fails the mapping; nothing on Windows, which has no such advice).
  void advise_random() const noexcept {
#ifndef _WIN32
    if (base_) ::madvise(base_, size_, MADV_RANDOM);
#endif
  }

  // The granularity of a mapping: past the end of the file, the rest of its
  // last page reads as zeros.
  static std::size_t page_size() noexcept {
    static const std::size_t page = platform::page_size();
    return page;
  }

 private:
  void unmap() noexcept {
#ifdef _WIN32
    if (base_) ::UnmapViewOfFile(base_);
#else
    if (base_) ::munmap(base_, size_);
#endif
    base_ = nullptr;
    size_ = 0;
    writable_ = false;
  }
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  bool writable_ = false;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
