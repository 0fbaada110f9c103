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
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "safeweights/format/dtype.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "safeweights supports little- and big-endian hosts, not mixed-endian ones");

// True on a big-endian host, where the file's multi-byte elements need a swap.
inline constexpr bool host_is_big_endian = std::endian::native == std::endian::big;

namespace detail {

// std::byteswap for unsigned integers (C++23; GCC 12 has none in C++20 mode).
template <std::unsigned_integral U>
constexpr U byteswap(U v) noexcept {
  if constexpr (sizeof(U) == 1) {
    return v;
  } else if constexpr (sizeof(U) == 2) {
    return static_cast<U>(__builtin_bswap16(v));
  } else if constexpr (sizeof(U) == 4) {
    return static_cast<U>(__builtin_bswap32(v));
  } else {
    static_assert(sizeof(U) == 8);
    return static_cast<U>(__builtin_bswap64(v));
  }
}

template <std::size_t Width>
struct uint_of_width;
template <>
struct uint_of_width<1> { using type = std::uint8_t; };
template <>
struct uint_of_width<2> { using type = std::uint16_t; };
template <>
struct uint_of_width<4> { using type = std::uint32_t; };
template <>
struct uint_of_width<8> { using type = std::uint64_t; };

// An arithmetic value (or a struct of equal scalars, such as a complex<float>
// of 8 bytes swapped as two 4-byte halves: `scalar` is the width of one).
template <class T, std::size_t Scalar = sizeof(T)>
T swap_value(T v) noexcept {
  static_assert(sizeof(T) % Scalar == 0);
  using U = typename uint_of_width<Scalar>::type;
  unsigned char raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  for (std::size_t at = 0; at < sizeof(T); at += Scalar) {
    U u;
    std::memcpy(&u, raw + at, Scalar);
    u = byteswap(u);
    std::memcpy(raw + at, &u, Scalar);
  }
  std::memcpy(&v, raw, sizeof(T));
  return v;
}

// Reverses every `width`-byte scalar of `n` bytes in place (width 1: nothing).
inline void swap_scalars(std::byte* p, std::size_t n, std::size_t width) noexcept {
  auto each = [&]<class U>(U) {
    for (std::size_t at = 0; at + sizeof(U) <= n; at += sizeof(U)) {
      U u;
      std::memcpy(&u, p + at, sizeof(U));
      u = byteswap(u);
      std::memcpy(p + at, &u, sizeof(U));
    }
  };
  switch (width) {
    case 2: each(std::uint16_t{}); break;
    case 4: each(std::uint32_t{}); break;
    case 8: each(std::uint64_t{}); break;
    default: break;
  }
}

}  // namespace detail

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
