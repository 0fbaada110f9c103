// The operating system, in one place. The library's system calls live in
// io/ only: this file (the handle type, paths, pages of memory, random
// seeds, CPU counts, system error text) and the few io/ classes built on it
// (file_handle, mapping, atomic_file, fd_sink, fault_guard, temporary_files).
// The reader, the writer and everything above them never branch on the
// platform.
//
// POSIX (Linux; macOS untested) uses file descriptors, mmap and pread.
// Windows (MinGW-w64, tested under Wine) uses HANDLEs from CreateFileW,
// CreateFileMappingW/MapViewOfFile, ReadFile with OVERLAPPED offsets and
// MoveFileExW. Every path the library takes as a std::string is UTF-8; on
// Windows it reaches the system through the wide-character (W) APIs.
#pragma once

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "safeweights/error.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace platform {

#ifdef _WIN32
// A file HANDLE; INVALID_HANDLE_VALUE when none.
using native_file = void*;
inline native_file no_file() noexcept { return INVALID_HANDLE_VALUE; }
// One piece of a gathered read (POSIX's iovec).
struct io_vec {
  void* iov_base;
  std::size_t iov_len;
};
#else
// A file descriptor; -1 when none.
using native_file = int;
constexpr native_file no_file() noexcept { return -1; }
using io_vec = ::iovec;
#endif

// A path given as UTF-8 text, as the system takes it: on Windows converted
// to UTF-16 (never through the ANSI code page), elsewhere the same bytes.
inline std::filesystem::path utf8_path(std::string_view utf8) {
#ifdef _WIN32
  return std::filesystem::path(std::u8string(reinterpret_cast<const char8_t*>(utf8.data()), utf8.size()));
#else
  return std::filesystem::path(std::string(utf8));
#endif
}

// A path as UTF-8 text, for messages and for the library's string APIs.
inline std::string path_utf8(const std::filesystem::path& path) {
  std::u8string s = path.u8string();
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

#ifdef _WIN32
// The system's text for a Windows error code, in UTF-8, without the trailing newline.
inline std::string windows_error_text(unsigned long code) {
  wchar_t* text = nullptr;
  DWORD n = ::FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                             nullptr, code, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT),
                             reinterpret_cast<wchar_t*>(&text), 0, nullptr);
  std::string out;
  if (n && text) {
    while (n && (text[n - 1] == L'\n' || text[n - 1] == L'\r' || text[n - 1] == L' ' || text[n - 1] == L'.')) --n;
    int bytes = ::WideCharToMultiByte(CP_UTF8, 0, text, static_cast<int>(n), nullptr, 0, nullptr, nullptr);
    out.resize(static_cast<std::size_t>(bytes > 0 ? bytes : 0));
    if (bytes > 0) ::WideCharToMultiByte(CP_UTF8, 0, text, static_cast<int>(n), out.data(), bytes, nullptr, nullptr);
  }
  if (text) ::LocalFree(text);
  if (out.empty()) out = "Windows error " + std::to_string(code);
  return out;
}

// An error whose message ends with the system's text for `code` ("what: The system cannot find the file specified").
inline error windows_error(errc code, const std::string& what, unsigned long err = ::GetLastError()) {
  return make_error(code, what + ": " + windows_error_text(err));
}
#endif

// The size of a page of memory (and the granularity of a mapping's end).
inline std::size_t page_size() noexcept {
#ifdef _WIN32
  SYSTEM_INFO info;
  ::GetSystemInfo(&info);
  return info.dwPageSize;
#else
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
#endif
}

// Fresh zeroed pages of memory (read-write, or read-only zeros), or nullptr.
// Pages never touched cost no memory.
enum class page_access { read_write, read_only };
inline void* map_pages(std::size_t size, page_access access = page_access::read_write) noexcept {
#ifdef _WIN32
  return ::VirtualAlloc(nullptr, size, MEM_RESERVE | MEM_COMMIT,
                        access == page_access::read_write ? PAGE_READWRITE : PAGE_READONLY);
#else
  void* p = access == page_access::read_write
                ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                : ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
#endif
}

