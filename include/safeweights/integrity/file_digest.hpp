// SHA-256 and byte length of a whole file. SHA-256 is sequential, so the
// speed comes from feeding OpenSSL large pieces with no copy beyond the
// kernel's: the file is read with pread into one reused buffer that stays in
// cache (never mapped, so a signature can be checked before a file is mapped),
// or hashed in place when it is already in memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "safeweights/integrity/sha256.hpp"
#include "safeweights/io/aligned_buffer.hpp"
#include "safeweights/io/file_handle.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

struct file_digest {
  sha256_digest sha256{};
  std::uint64_t size = 0;
};

// Bytes read per pread: large enough that the system call costs nothing,
// small enough to stay in L2 between the copy and the hash.
inline constexpr std::size_t digest_chunk_bytes = std::size_t{1} << 20;

// The file's first file.size() bytes (its size when it was opened). A file
// that ends early (it shrank since) is file_changed.
inline result<file_digest> digest_file(const file_handle& file) {
  file_digest d;
  d.size = file.size();
  sha256_hasher h;
  aligned_buffer buffer(static_cast<std::size_t>(std::min<std::uint64_t>(d.size, digest_chunk_bytes)));
  for (std::uint64_t at = 0; at < d.size;) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), d.size - at));
    if (auto r = file.read_exact(buffer.data(), n, at); !r) return std::move(r).error_value();
    h.update(std::span<const std::byte>(buffer.data(), n));
    at += n;
  }
  d.sha256 = h.finish();
  return d;
}

inline result<file_digest> digest_file(const std::string& path) {
  auto file = file_handle::open_read(path);
  if (!file) return std::move(file).error_value().in(path);
  auto d = digest_file(*file);
  if (!d) return std::move(d).error_value().in(path);
  return d;
}

// A file image already in memory (a mapping, a caller's buffer).
inline file_digest digest_bytes(std::span<const std::byte> bytes) { return file_digest{sha256(bytes), bytes.size()}; }

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
