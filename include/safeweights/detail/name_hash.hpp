// The hash of a tensor or metadata name, for the name tables. Keyed by a
// seed drawn once per process, so a hostile file cannot be built to put
// every name on one probe chain (which would make indexing quadratic).
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "safeweights/detail/unaligned_load.hpp"
#include "safeweights/io/platform.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

inline std::uint64_t make_hash_seed() noexcept { return platform::random_seed(); }

inline const std::uint64_t hash_seed = make_hash_seed();

__extension__ typedef unsigned __int128 uint128;  // GCC and Clang, on every 64-bit target

// The 128-bit product of a and b, folded to 64 bits (wyhash's mixer).
inline std::uint64_t fold_mul(std::uint64_t a, std::uint64_t b) noexcept {
  uint128 p = static_cast<uint128>(a) * b;
  return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}

// `seed` is the process's own but for tests, which show that it keys the hash.
inline std::uint64_t hash_name(std::string_view s, std::uint64_t seed = hash_seed) noexcept {
  constexpr std::uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull, k2 = 0x8ebc6af09c88c6e3ull;
  const char* p = s.data();
  std::size_t n = s.size();
  std::uint64_t h = seed ^ (n * k0);
  // 16 bytes per step; the last 1-16 by fixed-size loads that may overlap
  // (a variable-length memcpy would be a call).
  for (; n > 16; p += 16, n -= 16) h = fold_mul(load8(p) ^ k1, load8(p + 8) ^ h);
  std::uint64_t a = 0, b = 0;
  if (n >= 8) {
    a = load8(p);
    b = load8(p + n - 8);
  } else if (n >= 4) {
    a = load4(p);
    b = load4(p + n - 4);
  } else if (n > 0) {
    a = static_cast<unsigned char>(p[0]) | (std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
        (std::uint64_t{static_cast<unsigned char>(p[n - 1])} << 16);
  }
  return fold_mul(a ^ k2 ^ h, b ^ k1 ^ (h >> 7));
}

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
