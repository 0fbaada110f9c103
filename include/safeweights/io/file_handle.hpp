// A read-only file descriptor with exact positional reads. Everything that
// touches the file by descriptor goes through here, so errors read alike.
#pragma once

#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include "safeweights/error.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// An error whose message ends with the text of `err` ("what: No such file or directory").
inline error errno_error(errc code, const std::string& what, int err = errno) {
  return make_error(code, what + ": " + std::strerror(err));
}

class file_handle {
 public:
  file_handle() = default;
  explicit file_handle(int fd) noexcept : fd_(fd) {}
  file_handle(file_handle&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), size_(std::exchange(other.size_, 0)) {}
  file_handle& operator=(file_handle&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  file_handle(const file_handle&) = delete;
  file_handle& operator=(const file_handle&) = delete;
  ~file_handle() { close(); }

  // Opens a regular file read-only and records its size.
  static result<file_handle> open_read(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_error(errc::io_error, "cannot open");
    file_handle f(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) return errno_error(errc::io_error, "cannot stat");
    if (!S_ISREG(st.st_mode)) return make_error(errc::io_error, "not a regular file");
    f.size_ = static_cast<std::uint64_t>(st.st_size);
    return f;
  }

  // Reads exactly `n` bytes at `offset`, retrying short reads; a file that
  // ends early (it shrank since it was opened) is an error, not a short read.
  result<void> read_exact(void* dst, std::size_t n, std::uint64_t offset) const {
    auto* out = static_cast<char*>(dst);
    while (n > 0) {
      std::size_t chunk = n < (std::size_t{1} << 30) ? n : (std::size_t{1} << 30);
      ssize_t got = ::pread(fd_, out, chunk, static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        return errno_error(errc::io_error, "read failed at byte " + std::to_string(offset));
      }
      if (got == 0)
        return make_error(errc::data_truncated, "file ended at byte " + std::to_string(offset) +
                                                    " (it shrank after it was opened?)");
      out += got;
      offset += static_cast<std::uint64_t>(got);
      n -= static_cast<std::size_t>(got);
    }
    return {};
  }

  // Reads exactly the file bytes [offset, offset + total of `parts`) into
  // `parts` in order (preadv), retrying short reads. `parts` is consumed.
  result<void> read_exact_v(std::span<iovec> parts, std::uint64_t offset) const {
    std::size_t first = 0;
    while (first < parts.size()) {
      int count = static_cast<int>(std::min<std::size_t>(parts.size() - first, IOV_MAX));
      ssize_t got = ::preadv(fd_, parts.data() + first, count, static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        return errno_error(errc::io_error, "read failed at byte " + std::to_string(offset));
      }
      if (got == 0)
        return make_error(errc::data_truncated, "file ended at byte " + std::to_string(offset) +
                                                    " (it shrank after it was opened?)");
      offset += static_cast<std::uint64_t>(got);
      auto left = static_cast<std::size_t>(got);
      while (first < parts.size() && left >= parts[first].iov_len) left -= parts[first++].iov_len;
      if (left) {
        parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + left;
        parts[first].iov_len -= left;
      }
    }
    return {};
  }

  // The descriptor, the size at open, and whether a file is open.
  int fd() const noexcept { return fd_; }
  std::uint64_t size() const noexcept { return size_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
