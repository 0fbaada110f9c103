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
//
// Windows: the temporary is created with CreateFileW(CREATE_NEW) and no
// sharing (what marks it live there), flushed with FlushFileBuffers, and
// put in place with MoveFileExW(MOVEFILE_REPLACE_EXISTING |
// MOVEFILE_WRITE_THROUGH). Windows will not replace a file that is open
// without FILE_SHARE_DELETE or mapped anywhere (a reader in io_mode::mmap,
// numpy.memmap, Python's safetensors): the commit then fails with an error
// that says so, the temporary is removed and the old file stays whole.
#pragma once

#ifdef _WIN32
#include <system_error>
#else
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

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
#ifdef _WIN32
inline constexpr const char* path_separators = "/\\";
#else
inline constexpr const char* path_separators = "/";
#endif
inline std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of(path_separators);
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

#ifndef _WIN32
// The mode a new file gets from open(..., 0666): 0666 minus the umask, read
// without changing it (umask() would race with other threads).
inline mode_t new_file_mode() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(0666 & ~std::strtoul(line.c_str() + 6, nullptr, 8));
  return 0644;
}
#endif

inline bool looks_temporary(std::string_view name) {
  return name.size() > temporary_extra && name.front() == '.' &&
         name.substr(name.size() - 6 - temporary_marker.size(), temporary_marker.size()) == temporary_marker;
}

#ifndef _WIN32
// The mode the output gets: that of the file it replaces, but only its
// permission bits (never set-id or sticky) and only when the caller owns a
// regular file there; otherwise what a new file gets. lstat: a symlink
// planted at the target lends nothing.
inline mode_t output_mode(const std::string& target) {
  struct stat st;
  if (::lstat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) return st.st_mode & 0777;
  return new_file_mode();
}
#endif

}  // namespace detail

