// A read-only file with exact positional reads. Everything that touches the
// file by handle goes through here, so errors read alike. POSIX: a file
// descriptor and pread/preadv. Windows: a HANDLE from CreateFileW and
// ReadFile with an OVERLAPPED offset (a positional read that leaves the
// handle's file pointer alone, so threads may read at once).
#pragma once

#ifndef _WIN32
#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include "safeweights/error.hpp"
#include "safeweights/io/platform.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// An error whose message ends with the text of `err` ("what: No such file or directory").
inline error errno_error(errc code, const std::string& what, int err = errno) {
  return make_error(code, what + ": " + std::strerror(err));
}

class file_handle {
 public:
  using native_file = platform::native_file;

  file_handle() = default;
  explicit file_handle(native_file fd) noexcept : fd_(fd) {}
  file_handle(file_handle&& other) noexcept
      : fd_(std::exchange(other.fd_, platform::no_file())), size_(std::exchange(other.size_, 0)) {}
  file_handle& operator=(file_handle&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, platform::no_file());
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  file_handle(const file_handle&) = delete;
  file_handle& operator=(const file_handle&) = delete;
  ~file_handle() { close(); }

#ifndef _WIN32
  // Opens a regular file read-only and records its size. Anything else is
  // refused before a byte is read: opening a FIFO would block until a writer
  // came (O_NONBLOCK keeps open() from waiting; it is cleared again after),
  // and a directory, device or socket is never a weights file.
  static result<file_handle> open_read(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return errno_error(errc::io_error, "cannot open");
    return adopt(fd);
  }

  // Takes ownership of a descriptor someone else opened (a Python file
  // object's, duplicated), with the same checks as open_read: a regular
  // file, read in blocking mode, its size recorded. Closed on any error.
  static result<file_handle> adopt(int fd) {
    file_handle f(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) return errno_error(errc::io_error, "cannot stat");
    if (!S_ISREG(st.st_mode))
      return make_error(errc::io_error, std::string("not a regular file: ") + kind_of(st.st_mode));
    // Clears O_NONBLOCK (open_read's, or the owner's): reads must wait for their bytes.
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
      return errno_error(errc::io_error, "cannot set blocking reads");
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
      if (got == 0) return shrank_at(offset);
      out += got;
      offset += static_cast<std::uint64_t>(got);
      n -= static_cast<std::size_t>(got);
    }
    return {};
  }

  // Reads exactly the file bytes [offset, offset + total of `parts`) into
  // `parts` in order (preadv), retrying short reads. `parts` is consumed.
  result<void> read_exact_v(std::span<platform::io_vec> parts, std::uint64_t offset) const {
    std::size_t first = 0;
    while (first < parts.size()) {
      int count = static_cast<int>(std::min<std::size_t>(parts.size() - first, IOV_MAX));
      ssize_t got = ::preadv(fd_, parts.data() + first, count, static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        return errno_error(errc::io_error, "read failed at byte " + std::to_string(offset));
      }
      if (got == 0) return shrank_at(offset);
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

  // The whole file will be read in no particular order: no readahead (a hint).
  void advise_random() const noexcept { ::posix_fadvise(fd_, 0, 0, POSIX_FADV_RANDOM); }
#else
  // Opens a regular file read-only (CreateFileW, the UTF-8 path converted to
  // UTF-16) and records its size. Others may read it, rename it or replace
  // it meanwhile (FILE_SHARE_READ | FILE_SHARE_DELETE, as on POSIX) but not
  // open it for writing: no one truncates a file this handle reads. A
  // directory, a pipe or a device is refused.
  static result<file_handle> open_read(const std::string& path) {
    const std::wstring wide = platform::utf8_path(path).wstring();
    HANDLE h = ::CreateFileW(wide.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                             FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
      const DWORD err = ::GetLastError();
      const DWORD attributes = ::GetFileAttributesW(wide.c_str());
      if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY))
        return make_error(errc::io_error, "not a regular file: a directory");
      return platform::windows_error(errc::io_error, "cannot open", err);
    }
    return adopt(h);
  }

  // Takes ownership of a HANDLE someone else opened, with open_read's
  // checks: a file on disk, its size recorded. Closed on any error.
  static result<file_handle> adopt(HANDLE h) {
    file_handle f(h);
    const DWORD type = ::GetFileType(h);
    if (type != FILE_TYPE_DISK)
      return make_error(errc::io_error, std::string("not a regular file: ") +
                                            (type == FILE_TYPE_PIPE ? "a pipe" : type == FILE_TYPE_CHAR ? "a character device"
                                                                                                        : "not a file"));
    BY_HANDLE_FILE_INFORMATION info;
    if (!::GetFileInformationByHandle(h, &info)) return platform::windows_error(errc::io_error, "cannot stat");
    if (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) return make_error(errc::io_error, "not a regular file: a directory");
    f.size_ = (static_cast<std::uint64_t>(info.nFileSizeHigh) << 32) | info.nFileSizeLow;
    return f;
  }

  // Reads exactly `n` bytes at `offset` (ReadFile with the offset in an
  // OVERLAPPED: the handle's file pointer is never used), retrying short
  // reads; a file that ends early is an error, not a short read.
  result<void> read_exact(void* dst, std::size_t n, std::uint64_t offset) const {
    auto* out = static_cast<char*>(dst);
    while (n > 0) {
      const DWORD chunk = static_cast<DWORD>(n < (std::size_t{1} << 30) ? n : (std::size_t{1} << 30));
      OVERLAPPED at{};
      at.Offset = static_cast<DWORD>(offset);
      at.OffsetHigh = static_cast<DWORD>(offset >> 32);
      DWORD got = 0;
      if (!::ReadFile(fd_, out, chunk, &got, &at)) {
        const DWORD err = ::GetLastError();
        if (err == ERROR_HANDLE_EOF) return shrank_at(offset);
        return platform::windows_error(errc::io_error, "read failed at byte " + std::to_string(offset), err);
      }
      if (got == 0) return shrank_at(offset);
      out += got;
      offset += got;
      n -= got;
    }
    return {};
  }

  // Reads exactly the file bytes [offset, offset + total of `parts`) into
  // `parts` in order: one positional read each (ReadFileScatter would need
  // unbuffered, page-aligned I/O). `parts` is consumed.
  result<void> read_exact_v(std::span<platform::io_vec> parts, std::uint64_t offset) const {
    for (platform::io_vec& part : parts) {
      if (auto r = read_exact(part.iov_base, part.iov_len, offset); !r) return r;
      offset += part.iov_len;
      part.iov_base = static_cast<char*>(part.iov_base) + part.iov_len;
      part.iov_len = 0;
    }
    return {};
  }

  // A hint with no Windows counterpart for an open handle: nothing.
  void advise_random() const noexcept {}