inline void unmap_pages(void* p, [[maybe_unused]] std::size_t size) noexcept {
#ifdef _WIN32
  ::VirtualFree(p, 0, MEM_RELEASE);
#else
  ::munmap(p, size);
#endif
}

// Asks for transparent huge pages over [p, p + size) (a hint; nothing on Windows,
// where large pages need a privilege ordinary programs lack).
inline void advise_huge_pages([[maybe_unused]] void* p, [[maybe_unused]] std::size_t size) noexcept {
#if defined(MADV_HUGEPAGE)
  ::madvise(p, size, MADV_HUGEPAGE);
#endif
}

// A random 64-bit seed from the system, or (should that fail) the clock's.
inline std::uint64_t random_seed() noexcept {
  std::uint64_t seed = 0;
#ifdef _WIN32
  try {
    std::random_device device;  // MinGW's: rand_s, the system's generator
    return (static_cast<std::uint64_t>(device()) << 32) | device();
  } catch (...) {
  }
#else
  if (::getrandom(&seed, sizeof seed, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof seed)) return seed;
#endif
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
         reinterpret_cast<std::uintptr_t>(&seed);
}

// The CPUs this process may run on.
inline std::size_t cpu_count() noexcept {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<std::size_t>(std::max(1, CPU_COUNT(&set)));
#elif defined(_WIN32)
  DWORD_PTR process = 0, system = 0;
  if (::GetProcessAffinityMask(::GetCurrentProcess(), &process, &system) && process) {
    std::size_t n = 0;
    for (; process; process &= process - 1) ++n;
    return n;
  }
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

// Blocks while `a` holds `old` (it may also return spuriously), and wakes
// every thread blocked so on `a`. POSIX: std::atomic's wait and notify_all
// (a futex on Linux). Windows: WaitOnAddress and WakeByAddressAll (link
// synchronization.lib, -lsynchronization), because MinGW-w64's libstdc++ 12
// has no futex there and its fallback can lose a wake-up (the kernels' pool
// hung under Wine).
template <class T>
void wait_while(const std::atomic<T>& a, T old) noexcept {
#ifdef _WIN32
  static_assert(std::atomic<T>::is_always_lock_free && sizeof(T) <= 8, "WaitOnAddress takes 1, 2, 4 or 8 bytes");
  ::WaitOnAddress(const_cast<std::atomic<T>*>(&a), &old, sizeof(T), INFINITE);
#else
  a.wait(old, std::memory_order_acquire);
#endif
}

template <class T>
void wake_all(std::atomic<T>& a) noexcept {
#ifdef _WIN32
  ::WakeByAddressAll(&a);
#else
  a.notify_all();
#endif
}

#ifdef _WIN32
template <class T>
void WINAPI destroy_thread_cached(void* p) {
  delete static_cast<T*>(p);
}
#endif

// A T of the calling thread's own, made on first use and destroyed when the
// thread ends; one per call site (the tag is a lambda: use
// SAFEWEIGHTS_THREAD_CACHED(T)). POSIX: a function-local thread_local.
// Windows: MinGW-w64 (GCC's emulated TLS with winpthreads) destroys a
// thread_local object after freeing the storage that holds it, which crashes
// at thread exit whenever the object owns memory; so there the object lives
// on the heap, found through a trivially destructible thread_local pointer,
// and a fiber-local storage callback (FlsAlloc), which Windows runs when the
// thread ends, destroys it.
template <class T, class Tag>
T& thread_cached(Tag) {
#ifdef _WIN32
  static const DWORD slot = ::FlsAlloc(&destroy_thread_cached<T>);
  thread_local T* mine = nullptr;
  if (!mine) {
    mine = new T();
    if (slot != FLS_OUT_OF_INDEXES) ::FlsSetValue(slot, mine);  // else it outlives the thread
  }
  return *mine;
#else
  static thread_local T value;
  return value;
#endif
}

}  // namespace platform
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights

// This thread's own T for this call site: platform::thread_cached.
#define SAFEWEIGHTS_THREAD_CACHED(T) ::safeweights::platform::thread_cached<T>([] {})
