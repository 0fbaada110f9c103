// Scalar conversions of single elements: the reduced-precision float types to
// and from float, and any byte-aligned element read as double. These are the
// definitions; kernels/ holds the vectorised loops built on them.
//
// The 8-bit float encodings (bias, NaN and infinity rules) are those of the
// OCP 8-bit float specification and of PyTorch's float8 types:
//   F8_E4M3      (e4m3fn)      bias 7,  no infinity, NaN = S.1111.111, max 448
//   F8_E5M2                    bias 15, IEEE-like: infinity and NaN at exponent 31
//   F8_E4M3FNUZ                bias 8,  no infinity, no -0, NaN = 0x80, max 240
//   F8_E5M2FNUZ                bias 16, no infinity, no -0, NaN = 0x80, max 57344
//   F8_E8M0      (MX scale)    2^(e - 127), unsigned, NaN = 0xFF
// Sub-byte types (F4, F6_*) are not converted: the format fixes only their byte count.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>

#include "safeweights/format/byte_order.hpp"
#include "safeweights/format/dtype.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// Every floating-point dtype (C64 included, BOOL not).
constexpr bool is_float_type(dtype t) noexcept {
  switch (t) {
    case dtype::F4: case dtype::F6_E2M3: case dtype::F6_E3M2: case dtype::F8_E5M2: case dtype::F8_E4M3:
    case dtype::F8_E8M0: case dtype::F8_E4M3FNUZ: case dtype::F8_E5M2FNUZ: case dtype::F16: case dtype::BF16:
    case dtype::F32: case dtype::C64: case dtype::F64:
      return true;
    default:
      return false;
  }
}

// The signed and unsigned integer dtypes (BOOL not).
constexpr bool is_integer_type(dtype t) noexcept {
  switch (t) {
    case dtype::U8: case dtype::I8: case dtype::I16: case dtype::U16: case dtype::I32: case dtype::U32:
    case dtype::I64: case dtype::U64:
      return true;
    default:
      return false;
  }
}

// Scalars per element: 2 for C64 (real, imaginary), 0 for the sub-byte types
// (not converted), 1 otherwise.
constexpr unsigned components_of(dtype t) noexcept {
  if (t == dtype::C64) return 2;
  return byte_width(t) == 0 ? 0 : 1;
}

// An F16 bit pattern as float: exact (subnormals, infinities and NaN payloads kept).
inline float f16_to_float(std::uint16_t h) noexcept {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // infinity, or NaN keeping its payload
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: mant x 2^-24, exact in float
    float v = static_cast<float>(mant) * 0x1p-24f;
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(v) | sign);
  }
  return std::bit_cast<float>(bits);
}

// Round to nearest, ties to even; overflow gives infinity; NaN stays NaN.
inline std::uint16_t float_to_f16(float f) noexcept {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  std::uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (abs < 0x38800000u) {  // below 2^-14: subnormal or zero, in units of 2^-24
    float v = std::bit_cast<float>(abs) * 0x1p24f;
    // Adding 2^23 puts the units in the low mantissa bits, rounded to nearest even by the FPU.
    std::uint32_t r = std::bit_cast<std::uint32_t>(v + 0x1p23f) - 0x4b000000u;
    return static_cast<std::uint16_t>(sign | r);
  }
  std::uint32_t odd = (abs >> 13) & 1u;
  abs += 0xc8000fffu + odd;  // rebias 127 -> 15 and round to nearest even in one add
  return static_cast<std::uint16_t>(sign | (abs >> 13));
}

// A BF16 bit pattern as float: exact.
inline float bf16_to_float(std::uint16_t b) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

// Round to nearest, ties to even; NaN becomes a quiet NaN of the same sign.
inline std::uint16_t float_to_bf16(float f) noexcept {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x0040u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>(x >> 16);
}

