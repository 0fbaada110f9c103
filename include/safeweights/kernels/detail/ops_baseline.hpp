// The baseline vector operations every kernel body is written against:
// xsimd's SSE2 batches (4 floats), available on every x86-64 CPU.
//
// The operation set, shared with ops_avx2.hpp (same names, same results bar
// the rounding of fused multiply-adds):
//   vf, vi          float and int32 vectors of `width` lanes; vf supports + - * /
//   zero, set1, load, store          (unaligned)
//   fmadd(a, b, c)  a * b + c, fused where the instruction set has FMA
//   max, min, hsum, hmax
//   set1_i, load_i32, widen_u16, widen_i16, widen_u8, widen_i8  (`width` elements to int32 lanes)
//   to_float (int32 -> float, round to nearest), truncate (float -> int32), as_float / as_int (bit casts)
//   add_i, sub_i, and_i, or_i, shl<n>, shr<n> (logical), eq_i, gt_i, less, is_nan (masks), select_i, select
//   store_u16 (low halves of the lanes), store_f16 (round to nearest even, as float_to_f16),
//   lookup (table[byte] per lane), load_f64, transpose (a width x width block)
#pragma once

#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "safeweights/version.hpp"

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels::detail {

struct baseline_ops {
#if defined(__x86_64__)
  using arch = xsimd::sse2;
#else
  using arch = xsimd::default_arch;
#endif
  using vf = xsimd::batch<float, arch>;
  using vi = xsimd::batch<std::int32_t, arch>;
  static constexpr std::size_t width = vf::size;
  // Register blocking of the matrix-product micro-kernel: rows x vectors.
  static constexpr std::size_t gemm_rows = 4;
  static constexpr std::size_t gemm_vectors = 2;

  static vf zero() noexcept { return vf(0.0f); }
  static vf set1(float x) noexcept { return vf(x); }
  static vf load(const float* p) noexcept { return vf::load_unaligned(p); }
  static void store(float* p, vf v) noexcept { v.store_unaligned(p); }
  static vf fmadd(vf a, vf b, vf c) noexcept { return a * b + c; }
  static vf max(vf a, vf b) noexcept { return xsimd::max(a, b); }
  static vf min(vf a, vf b) noexcept { return xsimd::min(a, b); }
  static float hsum(vf v) noexcept { return xsimd::hadd(v); }
  static float hmax(vf v) noexcept {
    alignas(64) float t[width];
    v.store_aligned(t);
    float m = t[0];
    for (std::size_t i = 1; i < width; ++i) m = t[i] > m ? t[i] : m;
    return m;
  }

  static vi set1_i(std::int32_t x) noexcept { return vi(x); }
  static vi load_i32(const void* p) noexcept {
    alignas(64) std::int32_t t[width];
    std::memcpy(t, p, sizeof t);
    return vi::load_aligned(t);
  }
  static vf to_float(vi v) noexcept { return xsimd::batch_cast<float>(v); }
  static vi truncate(vf v) noexcept { return xsimd::batch_cast<std::int32_t>(v); }
  static vf as_float(vi v) noexcept { return xsimd::bitwise_cast<vf>(v); }
  static vi as_int(vf v) noexcept { return xsimd::bitwise_cast<vi>(v); }
  static vi add_i(vi a, vi b) noexcept { return a + b; }
  static vi sub_i(vi a, vi b) noexcept { return a - b; }
  static vi and_i(vi a, vi b) noexcept { return a & b; }
  static vi or_i(vi a, vi b) noexcept { return a | b; }
  template <int n>
  static vi shl(vi v) noexcept { return v << n; }
  template <int n>
  static vi shr(vi v) noexcept {
    using vu = xsimd::batch<std::uint32_t, arch>;
    return xsimd::bitwise_cast<vi>(xsimd::bitwise_cast<vu>(v) >> n);
  }
  static vi eq_i(vi a, vi b) noexcept { return xsimd::bitwise_cast<arch>(a == b); }
  static vi gt_i(vi a, vi b) noexcept { return xsimd::bitwise_cast<arch>(a > b); }
  static vi less(vf a, vf b) noexcept { return xsimd::bitwise_cast<vi>(xsimd::bitwise_cast<arch>(a < b)); }
  static vi is_nan(vf a) noexcept { return xsimd::bitwise_cast<vi>(xsimd::bitwise_cast<arch>(xsimd::isnan(a))); }
  static vi select_i(vi mask, vi a, vi b) noexcept { return (mask & a) | (~mask & b); }
  static vf select(vi mask, vf a, vf b) noexcept { return as_float(select_i(mask, as_int(a), as_int(b))); }

#if defined(__x86_64__)
  static vi widen_u16(const void* p) noexcept {
    __m128i h = _mm_loadl_epi64(static_cast<const __m128i*>(p));
    return _mm_unpacklo_epi16(h, _mm_setzero_si128());
  }
  static vi widen_i16(const void* p) noexcept {
    __m128i h = _mm_loadl_epi64(static_cast<const __m128i*>(p));
    return _mm_srai_epi32(_mm_unpacklo_epi16(h, h), 16);
  }
  static vi widen_u8(const void* p) noexcept {
    std::int32_t four;
    std::memcpy(&four, p, 4);
    __m128i z = _mm_setzero_si128();
    return _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(four), z), z);
  }
  static vi widen_i8(const void* p) noexcept {
    std::int32_t four;
    std::memcpy(&four, p, 4);
    __m128i b = _mm_cvtsi32_si128(four);
    __m128i w = _mm_unpacklo_epi8(b, b);
    return _mm_srai_epi32(_mm_unpacklo_epi16(w, w), 24);
  }
  // Sign-extending the low halves first makes the saturating pack exact.
  static void store_u16(void* p, vi v) noexcept {
    __m128i s = _mm_srai_epi32(_mm_slli_epi32(v, 16), 16);
    _mm_storel_epi64(static_cast<__m128i*>(p), _mm_packs_epi32(s, s));
  }
  static vf load_f64(const void* p) noexcept {
    const auto* d = static_cast<const double*>(p);
    __m128 lo = _mm_cvtpd_ps(_mm_loadu_pd(d));
    __m128 hi = _mm_cvtpd_ps(_mm_loadu_pd(d + 2));
    return _mm_movelh_ps(lo, hi);
  }