#endif

  // The handle (a descriptor on POSIX), the size at open, and whether a file is open.
  native_file fd() const noexcept { return fd_; }
  std::uint64_t size() const noexcept { return size_; }
  explicit operator bool() const noexcept { return fd_ != platform::no_file(); }

 private:
#ifndef _WIN32
  static const char* kind_of(mode_t mode) noexcept {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    return "not a file";
  }
#endif
  static error shrank_at(std::uint64_t offset) {
    return make_error(errc::file_changed, "changed while being read: it ended at byte " + std::to_string(offset) +
                                              ", before the size it had when opened");
  }
  void close() noexcept {
#ifdef _WIN32
    if (fd_ != platform::no_file()) ::CloseHandle(fd_);
#else
    if (fd_ >= 0) ::close(fd_);
#endif
    fd_ = platform::no_file();
  }
  native_file fd_ = platform::no_file();
  std::uint64_t size_ = 0;
};

// The whole of a small file (a key, a signature, an index): read through
// file_handle, so a FIFO or a directory is refused, never waited on; errors
// name the file. Files over `limit` bytes are refused unread.
inline result<std::string> read_small_file(const std::string& path, std::uint64_t limit) {
  auto file = file_handle::open_read(path);
  if (!file) return std::move(file).error_value().in(path);
  if (file->size() > limit)
    return make_error(errc::io_error, "is " + std::to_string(file->size()) + " bytes, over the limit of " +
                                          std::to_string(limit) + " for this kind of file")
        .in(path);
  std::string text(static_cast<std::size_t>(file->size()), '\0');
  if (auto r = file->read_exact(text.data(), text.size(), 0); !r) return std::move(r).error_value().in(path);
  return text;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
