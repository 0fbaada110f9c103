// Atomic replace: write to a temporary file beside the target, fsync, rename
// over the target, fsync the directory. Until commit() the target is never
// touched, so a crash or an error leaves the old file whole; a destroyed,
// uncommitted atomic_file removes its temporary. Renaming (never truncating)
// also keeps every existing mapping of the old file valid.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "safeweights/io/file_handle.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

inline std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The mode a new file gets from open(..., 0666): 0666 minus the umask, read
// without changing it (umask() would race with other threads).
inline mode_t new_file_mode() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(0666 & ~std::strtoul(line.c_str() + 6, nullptr, 8));
  return 0644;
}

}  // namespace detail

class atomic_file {
 public:
  static result<atomic_file> create(const std::string& path) {
    atomic_file f;
    f.target_ = path;
    auto slash = path.find_last_of('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.empty()) return make_error(errc::invalid_argument, path + ": not a file name");
    f.temp_ = detail::parent_dir(path) + "/." + base + ".tmp-XXXXXX";
    int fd = ::mkostemp(f.temp_.data(), O_CLOEXEC);
    if (fd < 0) {
      f.temp_.clear();
      return errno_error(errc::write_failed, path + ": cannot create a temporary file beside it");
    }
    f.fd_ = fd;
    struct stat st;
    mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : detail::new_file_mode();
    ::fchmod(fd, mode);
    return f;
  }

  atomic_file(atomic_file&& o) noexcept
      : target_(std::move(o.target_)), temp_(std::move(o.temp_)), fd_(std::exchange(o.fd_, -1)) {
    o.temp_.clear();
  }
  atomic_file& operator=(atomic_file&&) = delete;
  atomic_file(const atomic_file&) = delete;
  ~atomic_file() { abandon(); }

  // The temporary file to write to, and the path it will replace.
  int fd() const noexcept { return fd_; }
  const std::string& target() const noexcept { return target_; }

  // Makes the written bytes durable and puts them in place of the target.
  result<void> commit() {
    if (::fsync(fd_) != 0) return fail("cannot sync");
    int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) return fail("cannot close");
    if (::rename(temp_.c_str(), target_.c_str()) != 0) return fail("cannot rename into place");
    temp_.clear();
    int dir = ::open(detail::parent_dir(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);  // best effort: the rename is done either way
      ::close(dir);
    }
    return {};
  }

  // Drops the temporary; the target is untouched.
  void abandon() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!temp_.empty()) ::unlink(temp_.c_str());
    temp_.clear();
  }

 private:
  atomic_file() = default;
  error fail(const char* what) {
    error e = errno_error(errc::write_failed, target_ + ": " + what);
    abandon();
    return e;
  }

  std::string target_;
  std::string temp_;
  int fd_ = -1;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
