// Fixture files for the I/O benchmarks, written at startup with the library's
// own writer into a private temporary directory that is removed at exit
// (also on SIGINT/SIGTERM). Nothing is downloaded.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "safeweights/nn/gpt2.hpp"
#include "safeweights/safeweights.hpp"

namespace swbench {

namespace sw = safeweights;

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "bench-io: %s\n", what.c_str());
  std::exit(1);  // runs the atexit cleanup
}

// ---------------------------------------------------------------- temp dir

namespace detail {
// Kept in static storage so the signal handler touches no allocator.
inline char fixture_dir[4096];

// Removes every entry of the (flat) fixture directory, then the directory:
// open/getdents64/unlinkat/rmdir only, so it is safe in a signal handler.
// The writer's own temporaries (".name.tmp-XXXXXX") go too.
inline void remove_fixture_dir() noexcept {
  if (!fixture_dir[0]) return;
  int dfd = ::open(fixture_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    alignas(8) char buf[8192];
    for (;;) {
      long n = ::syscall(SYS_getdents64, dfd, buf, sizeof buf);
      if (n <= 0) break;
      for (long at = 0; at < n;) {
        // struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[]
        unsigned short reclen;
        std::memcpy(&reclen, buf + at + 16, sizeof reclen);
        const char* name = buf + at + 19;
        if (std::strcmp(name, ".") != 0 && std::strcmp(name, "..") != 0) ::unlinkat(dfd, name, 0);
        at += reclen;
      }
    }
    ::close(dfd);
  }
  ::rmdir(fixture_dir);
  fixture_dir[0] = '\0';
}

inline void on_signal(int sig) {
  remove_fixture_dir();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}
}  // namespace detail

// Creates $TMPDIR/safeweights-bench-<pid> (or under /tmp) and arranges its removal.
inline std::string make_fixture_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/safeweights-bench-" + std::to_string(::getpid());
  if (dir.size() >= sizeof detail::fixture_dir) die("temporary directory path too long: " + dir);
  if (::mkdir(dir.c_str(), 0700) != 0) die("cannot create " + dir + ": " + std::strerror(errno));
  std::memcpy(detail::fixture_dir, dir.c_str(), dir.size() + 1);
  std::atexit(detail::remove_fixture_dir);
  std::signal(SIGINT, detail::on_signal);
  std::signal(SIGTERM, detail::on_signal);
  std::signal(SIGHUP, detail::on_signal);
  std::signal(SIGABRT, detail::on_signal);  // a failed check inside Google Benchmark aborts
  return dir;
}

// ---------------------------------------------------------------- writing

inline void check(const sw::result<void>& r, const std::string& what) {
  if (!r) die(what + ": " + r.error_value().message);
}

// A cheap repeating pattern of small floats (64 KiB), copied into each chunk
// at the stream's running position so the bytes are the same however the
// writer chunks them.
inline const std::vector<std::byte>& pattern() {
  static const std::vector<std::byte> bytes = [] {
    std::vector<float> f(16384);
    for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(static_cast<int>(i % 1021) - 510) * 1e-3f;
    std::vector<std::byte> b(f.size() * sizeof(float));
    std::memcpy(b.data(), f.data(), b.size());
    return b;
  }();
  return bytes;
}

inline sw::chunk_source pattern_source() {
  return [pos = std::size_t{0}](std::span<std::byte> dst) mutable -> std::size_t {
    const auto& p = pattern();
    std::size_t done = 0;
    while (done < dst.size()) {
      std::size_t at = (pos + done) % p.size();
      std::size_t n = std::min(dst.size() - done, p.size() - at);
      std::memcpy(dst.data() + done, p.data() + at, n);
      done += n;
    }
    pos += dst.size();
    return dst.size();
  };
}

// `count` small F32 tensors "blocks.N.pK", shapes [1] .. [8].
inline void write_many(const std::string& path, std::size_t count) {
  static const std::array<float, 8> values{0.5f, -1.f, 2.f, 0.25f, 3.f, -0.125f, 1.f, 4.f};
  sw::writer w;
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t k = i % 8 + 1;
    check(w.add("blocks." + std::to_string(i / 8) + ".p" + std::to_string(i % 8), sw::dtype::F32, {k},
                std::as_bytes(std::span<const float>(values.data(), k))),
          path);
  }
  check(w.write_file(path), path);
}

// A GPT-2-small-sized state dict in nn::gpt2's layout: 148 F32 tensors, 124,439,808 parameters.
inline void write_gpt2(const std::string& path) {
  sw::writer w;
  for (const auto& t : sw::nn::gpt2_checkpoint_layout(sw::nn::gpt2_config{}, sw::dtype::F32))
    check(w.add_stream(t.name, t.type, t.shape, pattern_source()), path);
  check(w.write_file(path), path);
}

// One U8 tensor of `bytes` real bytes, streamed.
inline void write_big(const std::string& path, std::uint64_t bytes) {
  sw::writer w;
  check(w.add_stream("blob", sw::dtype::U8, {bytes}, pattern_source()), path);
  check(w.write_file(path), path);
}

// ---------------------------------------------------------------- reading

// Reads the whole file once so it sits in the page cache; returns its size.
inline std::uint64_t warm(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open " + path + ": " + std::strerror(errno));
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
  static std::vector<std::byte> buf(std::size_t{8} << 20);
  std::uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      die("cannot read " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return total;
}

// pread of exactly `n` bytes at `offset` (the floors use this, not the library).
inline bool pread_all(int fd, std::byte* dst, std::size_t n, std::uint64_t offset) {
  while (n > 0) {
    std::size_t chunk = std::min(n, std::size_t{1} << 30);
    ssize_t got = ::pread(fd, dst, chunk, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    dst += got;
    offset += static_cast<std::uint64_t>(got);
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

// Fresh anonymous memory on a 2 MiB boundary with MADV_HUGEPAGE, as a
// careful hand-written loader would allocate it. Not touched.
struct huge_region {
  static constexpr std::size_t huge = std::size_t{2} << 20;
  void* base = nullptr;
  std::size_t mapped = 0;
  std::byte* data = nullptr;

  explicit huge_region(std::size_t size) : mapped(size + huge) {
    base = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) die("mmap of " + std::to_string(mapped) + " bytes failed");
    auto a = (reinterpret_cast<std::uintptr_t>(base) + huge - 1) & ~(huge - 1);
    data = reinterpret_cast<std::byte*>(a);
    ::madvise(data, size, MADV_HUGEPAGE);
  }
  huge_region(const huge_region&) = delete;
  huge_region& operator=(const huge_region&) = delete;
  ~huge_region() { ::munmap(base, mapped); }
};

}  // namespace swbench
