// The AVX2+FMA+F16C vector operations (8 floats), with the names and results
// of baseline_ops (ops_baseline.hpp lists them). Compiled inside the AVX2
// target region; called only when kernels::detected_isa() says the CPU has it.
#pragma once

#include "safeweights/kernels/isa.hpp"

#if SAFEWEIGHTS_HAVE_AVX2_PATH

#include <cstdint>
#include <cstring>

#include "safeweights/kernels/detail/target_region.hpp"

SAFEWEIGHTS_AVX2_REGION_BEGIN
namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels::detail {

struct avx2_ops {
  using vf = __m256;
  using vi = __m256i;
  static constexpr std::size_t width = 8;
  // 6 rows x 2 vectors: 12 accumulators, 2 loads and 6 broadcasts per step.
  static constexpr std::size_t gemm_rows = 6;
  static constexpr std::size_t gemm_vectors = 2;

  static vf zero() noexcept { return _mm256_setzero_ps(); }
  static vf set1(float x) noexcept { return _mm256_set1_ps(x); }
  static vf load(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static void store(float* p, vf v) noexcept { _mm256_storeu_ps(p, v); }
  static vf fmadd(vf a, vf b, vf c) noexcept { return _mm256_fmadd_ps(a, b, c); }
  static vf max(vf a, vf b) noexcept { return _mm256_max_ps(a, b); }
  static vf min(vf a, vf b) noexcept { return _mm256_min_ps(a, b); }
  static float hsum(vf v) noexcept {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  static float hmax(vf v) noexcept {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }

  static vi set1_i(std::int32_t x) noexcept { return _mm256_set1_epi32(x); }
  static vi load_i32(const void* p) noexcept { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static vf to_float(vi v) noexcept { return _mm256_cvtepi32_ps(v); }
  static vi truncate(vf v) noexcept { return _mm256_cvttps_epi32(v); }
  static vf as_float(vi v) noexcept { return _mm256_castsi256_ps(v); }
  static vi as_int(vf v) noexcept { return _mm256_castps_si256(v); }
  static vi add_i(vi a, vi b) noexcept { return _mm256_add_epi32(a, b); }
  static vi sub_i(vi a, vi b) noexcept { return _mm256_sub_epi32(a, b); }
  static vi and_i(vi a, vi b) noexcept { return _mm256_and_si256(a, b); }
  static vi or_i(vi a, vi b) noexcept { return _mm256_or_si256(a, b); }
  template <int n>
  static vi shl(vi v) noexcept { return _mm256_slli_epi32(v, n); }
  template <int n>
  static vi shr(vi v) noexcept { return _mm256_srli_epi32(v, n); }
  static vi eq_i(vi a, vi b) noexcept { return _mm256_cmpeq_epi32(a, b); }
  static vi gt_i(vi a, vi b) noexcept { return _mm256_cmpgt_epi32(a, b); }
  static vi less(vf a, vf b) noexcept { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  static vi is_nan(vf a) noexcept { return _mm256_castps_si256(_mm256_cmp_ps(a, a, _CMP_UNORD_Q)); }
  static vi select_i(vi mask, vi a, vi b) noexcept { return _mm256_blendv_epi8(b, a, mask); }
  static vf select(vi mask, vf a, vf b) noexcept { return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(mask)); }

  static vi widen_u16(const void* p) noexcept {
    return _mm256_cvtepu16_epi32(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  static vi widen_i16(const void* p) noexcept {
    return _mm256_cvtepi16_epi32(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  static vi widen_u8(const void* p) noexcept {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(static_cast<const __m128i*>(p)));
  }
  static vi widen_i8(const void* p) noexcept {
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64(static_cast<const __m128i*>(p)));
  }
  // The lanes hold values below 2^16, so the unsigned saturating pack is exact;
  // it packs within 128-bit halves, so the halves are put back in order after.
  static void store_u16(void* p, vi v) noexcept {
    __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(v, v), 0x08);
    _mm_storeu_si128(static_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
  }
  // F16C rounds to nearest even and quiets NaNs exactly as float_to_f16 does.
  static void store_f16(void* p, vf v) noexcept {
    _mm_storeu_si128(static_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static vf load_f64(const void* p) noexcept {
    const auto* d = static_cast<const double*>(p);
    __m128 lo = _mm256_cvtpd_ps(_mm256_loadu_pd(d));
    __m128 hi = _mm256_cvtpd_ps(_mm256_loadu_pd(d + 4));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
  }
  // dst[c * dst_stride + r] = src[r * src_stride + c] for an 8 x 8 block.
  static void transpose(const float* src, std::size_t src_stride, float* dst, std::size_t dst_stride) noexcept {
    __m256 r[8], t[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
#pragma GCC unroll 4
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 2
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
      r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      _mm256_storeu_ps(dst + i * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
      _mm256_storeu_ps(dst + (i + 4) * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
  }
  static vf lookup(const float* table, const void* bytes) noexcept {
    return _mm256_i32gather_ps(table, widen_u8(bytes), 4);
  }
};

namespace avx2 {
using ops = avx2_ops;
}

}  // namespace kernels::detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
SAFEWEIGHTS_AVX2_REGION_END

#endif  // SAFEWEIGHTS_HAVE_AVX2_PATH
