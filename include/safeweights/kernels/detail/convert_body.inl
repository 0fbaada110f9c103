// Element conversions, compiled once per instruction set: kernels/convert.hpp
// includes this file in namespace detail::baseline and again, inside the AVX2
// target region, in detail::avx2; `ops` names that instruction set's
// operations. Every result equals format/elements.hpp's scalar conversion bit
// for bit (tests/test_convert.cpp checks every 8- and 16-bit input); the
// tails shorter than a vector use those scalar functions directly.

// `width` BF16 values to float: the high half of a float.
inline ops::vf bf16_lanes(const std::byte* p) noexcept { return ops::as_float(ops::shl<16>(ops::widen_u16(p))); }

// `width` F16 values to float, as f16_to_float: NaN payloads kept (F16C would
// quiet signalling NaNs, so the integer form serves both paths).
inline ops::vf f16_lanes(const std::byte* p) noexcept {
  ops::vi h = ops::widen_u16(p);
  ops::vi sign = ops::shl<16>(ops::and_i(h, ops::set1_i(0x8000)));
  ops::vi shifted = ops::shl<13>(ops::and_i(h, ops::set1_i(0x7fff)));
  ops::vi exponent = ops::and_i(shifted, ops::set1_i(0x0f800000));
  ops::vi normal = ops::add_i(shifted, ops::set1_i(112 << 23));        // rebias 15 -> 127
  ops::vi special = ops::add_i(shifted, ops::set1_i(224 << 23));       // exponent 31 -> 255
  // Subnormal (and zero): 2^-14 x (1 + m/1024) - 2^-14 = m x 2^-24, exactly.
  ops::vf tiny = ops::as_float(ops::add_i(shifted, ops::set1_i(113 << 23))) - ops::as_float(ops::set1_i(113 << 23));
  ops::vi bits = ops::select_i(ops::eq_i(exponent, ops::set1_i(0x0f800000)), special, normal);
  bits = ops::select_i(ops::eq_i(exponent, ops::set1_i(0)), ops::as_int(tiny), bits);
  return ops::as_float(ops::or_i(bits, sign));
}

// float to BF16 bits in the low halves of the lanes, as float_to_bf16.
inline ops::vi bf16_bits(ops::vf v) noexcept {
  ops::vi x = ops::as_int(v);
  ops::vi high = ops::shr<16>(x);
  ops::vi rounded = ops::shr<16>(ops::add_i(x, ops::add_i(ops::set1_i(0x7fff), ops::and_i(high, ops::set1_i(1)))));
  ops::vi is_nan = ops::gt_i(ops::and_i(x, ops::set1_i(0x7fffffff)), ops::set1_i(0x7f800000));
  return ops::select_i(is_nan, ops::or_i(high, ops::set1_i(0x40)), rounded);
}

template <class T>
inline T load_scalar(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// The lanes of the other source types. (Named functions rather than lambdas:
// GCC compiles a lambda returning a vector without the region's target.)
inline ops::vf u8_lanes(const std::byte* p) noexcept { return ops::to_float(ops::widen_u8(p)); }
inline ops::vf i8_lanes(const std::byte* p) noexcept { return ops::to_float(ops::widen_i8(p)); }
inline ops::vf u16_lanes(const std::byte* p) noexcept { return ops::to_float(ops::widen_u16(p)); }
inline ops::vf i16_lanes(const std::byte* p) noexcept { return ops::to_float(ops::widen_i16(p)); }
inline ops::vf i32_lanes(const std::byte* p) noexcept { return ops::to_float(ops::load_i32(p)); }
inline ops::vf f64_lanes(const std::byte* p) noexcept { return ops::load_f64(p); }
// hi x 2^16 + lo is exact until the one rounding of the sum, as static_cast rounds.
inline ops::vf u32_lanes(const std::byte* p) noexcept {
  ops::vi x = ops::load_i32(p);
  ops::vf hi = ops::to_float(ops::shr<16>(x)) * ops::set1(65536.0f);
  return hi + ops::to_float(ops::and_i(x, ops::set1_i(0xffff)));
}

inline float bf16_scalar(const std::byte* p) noexcept { return bf16_to_float(load_scalar<std::uint16_t>(p)); }
inline float f16_scalar(const std::byte* p) noexcept { return f16_to_float(load_scalar<std::uint16_t>(p)); }
template <class T>
inline float number_scalar(const std::byte* p) noexcept {
  return static_cast<float>(load_scalar<T>(p));
}

// dst[i] = Lanes(src + i x Bytes) a vector at a time, Scalar(...) for the tail.
template <std::size_t Bytes, auto Lanes, auto Scalar>
inline void convert_loop(const std::byte* src, float* dst, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + ops::width <= n; i += ops::width) ops::store(dst + i, Lanes(src + i * Bytes));
  for (; i < n; ++i) dst[i] = Scalar(src + i * Bytes);
}