#else
  template <class T>
  static vi widen(const void* p) noexcept {
    alignas(64) std::int32_t t[width];
    for (std::size_t i = 0; i < width; ++i) {
      T x;
      std::memcpy(&x, static_cast<const char*>(p) + i * sizeof(T), sizeof(T));
      t[i] = static_cast<std::int32_t>(x);
    }
    return vi::load_aligned(t);
  }
  static vi widen_u16(const void* p) noexcept { return widen<std::uint16_t>(p); }
  static vi widen_i16(const void* p) noexcept { return widen<std::int16_t>(p); }
  static vi widen_u8(const void* p) noexcept { return widen<std::uint8_t>(p); }
  static vi widen_i8(const void* p) noexcept { return widen<std::int8_t>(p); }
  static void store_u16(void* p, vi v) noexcept {
    alignas(64) std::int32_t t[width];
    v.store_aligned(t);
    for (std::size_t i = 0; i < width; ++i) {
      auto h = static_cast<std::uint16_t>(t[i]);
      std::memcpy(static_cast<char*>(p) + 2 * i, &h, 2);
    }
  }
  static vf load_f64(const void* p) noexcept {
    alignas(64) float t[width];
    for (std::size_t i = 0; i < width; ++i) {
      double d;
      std::memcpy(&d, static_cast<const char*>(p) + 8 * i, 8);
      t[i] = static_cast<float>(d);
    }
    return vf::load_aligned(t);
  }
#endif

  // float_to_f16 (format/elements.hpp) on every lane at once: the three
  // outcomes (NaN or infinity, subnormal, normal) are computed and selected.
  static void store_f16(void* p, vf v) noexcept {
    vi x = as_int(v);
    vi sign = and_i(shr<16>(x), set1_i(0x8000));
    vi abs = and_i(x, set1_i(0x7fffffff));
    vi nan = or_i(set1_i(0x7e00), and_i(shr<13>(abs), set1_i(0x3ff)));
    vf scaled = as_float(abs) * set1(0x1p24f) + set1(0x1p23f);
    vi subnormal = sub_i(as_int(scaled), set1_i(0x4b000000));
    vi odd = and_i(shr<13>(abs), set1_i(1));
    vi normal = shr<13>(add_i(add_i(abs, set1_i(static_cast<std::int32_t>(0xc8000fffu))), odd));
    vi r = select_i(gt_i(set1_i(0x38800000), abs), subnormal, normal);
    r = select_i(gt_i(abs, set1_i(0x477fefff)), set1_i(0x7c00), r);
    r = select_i(gt_i(abs, set1_i(0x7f800000)), nan, r);
    store_u16(p, or_i(r, sign));
  }

  // dst[c * dst_stride + r] = src[r * src_stride + c] for a width x width block.
  static void transpose(const float* src, std::size_t src_stride, float* dst, std::size_t dst_stride) noexcept {
    vf r[width];
    for (std::size_t i = 0; i < width; ++i) r[i] = load(src + i * src_stride);
    alignas(64) float t[width][width];
    for (std::size_t i = 0; i < width; ++i) r[i].store_aligned(t[i]);
    for (std::size_t c = 0; c < width; ++c)
      for (std::size_t i = 0; i < width; ++i) dst[c * dst_stride + i] = t[i][c];
  }
  static vf lookup(const float* table, const void* bytes) noexcept {
    alignas(64) float t[width];
    const auto* b = static_cast<const unsigned char*>(bytes);
    for (std::size_t i = 0; i < width; ++i) t[i] = table[b[i]];
    return vf::load_aligned(t);
  }
};

namespace baseline {
using ops = baseline_ops;
}

}  // namespace kernels::detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