class atomic_file {
 public:
  static result<atomic_file> create(const std::string& path) {
    atomic_file f;
    f.target_ = path;
    auto slash = path.find_last_of(path_separators);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.empty()) return make_error(errc::invalid_argument, path + ": not a file name");
    f.temp_ = parent_dir(path) + "/" + temporary_name(base);
#ifdef _WIN32
    HANDLE h = INVALID_HANDLE_VALUE;
    DWORD err = 0;
    f.listing_ = listed_temporary::created(f.temp_, listed_temporary::kind::file, [&] {
      static constexpr char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
      for (int attempt = 0; attempt < 100; ++attempt) {
        std::uint64_t bits = platform::random_seed();
        for (std::size_t i = f.temp_.size() - 6; i < f.temp_.size(); ++i, bits /= 62) f.temp_[i] = letters[bits % 62];
        // No sharing: while it is open no one else can open it, which is
        // what tells stale_temporaries() that it is live.
        h = ::CreateFileW(platform::utf8_path(f.temp_).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW,
                          FILE_ATTRIBUTE_NORMAL, nullptr);
        if (h != INVALID_HANDLE_VALUE) return true;
        err = ::GetLastError();
        if (err != ERROR_FILE_EXISTS && err != ERROR_ALREADY_EXISTS) return false;
      }
      return false;
    });
    if (h == INVALID_HANDLE_VALUE) {
      f.temp_.clear();
      return platform::windows_error(errc::write_failed, path + ": cannot create a temporary file beside it", err);
    }
    f.fd_ = h;
    return f;
#else
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
#endif
  }

  // Temporaries in `dir` that no process is writing: left by a process that
  // was killed (SIGKILL, a power cut) before it could remove them. Files, and
  // directories staged the same way (their writers hold the same lock).
  // Their paths, sorted, for the caller to show or remove.
  static result<std::vector<std::string>> stale_temporaries(const std::string& dir) {
#ifdef _WIN32
    std::error_code ec;
    std::vector<std::string> stale;
    std::filesystem::directory_iterator it(platform::utf8_path(dir), ec);
    if (ec) return make_error(errc::io_error, dir + ": cannot list the directory: " + ec.message());
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
      std::string name = platform::path_utf8(it->path().filename());
      if (!detail::looks_temporary(name)) continue;
      // A writer holds its temporary open without sharing for as long as it lives.
      HANDLE h = ::CreateFileW(it->path().c_str(), GENERIC_READ, 0, nullptr, OPEN_EXISTING,
                               FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
      if (h == INVALID_HANDLE_VALUE) continue;
      ::CloseHandle(h);
      stale.push_back(dir + "/" + name);
    }
    std::sort(stale.begin(), stale.end());
    return stale;
#else
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
#endif
  }

  atomic_file(atomic_file&& o) noexcept
      : target_(std::move(o.target_)),
        temp_(std::move(o.temp_)),
        fd_(std::exchange(o.fd_, platform::no_file())),
        listing_(std::move(o.listing_)) {
    o.temp_.clear();
  }
  atomic_file& operator=(atomic_file&&) = delete;
  atomic_file(const atomic_file&) = delete;
  ~atomic_file() { abandon(); }

  // The temporary file to write to, and the path it will replace.
  platform::native_file fd() const noexcept { return fd_; }
  const std::string& target() const noexcept { return target_; }

  // Makes the written bytes durable and puts them in place of the target.
  result<void> commit() {
#ifdef _WIN32
    if (!::FlushFileBuffers(fd_)) return fail("cannot sync");
    HANDLE h = std::exchange(fd_, platform::no_file());
    if (!::CloseHandle(h)) return fail("cannot close");
    const std::filesystem::path temp = platform::utf8_path(temp_), target = platform::utf8_path(target_);
    for (int attempt = 0;; ++attempt) {
      if (::MoveFileExW(temp.c_str(), target.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) break;
      const DWORD err = ::GetLastError();
      const bool in_use = err == ERROR_SHARING_VIOLATION || err == ERROR_ACCESS_DENIED ||
                          err == ERROR_USER_MAPPED_FILE || err == ERROR_LOCK_VIOLATION;
      if (in_use && attempt < 4) {
        ::Sleep(20u << attempt);  // a virus scanner or an indexer may hold it for a moment
        continue;
      }
      error e = in_use ? replace_refused(target, err) : fail("cannot rename into place");
      abandon();
      return e;
    }
    temp_.clear();
    listing_.release();
    return {};
#else
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
#endif
  }

  // Drops the temporary; the target is untouched.
  void abandon() noexcept {
#ifdef _WIN32
    if (fd_ != platform::no_file()) ::CloseHandle(fd_);
    fd_ = platform::no_file();
    if (!temp_.empty()) {
      try {
        ::DeleteFileW(platform::utf8_path(temp_).c_str());
      } catch (...) {  // bad_alloc: the signal-time list still names it
      }
    }
#else
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!temp_.empty()) ::unlink(temp_.c_str());
#endif
    temp_.clear();
    listing_.release();
  }

 private:
  atomic_file() = default;
  error fail(const char* what) {
#ifdef _WIN32
    error e = platform::windows_error(errc::write_failed, target_ + ": " + what);
#else
    error e = errno_error(errc::write_failed, target_ + ": " + what);
#endif
    abandon();
    return e;
  }
#ifdef _WIN32
  // Windows would not replace the target: it is open (without
  // FILE_SHARE_DELETE) or mapped, here or in another process; or read-only.
  error replace_refused(const std::filesystem::path& target, DWORD err) const {
    const DWORD attributes = ::GetFileAttributesW(target.c_str());
    std::string why;
    if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY))
      why = "it is a directory";
    else if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_READONLY))
      why = "it is read-only";
    else
      why = "it is open or mapped in this or another process (a reader of it, numpy.memmap, a loaded model), "
            "and Windows does not replace a file in use; close it there and write again";
    return make_error(errc::write_failed, target_ + ": cannot replace the file: " + why +
                                              ". The old file is intact and nothing was written (" +
                                              platform::windows_error_text(err) + ")");
  }
#endif

  std::string target_;
  std::string temp_;
  platform::native_file fd_ = platform::no_file();
  listed_temporary listing_;  // where a signal handler finds the temporary
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
