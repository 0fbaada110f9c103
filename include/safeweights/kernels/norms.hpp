// Normalisation of float rows: LayerNorm (mean and variance, two passes) and
// RMSNorm, with gain and bias in any compute type (F32, BF16, F16) or absent.
// `out` may be `x` itself.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "safeweights/kernels/convert.hpp"
#include "safeweights/kernels/detail/scratch.hpp"
#include "safeweights/kernels/matrix_ref.hpp"

#define SAFEWEIGHTS_KERNEL_BODY "safeweights/kernels/detail/norms_body.inl"
#include "safeweights/kernels/detail/instantiate.inl"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels {

// `rows` rows of n floats, `stride` apart; a null gain is 1, a null bias 0.
inline void layer_norm(const float* x, std::size_t rows, std::size_t n, std::size_t stride, const vector_ref* gain,
                       const vector_ref* bias, float eps, float* out, std::size_t out_stride) {
  if (n == 0) return;
  SAFEWEIGHTS_DISPATCH(layer_norm, x, rows, n, stride, gain, bias, eps, out, out_stride);
}

inline void rms_norm(const float* x, std::size_t rows, std::size_t n, std::size_t stride, const vector_ref* gain,
                     float eps, float* out, std::size_t out_stride) {
  if (n == 0) return;
  SAFEWEIGHTS_DISPATCH(rms_norm, x, rows, n, stride, gain, eps, out, out_stride);
}

}  // namespace kernels
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