inline void bf16_to_f32(const std::byte* src, float* dst, std::size_t n) noexcept {
  convert_loop<2, bf16_lanes, bf16_scalar>(src, dst, n);
}

inline void f16_to_f32(const std::byte* src, float* dst, std::size_t n) noexcept {
  convert_loop<2, f16_lanes, f16_scalar>(src, dst, n);
}

inline void f32_to_bf16(const float* src, std::byte* dst, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + ops::width <= n; i += ops::width) ops::store_u16(dst + 2 * i, bf16_bits(ops::load(src + i)));
  for (; i < n; ++i) {
    std::uint16_t b = float_to_bf16(src[i]);
    std::memcpy(dst + 2 * i, &b, 2);
  }
}

inline void f32_to_f16(const float* src, std::byte* dst, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + ops::width <= n; i += ops::width) ops::store_f16(dst + 2 * i, ops::load(src + i));
  for (; i < n; ++i) {
    std::uint16_t h = float_to_f16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

// `table` maps each of the 256 byte values to its float (an F8 encoding).
inline void lookup_to_f32(const float* table, const std::byte* src, float* dst, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + ops::width <= n; i += ops::width) ops::store(dst + i, ops::lookup(table, src + i));
  for (; i < n; ++i) dst[i] = table[static_cast<unsigned char>(src[i])];
}

// Every dtype converts_to_f32() accepts; the caller has checked `from`.
inline void to_f32(dtype from, const std::byte* src, float* dst, std::size_t n) noexcept {
  switch (from) {
    case dtype::F32:
      if (n) std::memcpy(dst, src, n * 4);
      return;
    case dtype::BF16: return bf16_to_f32(src, dst, n);
    case dtype::F16: return f16_to_f32(src, dst, n);
    case dtype::F8_E5M2: case dtype::F8_E4M3: case dtype::F8_E8M0: case dtype::F8_E4M3FNUZ: case dtype::F8_E5M2FNUZ:
      return lookup_to_f32(f8_table(from), src, dst, n);
    case dtype::F64: return convert_loop<8, f64_lanes, number_scalar<double>>(src, dst, n);
    case dtype::U8: return convert_loop<1, u8_lanes, number_scalar<std::uint8_t>>(src, dst, n);
    case dtype::I8: return convert_loop<1, i8_lanes, number_scalar<std::int8_t>>(src, dst, n);
    case dtype::U16: return convert_loop<2, u16_lanes, number_scalar<std::uint16_t>>(src, dst, n);
    case dtype::I16: return convert_loop<2, i16_lanes, number_scalar<std::int16_t>>(src, dst, n);
    case dtype::I32: return convert_loop<4, i32_lanes, number_scalar<std::int32_t>>(src, dst, n);
    case dtype::U32: return convert_loop<4, u32_lanes, number_scalar<std::uint32_t>>(src, dst, n);
    case dtype::I64:
      for (std::size_t i = 0; i < n; ++i) dst[i] = number_scalar<std::int64_t>(src + 8 * i);
      return;
    case dtype::U64:
      for (std::size_t i = 0; i < n; ++i) dst[i] = number_scalar<std::uint64_t>(src + 8 * i);
      return;
    case dtype::BOOL:
      for (std::size_t i = 0; i < n; ++i) dst[i] = src[i] != std::byte{0} ? 1.0f : 0.0f;
      return;
    default:
      return;
  }
}
