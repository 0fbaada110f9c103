// Lowercase hexadecimal, the one spelling of digests, key ids and signatures
// in seals and signature files: parsing refuses uppercase, so that a value
// has exactly one text form.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// Exactly 2 * N lowercase hex digits, or nullopt.
template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> parse_hex(std::string_view text) noexcept {
  if (text.size() != 2 * N) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
