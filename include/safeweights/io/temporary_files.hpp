// The temporaries this process is writing (atomic_file's `.NAME.tmp-XXXXXX`
// beside each output, or a directory staged the same way), kept where a
// signal handler can reach them: a program that is interrupted (Ctrl-C,
// SIGTERM, SIGHUP) calls remove_temporary_files() from its handler, and no
// hidden half-written output stays behind. SIGKILL cannot be caught; what it
// leaves, atomic_file::stale_temporaries finds (each live temporary is held
// under a lock).
//
// On Windows the "signal handler" is a console control handler (Ctrl-C,
// Ctrl-Break, closing the console), which runs on a thread of its own; the
// same list serves it, and there is no signal mask to hold.
#pragma once

#ifndef _WIN32
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <atomic>
#include <climits>
#include <cwchar>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "safeweights/io/platform.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

#ifdef _WIN32
inline constexpr std::size_t temporary_path_max = 4096;  // UTF-8 bytes (MinGW's PATH_MAX is 260)
// A UTF-8 path as UTF-16 into `out` (no allocation); false when it does not fit.
inline bool widen_path(const char* utf8, wchar_t* out, int capacity) noexcept {
  int n = ::MultiByteToWideChar(CP_UTF8, 0, utf8, -1, out, capacity);
  return n > 0;
}
#else
inline constexpr std::size_t temporary_path_max = PATH_MAX;
#endif

// Fixed slots, so the handler needs no allocation and no lock: a slot's path
// is written before it is published (live) and not rewritten until the slot
// is freed and claimed again. Paths that do not fit, or more live
// temporaries than slots, go unlisted: their owners still remove them, just
// not on a signal.
struct temporary_slot {
  enum : int { free_slot = 0, claimed = 1, live_file = 2, live_directory = 3 };
  std::atomic<int> state{free_slot};
  char path[temporary_path_max];
};
inline constexpr std::size_t temporary_slot_count = 16;
inline temporary_slot temporary_slots[temporary_slot_count];

// Removes a staged directory of plain files, with system calls only
// (getdents64, unlinkat, rmdir): opendir may allocate, so a handler cannot use it.
inline void remove_flat_directory(const char* path) noexcept {
#ifdef _WIN32
  wchar_t dir[temporary_path_max + 8];
  if (!widen_path(path, dir, temporary_path_max)) return;
  std::size_t length = std::wcslen(dir);
  wchar_t pattern[temporary_path_max + 8];
  std::wmemcpy(pattern, dir, length);
  std::wmemcpy(pattern + length, L"\\*", 3);
  WIN32_FIND_DATAW entry;
  HANDLE find = ::FindFirstFileW(pattern, &entry);
  if (find != INVALID_HANDLE_VALUE) {
    do {
      std::size_t name_length = std::wcslen(entry.cFileName);
      if ((entry.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) || length + 1 + name_length >= temporary_path_max) continue;
      wchar_t file[temporary_path_max + 8];
      std::wmemcpy(file, dir, length);
      file[length] = L'\\';
      std::wmemcpy(file + length + 1, entry.cFileName, name_length + 1);
      ::DeleteFileW(file);
    } while (::FindNextFileW(find, &entry));
    ::FindClose(find);
  }
  ::RemoveDirectoryW(dir);
#else
  int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  alignas(8) char entries[4096];
  for (;;) {
    long got = ::syscall(SYS_getdents64, fd, entries, sizeof entries);
    if (got <= 0) break;
    for (long at = 0; at < got;) {
      struct raw_dirent {
        std::uint64_t inode;
        std::int64_t next;
        unsigned short length;
        unsigned char type;
        char name[1];
      };
      const auto* e = reinterpret_cast<const raw_dirent*>(entries + at);
      std::string_view name(e->name);
      if (name != "." && name != "..") ::unlinkat(fd, e->name, 0);
      at += e->length;
    }
  }
  ::close(fd);
  ::rmdir(path);
#endif
}

}  // namespace detail

// Lists one temporary (a file, or a directory of files) for
// remove_temporary_files() while it lives; the owner still removes it
// itself when it gives up, and releases the listing once it is committed.
class listed_temporary {
 public:
  enum class kind { file, directory };

  listed_temporary() = default;
  listed_temporary(std::string_view path, kind k) noexcept {
    if (path.size() >= detail::temporary_path_max) return;
    for (std::size_t i = 0; i < detail::temporary_slot_count; ++i) {
      detail::temporary_slot& s = detail::temporary_slots[i];
      int expected = detail::temporary_slot::free_slot;
      if (s.state.compare_exchange_strong(expected, detail::temporary_slot::claimed)) {
        path.copy(s.path, path.size());
        s.path[path.size()] = '\0';
        s.state.store(k == kind::file ? detail::temporary_slot::live_file : detail::temporary_slot::live_directory,
                      std::memory_order_release);
        slot_ = static_cast<int>(i);
        return;
      }
    }
  }
  listed_temporary(listed_temporary&& o) noexcept : slot_(std::exchange(o.slot_, -1)) {}
  listed_temporary& operator=(listed_temporary&& o) noexcept {
    if (this != &o) {
      release();
      slot_ = std::exchange(o.slot_, -1);
    }
    return *this;
  }
  // Runs `create` (which makes the temporary at `path`, possibly filling in
  // its name, and says whether it did) with the interrupting signals held,
  // and lists what it made: no signal can fall between the two and find the
  // temporary unlisted.
  template <class Create>
  static listed_temporary created(const std::string& path, kind k, Create&& create) {
#ifdef _WIN32
    listed_temporary listing;
    if (create()) listing = listed_temporary(path, k);
    return listing;
#else
    sigset_t interrupts, before;
    sigemptyset(&interrupts);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&interrupts, s);
    ::pthread_sigmask(SIG_BLOCK, &interrupts, &before);
    listed_temporary listing;
    if (create()) listing = listed_temporary(path, k);
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    return listing;
#endif
  }

  listed_temporary(const listed_temporary&) = delete;
  listed_temporary& operator=(const listed_temporary&) = delete;
  ~listed_temporary() { release(); }

  // Takes the temporary off the list (it was renamed into place, or removed).
  void release() noexcept {
    if (slot_ >= 0)
      detail::temporary_slots[slot_].state.store(detail::temporary_slot::free_slot, std::memory_order_release);
    slot_ = -1;
  }

 private:
  int slot_ = -1;
};

// Removes every temporary this process is writing. Async-signal-safe (system
// calls only): call it from a handler of SIGINT, SIGTERM or SIGHUP before the
// process ends. The outputs' targets are never touched.
inline void remove_temporary_files() noexcept {
  for (detail::temporary_slot& slot : detail::temporary_slots) {
    int state = slot.state.load(std::memory_order_acquire);
#ifdef _WIN32
    wchar_t wide[detail::temporary_path_max + 8];
    if (state == detail::temporary_slot::live_file && detail::widen_path(slot.path, wide, detail::temporary_path_max))
      ::DeleteFileW(wide);
#else
    if (state == detail::temporary_slot::live_file) ::unlink(slot.path);
#endif
    if (state == detail::temporary_slot::live_directory) detail::remove_flat_directory(slot.path);
  }
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
