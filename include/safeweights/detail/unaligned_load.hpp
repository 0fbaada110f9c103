// Unaligned little-endian word loads from text (memcpy: no alignment or
// aliasing assumptions, and it compiles to one mov). The first byte is the
// low byte on every host: the header scanners' masks and constants assume it
// (a big-endian host swaps, issue 17).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "safeweights/detail/byte_order.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

inline std::uint64_t load8(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  if constexpr (std::endian::native == std::endian::big) w = byteswap(w);
  return w;
}

inline std::uint64_t load4(const char* p) noexcept {
  std::uint32_t w;
  std::memcpy(&w, p, 4);
  if constexpr (std::endian::native == std::endian::big) w = byteswap(w);
  return w;
}

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
