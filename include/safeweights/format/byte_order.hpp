// Byte order (issue 17). The format is little-endian on disk; on a
// big-endian host (s390x, say) multi-byte elements are swapped between the
// file's bytes and host values. On a little-endian host every function here
// is the identity and compiles away (`if constexpr` on std::endian::native).
//
// Which elements swap, by dtype: each scalar of byte_width 2, 4 or 8 (I16,
// U16, F16, BF16, I32, U32, F32, I64, U64, F64), and C64 as two 4-byte floats
// (real, imaginary). BOOL, U8, I8, the F8_* types and the sub-byte types (F4,
// F6_*) never swap.
#pragma once

#include <bit>
#include <cstddef>
#include <cstring>
#include <span>

#include "safeweights/detail/byte_order.hpp"
#include "safeweights/format/dtype.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "safeweights supports little- and big-endian hosts, not mixed-endian ones");

// True on a big-endian host, where the file's multi-byte elements need a swap.
inline constexpr bool host_is_big_endian = std::endian::native == std::endian::big;

// The width in bytes of the scalars a dtype's elements swap as: 0 when they
// never swap (BOOL, 1-byte and sub-byte types), 4 for C64's halves.
constexpr std::size_t swap_width(dtype t) noexcept {
  if (t == dtype::C64) return 4;
  const std::size_t w = byte_width(t);
  return w >= 2 ? w : 0;
}

// Whether the elements of `t` need a swap between file bytes and host values
// on this host: false on every little-endian host.
constexpr bool needs_swap(dtype t) noexcept {
  if constexpr (!host_is_big_endian) {
    (void)t;
    return false;
  } else {
    return swap_width(t) != 0;
  }
}

// A host value as its little-endian (file) representation and back: the
// identity on little-endian hosts. Scalar: the width of the scalars inside T
// (4 for a complex<float>).
template <class T, std::size_t Scalar = sizeof(T)>
T to_little(T v) noexcept {
  if constexpr (host_is_big_endian && Scalar > 1) return detail::swap_value<T, Scalar>(v);
  return v;
}
template <class T, std::size_t Scalar = sizeof(T)>
T from_little(T v) noexcept {
  return to_little<T, Scalar>(v);
}

// Swaps a buffer of `t` elements in place between file order and host order
// (the same operation both ways); nothing on a little-endian host.
inline void swap_elements(dtype t, std::span<std::byte> bytes) noexcept {
  if constexpr (host_is_big_endian) {
    detail::swap_scalars(bytes.data(), bytes.size(), swap_width(t));
  } else {
    (void)t;
    (void)bytes;
  }
}

// Copies `src` to `dst` (same size) converting between file order and host order.
inline void copy_swapped(dtype t, std::span<const std::byte> src, std::byte* dst) noexcept {
  if (!src.empty()) std::memcpy(dst, src.data(), src.size());
  swap_elements(t, {dst, src.size()});
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
