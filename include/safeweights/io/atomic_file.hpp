// Atomic replace: write to a temporary file beside the target, fsync, rename
// over the target, fsync the directory. Until commit() the target is never
// touched, so a crash or an error leaves the old file whole; a destroyed,
// uncommitted atomic_file removes its temporary. Renaming (never truncating)
// also keeps every existing mapping of the old file valid.
//
// The temporary is `.NAME.tmp-XXXXXX` (NAME cut short when the whole would
// pass the 255-byte name limit), held under an exclusive flock while it is
// written and listed for remove_temporary_files() (io/temporary_files.hpp),
// so a signal handler can remove it and stale_temporaries() can tell one
// left by a killed process from one being written.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "safeweights/io/file_handle.hpp"
#include "safeweights/io/temporary_files.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// The directory holding `path` ("." for a bare name): where its temporary
// goes and which directory is synced after the rename.
inline std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

namespace detail {
inline constexpr std::string_view temporary_marker = ".tmp-";
inline constexpr std::size_t name_max = 255;
// What a temporary's name adds to its output's: the leading '.', the marker, six random characters.
inline constexpr std::size_t temporary_extra = 1 + temporary_marker.size() + 6;
}  // namespace detail

// The temporary's name for an output named `base`, ending in "XXXXXX" for
// mkostemp to fill: hidden, marked, and never over the name limit, even when
// `base` is at it.
inline std::string temporary_name(std::string_view base) {
  if (base.size() + detail::temporary_extra > detail::name_max) {
    base = base.substr(0, detail::name_max - detail::temporary_extra);
    while (!base.empty() && (static_cast<unsigned char>(base.back()) & 0xC0) == 0x80) base.remove_suffix(1);
    if (!base.empty() && static_cast<unsigned char>(base.back()) >= 0xC0) base.remove_suffix(1);  // a cut lead byte
  }
  std::string name = ".";
  name += base;
  name += detail::temporary_marker;
  name += "XXXXXX";
  return name;
}

namespace detail {

// The mode a new file gets from open(..., 0666): 0666 minus the umask, read
// without changing it (umask() would race with other threads).
inline mode_t new_file_mode() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(0666 & ~std::strtoul(line.c_str() + 6, nullptr, 8));
  return 0644;
}

inline bool looks_temporary(std::string_view name) {
  return name.size() > temporary_extra && name.front() == '.' &&
         name.substr(name.size() - 6 - temporary_marker.size(), temporary_marker.size()) == temporary_marker;
}

// The mode the output gets: that of the file it replaces, but only its
// permission bits (never set-id or sticky) and only when the caller owns a
// regular file there; otherwise what a new file gets. lstat: a symlink
// planted at the target lends nothing.
inline mode_t output_mode(const std::string& target) {
  struct stat st;
  if (::lstat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) return st.st_mode & 0777;
  return new_file_mode();
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
    f.temp_ = parent_dir(path) + "/" + temporary_name(base);
    int fd = -1;
    f.listing_ = listed_temporary::created(f.temp_, listed_temporary::kind::file, [&] {
      fd = ::mkostemp(f.temp_.data(), O_CLOEXEC);
      return fd >= 0;
    });
    if (fd < 0) {
      f.temp_.clear();
      return errno_error(errc::write_failed, path + ": cannot create a temporary file beside it");
    }
    f.fd_ = fd;
    ::flock(fd, LOCK_EX | LOCK_NB);  // marks it live for stale_temporaries(); a hint only
    ::fchmod(fd, detail::output_mode(path));
    return f;
  }

  // Temporaries in `dir` that no process is writing: left by a process that
  // was killed (SIGKILL, a power cut) before it could remove them. Files, and
  // directories staged the same way (their writers hold the same lock).
  // Their paths, sorted, for the caller to show or remove.
  static result<std::vector<std::string>> stale_temporaries(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return errno_error(errc::io_error, dir + ": cannot list the directory");
    std::vector<std::string> stale;
    while (const dirent* e = ::readdir(d)) {
      std::string_view name(e->d_name);
      if (!detail::looks_temporary(name)) continue;
      std::string path = dir + "/" + std::string(name);
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
      if (fd < 0) continue;
      struct stat st;
      // A writer holds the lock for as long as its temporary lives.
      if (::fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) && ::flock(fd, LOCK_EX | LOCK_NB) == 0)
        stale.push_back(path);
      ::close(fd);
    }
    ::closedir(d);
    std::sort(stale.begin(), stale.end());
    return stale;
  }

  atomic_file(atomic_file&& o) noexcept
      : target_(std::move(o.target_)),
        temp_(std::move(o.temp_)),
        fd_(std::exchange(o.fd_, -1)),
        listing_(std::move(o.listing_)) {
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
    listing_.release();
    int dir = ::open(parent_dir(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
    listing_.release();
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
  listed_temporary listing_;  // where a signal handler finds the temporary
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
