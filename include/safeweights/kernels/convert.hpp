// Converting tensor elements between dtypes, a vector at a time.
//
// Every dtype with a byte-sized element converts to float: the float types
// (F64, F32, F16, BF16 and the five F8 encodings), the integers and BOOL;
// float converts back to F16 and BF16 (round to nearest, ties to even). The
// results are format/elements.hpp's scalar conversions bit for bit, on every
// instruction set. Sources need no alignment (they are often a file's bytes).
#pragma once

#include <array>
#include <cstddef>
#include <cstring>

#include "safeweights/format/elements.hpp"
#include "safeweights/kernels/detail/dispatch.hpp"
#include "safeweights/kernels/detail/ops_avx2.hpp"
#include "safeweights/kernels/detail/ops_baseline.hpp"
#include "safeweights/kernels/isa.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels {

// True for the dtypes to_f32() accepts: all but C64 and the sub-byte floats.
constexpr bool converts_to_f32(dtype t) noexcept {
  return t != dtype::C64 && byte_width(t) != 0;
}

// The dtypes a float converts to, and the kernels compute from directly.
constexpr bool is_compute_type(dtype t) noexcept { return t == dtype::F32 || t == dtype::BF16 || t == dtype::F16; }

namespace detail {

// The 256 values of an 8-bit float encoding, from the scalar definition.
inline const float* f8_table(dtype t) noexcept {
  auto make = [](dtype e) {
    std::array<float, 256> table{};
    for (unsigned v = 0; v < 256; ++v) table[v] = f8_to_float(e, static_cast<std::uint8_t>(v));
    return table;
  };
  static const std::array<float, 256> e5m2 = make(dtype::F8_E5M2), e4m3 = make(dtype::F8_E4M3),
                                      e8m0 = make(dtype::F8_E8M0), e4m3fnuz = make(dtype::F8_E4M3FNUZ),
                                      e5m2fnuz = make(dtype::F8_E5M2FNUZ);
  switch (t) {
    case dtype::F8_E5M2: return e5m2.data();
    case dtype::F8_E4M3: return e4m3.data();
    case dtype::F8_E8M0: return e8m0.data();
    case dtype::F8_E4M3FNUZ: return e4m3fnuz.data();
    default: return e5m2fnuz.data();
  }
}

}  // namespace detail
}  // namespace kernels
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights

#define SAFEWEIGHTS_KERNEL_BODY "safeweights/kernels/detail/convert_body.inl"
#include "safeweights/kernels/detail/instantiate.inl"


namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels {

// n elements of dtype `from` (converts_to_f32(from) must hold) to float.
inline void to_f32(dtype from, const std::byte* src, float* dst, std::size_t n) noexcept {
  SAFEWEIGHTS_DISPATCH(to_f32, from, src, dst, n);
}

inline void bf16_to_f32(const std::byte* src, float* dst, std::size_t n) noexcept {
  SAFEWEIGHTS_DISPATCH(bf16_to_f32, src, dst, n);
}

inline void f16_to_f32(const std::byte* src, float* dst, std::size_t n) noexcept {
  SAFEWEIGHTS_DISPATCH(f16_to_f32, src, dst, n);
}

inline void f32_to_bf16(const float* src, std::byte* dst, std::size_t n) noexcept {
  SAFEWEIGHTS_DISPATCH(f32_to_bf16, src, dst, n);
}

inline void f32_to_f16(const float* src, std::byte* dst, std::size_t n) noexcept {
  SAFEWEIGHTS_DISPATCH(f32_to_f16, src, dst, n);
}

// n floats to a compute type (F32, BF16 or F16).
inline void from_f32(const float* src, dtype to, std::byte* dst, std::size_t n) noexcept {
  if (to == dtype::BF16) return f32_to_bf16(src, dst, n);
  if (to == dtype::F16) return f32_to_f16(src, dst, n);
  if (n) std::memcpy(dst, src, n * 4);
}

// n elements from any converts_to_f32() dtype to a compute type, through
// float a block at a time (one rounding for F16 and BF16 sources; two for
// F64 and wide integers going to F16 or BF16).
inline void convert(dtype from, const std::byte* src, dtype to, std::byte* dst, std::size_t n) noexcept {
  if (from == to) {
    if (n) std::memcpy(dst, src, n * byte_width(from));
    return;
  }
  if (to == dtype::F32) return to_f32(from, src, reinterpret_cast<float*>(dst), n);
  constexpr std::size_t block = 1024;
  alignas(64) float tmp[block];
  for (std::size_t i = 0; i < n; i += block) {
    std::size_t m = n - i < block ? n - i : block;
    to_f32(from, src + i * byte_width(from), tmp, m);
    from_f32(tmp, to, dst + i * byte_width(to), m);
  }
}

}  // namespace kernels
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
