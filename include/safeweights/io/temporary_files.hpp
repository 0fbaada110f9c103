// The temporary files this process is writing (atomic_file's `.NAME.tmp-XXXXXX`
// beside each output), kept where a signal handler can reach them: a program
// that is interrupted (Ctrl-C, SIGTERM, SIGHUP) calls
// remove_temporary_files() from its handler, and no hidden half-written file
// stays behind. SIGKILL cannot be caught; what it leaves is found by
// find_stale_temporaries (atomic_file holds a lock on each live temporary).
#pragma once

#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstddef>
#include <string_view>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

// Fixed slots, so the handler needs no allocation and no lock: a slot's path
// is written before it is published (state live) and not reused until freed.
// Paths that do not fit, or more live temporaries than slots, go unlisted:
// they are still removed by atomic_file's destructor, just not on a signal.
struct temporary_slot {
  enum : int { free_slot = 0, claimed = 1, live = 2 };
  std::atomic<int> state{free_slot};
  char path[PATH_MAX];
};
inline constexpr std::size_t temporary_slot_count = 16;
inline temporary_slot temporary_slots[temporary_slot_count];

// Lists `path` as a live temporary; the slot index, or -1 if none was free.
inline int list_temporary(std::string_view path) noexcept {
  if (path.size() >= PATH_MAX) return -1;
  for (std::size_t i = 0; i < temporary_slot_count; ++i) {
    int expected = temporary_slot::free_slot;
    if (temporary_slots[i].state.compare_exchange_strong(expected, temporary_slot::claimed)) {
      path.copy(temporary_slots[i].path, path.size());
      temporary_slots[i].path[path.size()] = '\0';
      temporary_slots[i].state.store(temporary_slot::live, std::memory_order_release);
      return static_cast<int>(i);
    }
  }
  return -1;
}

inline void unlist_temporary(int slot) noexcept {
  if (slot >= 0) temporary_slots[slot].state.store(temporary_slot::free_slot, std::memory_order_release);
}

}  // namespace detail

// Removes every temporary file this process is writing. Async-signal-safe
// (unlink only): call it from a handler of SIGINT, SIGTERM or SIGHUP before
// the process ends. The outputs' targets are never touched.
inline void remove_temporary_files() noexcept {
  for (detail::temporary_slot &slot : detail::temporary_slots)
    if (slot.state.load(std::memory_order_acquire) == detail::temporary_slot::live) ::unlink(slot.path);
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