namespace detail {

// A minifloat with `m` mantissa bits and exponent bias `bias`, no sign handling.
inline float minifloat_magnitude(unsigned exp, unsigned mant, int m, int bias) noexcept {
  if (exp == 0) return std::ldexp(static_cast<float>(mant), 1 - bias - m);
  return std::ldexp(static_cast<float>(mant | (1u << m)), static_cast<int>(exp) - bias - m);
}

}  // namespace detail

// One 8-bit float element as float; `t` must be one of the F8_* types.
inline float f8_to_float(dtype t, std::uint8_t v) noexcept {
  constexpr float nan = std::numeric_limits<float>::quiet_NaN();
  constexpr float inf = std::numeric_limits<float>::infinity();
  const bool negative = (v & 0x80u) != 0;
  float magnitude = 0;
  switch (t) {
    case dtype::F8_E4M3:
      if ((v & 0x7fu) == 0x7fu) return nan;
      magnitude = detail::minifloat_magnitude((v >> 3) & 0xfu, v & 0x7u, 3, 7);
      break;
    case dtype::F8_E5M2:
      if (((v >> 2) & 0x1fu) == 0x1fu) return (v & 0x3u) ? nan : (negative ? -inf : inf);
      magnitude = detail::minifloat_magnitude((v >> 2) & 0x1fu, v & 0x3u, 2, 15);
      break;
    case dtype::F8_E4M3FNUZ:
      if (v == 0x80u) return nan;
      magnitude = detail::minifloat_magnitude((v >> 3) & 0xfu, v & 0x7u, 3, 8);
      break;
    case dtype::F8_E5M2FNUZ:
      if (v == 0x80u) return nan;
      magnitude = detail::minifloat_magnitude((v >> 2) & 0x1fu, v & 0x3u, 2, 16);
      break;
    case dtype::F8_E8M0:
      if (v == 0xffu) return nan;
      return std::ldexp(1.0f, static_cast<int>(v) - 127);
    default:
      return nan;
  }
  return negative ? -magnitude : magnitude;
}

// Scalar number `k` of a tensor's data as double, where C64 counts two
// scalars (real, imaginary) per element; nullopt for the sub-byte types.
// `data` needs no alignment; its multi-byte scalars are in byte order `order`
// (the file's, little-endian, unless they come from an eager load() on a
// big-endian host: tensor_view::byte_order() says).
inline std::optional<double> scalar_as_double(dtype t, const std::byte* data, std::uint64_t k,
                                              std::endian order = std::endian::little) noexcept {
  auto load = [&]<class T>(T) {
    T v;
    std::memcpy(&v, data + k * sizeof(T), sizeof(T));
    if constexpr (host_is_big_endian && sizeof(T) > 1)
      if (order != std::endian::native) v = detail::swap_value(v);
    return v;
  };
  switch (t) {
    case dtype::BOOL: return load(std::uint8_t{}) != 0 ? 1.0 : 0.0;
    case dtype::U8: return load(std::uint8_t{});
    case dtype::I8: return load(std::int8_t{});
    case dtype::I16: return load(std::int16_t{});
    case dtype::U16: return load(std::uint16_t{});
    case dtype::I32: return load(std::int32_t{});
    case dtype::U32: return load(std::uint32_t{});
    case dtype::I64: return static_cast<double>(load(std::int64_t{}));
    case dtype::U64: return static_cast<double>(load(std::uint64_t{}));
    case dtype::F16: return f16_to_float(load(std::uint16_t{}));
    case dtype::BF16: return bf16_to_float(load(std::uint16_t{}));
    case dtype::F32: case dtype::C64: return load(float{});
    case dtype::F64: return load(double{});
    case dtype::F8_E5M2: case dtype::F8_E4M3: case dtype::F8_E8M0: case dtype::F8_E4M3FNUZ:
    case dtype::F8_E5M2FNUZ:
      return f8_to_float(t, load(std::uint8_t{}));
    default:
      return std::nullopt;
  }
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
