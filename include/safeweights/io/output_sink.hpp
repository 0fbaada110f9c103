// Where the writer's bytes go: a file descriptor (small pieces gathered into
// one buffer, large ones written straight through) or a vector in memory.
// Tools that stream their own output through a descriptor use fd_sink too.
// (On Windows the descriptor is a HANDLE, written with WriteFile.)
#pragma once

#ifndef _WIN32
#include <unistd.h>
#endif

#include <cerrno>
#include <cstring>
#include <span>
#include <vector>

#include "safeweights/io/file_handle.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
class fd_sink {
 public:
  static constexpr std::size_t buffer_size = std::size_t{1} << 20;
  explicit fd_sink(platform::native_file fd) : fd_(fd) { buffer_.reserve(buffer_size); }

  result<void> write(std::span<const std::byte> bytes) {
    if (buffer_.size() + bytes.size() <= buffer_size) {
      buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
      return {};
    }
    if (auto r = flush(); !r) return r;
    if (bytes.size() < buffer_size) {
      buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
      return {};
    }
    return write_all(bytes);
  }

  result<void> flush() {
    auto r = write_all(buffer_);
    buffer_.clear();
    return r;
  }

 private:
  result<void> write_all(std::span<const std::byte> bytes) {
    const std::byte* p = bytes.data();
    std::size_t n = bytes.size();
    while (n > 0) {
#ifdef _WIN32
      DWORD w = 0;
      if (!::WriteFile(fd_, p, static_cast<DWORD>(n < (std::size_t{1} << 30) ? n : (std::size_t{1} << 30)), &w, nullptr))
        return platform::windows_error(errc::write_failed, "write failed");
#else
      ssize_t w = ::write(fd_, p, n < (std::size_t{1} << 30) ? n : (std::size_t{1} << 30));
      if (w < 0) {
        if (errno == EINTR) continue;
        // The bytes to write were in a mapping whose file shrank: the kernel
        // could not read them (where a load would have raised SIGBUS).
        if (errno == EFAULT)
          return make_error(errc::file_changed, "the input changed while being read: the bytes to write lie in "
                                                "a mapped file that shrank; nothing was written");
        return errno_error(errc::write_failed, "write failed");
      }
#endif
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return {};
  }

  platform::native_file fd_;
  std::vector<std::byte> buffer_;
};

struct vector_sink {
  std::vector<std::byte> bytes;
  result<void> write(std::span<const std::byte> b) {
    bytes.insert(bytes.end(), b.begin(), b.end());
    return {};
  }
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
