// Unaligned little-endian word loads from text (memcpy: no alignment or
// aliasing assumptions, and it compiles to one mov).
#pragma once

#include <cstdint>
#include <cstring>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

inline std::uint64_t load8(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

inline std::uint64_t load4(const char* p) noexcept {
  std::uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
