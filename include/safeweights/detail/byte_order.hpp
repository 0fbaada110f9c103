// Byte swapping, the ground floor of byte order (issue 17): reversing the
// bytes of integers, of values made of equal scalars, and of buffers of
// scalars. Which dtypes swap, and when, is format/byte_order.hpp's.
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

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

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
