// A file that another process truncates while it is mapped raises SIGBUS
// where a lost page is touched: that is how mmap works. guard_mapped_reads
// runs a piece of code that reads mapped bytes so that such a fault becomes
// errc::file_changed instead of ending the process (the way some databases
// survive a shrinking file: a scoped handler and sigsetjmp).
//
// The choice for a program whose files may change under it: io_mode::pread
// (never maps; reads come back short instead), or read_options::shrink_safe
// (the reader's own reads never touch the mapping) plus this guard around
// the code that touches views.
//
// On Windows there is nothing to guard against: Windows refuses to truncate
// (SetEndOfFile: ERROR_USER_MAPPED_FILE) a file while any view of it is
// mapped, and the reader's own handle does not let others open the file for
// writing. So there guard_mapped_reads just runs the callback.
#pragma once

#ifndef _WIN32
#include <setjmp.h>
#include <signal.h>
#endif

#include <cstddef>
#include <mutex>
#include <span>

#include "safeweights/error.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
#ifdef _WIN32
// Runs `touch()`: a mapped file cannot shrink on Windows (see above).
template <class Touch>
result<void> guard_mapped_reads(std::span<const std::byte>, Touch&& touch) {
  touch();
  return {};
}
#else
namespace detail {

struct fault_guard_frame {
  sigjmp_buf jump;
  const std::byte* begin;
  const std::byte* end;
};

inline thread_local fault_guard_frame* active_fault_guard = nullptr;
inline struct sigaction sigbus_before_guard {};

// A fault inside the region of this thread's active guard jumps back to it;
// any other goes where it went before the guard was installed.
inline void on_guarded_sigbus(int signal, siginfo_t* info, void* context) {
  fault_guard_frame* frame = active_fault_guard;
  const auto* address = static_cast<const std::byte*>(info->si_addr);
  if (frame && address >= frame->begin && address < frame->end) siglongjmp(frame->jump, 1);
  const struct sigaction& before = sigbus_before_guard;
  if ((before.sa_flags & SA_SIGINFO) && before.sa_sigaction) {
    before.sa_sigaction(signal, info, context);
  } else if (before.sa_handler != SIG_DFL && before.sa_handler != SIG_IGN) {
    before.sa_handler(signal);
  } else {
    // Returning re-runs the faulting access, which the default action then ends.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGBUS, &dfl, nullptr);
  }
}

inline void install_fault_guard_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = on_guarded_sigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &sigbus_before_guard);
  });
}

}  // namespace detail

// Runs `touch()`, which reads bytes of `region` (part of a mapping); if the
// file shrank under it, returns errc::file_changed instead of dying of
// SIGBUS. A fault jumps out of `touch` without unwinding, so `touch` must
// own nothing (no allocation, no lock, no object with a destructor): copy,
// hash or sum into memory that outlives it. Faults outside `region` are not
// caught. The SIGBUS handler is installed on first use and passes other
// faults to the handler that was there before; a program that installs its
// own SIGBUS handler does so before its first guard.
template <class Touch>
result<void> guard_mapped_reads(std::span<const std::byte> region, Touch&& touch) {
  detail::install_fault_guard_handler();
  detail::fault_guard_frame frame;
  frame.begin = region.data();
  frame.end = region.data() + region.size();
  detail::fault_guard_frame* const outer = detail::active_fault_guard;
  // savemask: the jump out of the handler unblocks SIGBUS again.
  if (sigsetjmp(frame.jump, 1) != 0) {
    detail::active_fault_guard = outer;
    return make_error(errc::file_changed, "changed while being read: the file shrank under its mapping");
  }
  detail::active_fault_guard = &frame;
  touch();
  detail::active_fault_guard = outer;
  return {};
}
#endif

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
