// Checked 64-bit arithmetic, for every place where a file's numbers meet
// memory: sizes, offsets and element counts read from a file are multiplied
// and added only through these, so an overflow is an error, never a wrap.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// out = a * b; false (out unspecified) when the product does not fit in 64 bits.
inline bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
  return !__builtin_mul_overflow(a, b, &out);
}

// out = a + b; false (out unspecified) when the sum does not fit in 64 bits.
inline bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
  return !__builtin_add_overflow(a, b, &out);
}

// Product of the dimensions; nullopt on overflow. A zero anywhere gives zero,
// but the product is still checked left to right as the reference does.
inline std::optional<std::uint64_t> element_count(std::span<const std::uint64_t> shape) noexcept {
  std::uint64_t n = 1;
  for (std::uint64_t d : shape)
    if (!checked_mul(n, d, n)) return std::nullopt;
  return n;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
