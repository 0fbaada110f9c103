// Softmax over the last dimension of float rows, in place, with the row's
// maximum subtracted first (no overflow for any finite input).
#pragma once

#include <cstddef>

#include "safeweights/kernels/detail/dispatch.hpp"
#include "safeweights/kernels/detail/vector_math.hpp"

#define SAFEWEIGHTS_KERNEL_BODY "safeweights/kernels/detail/softmax_body.inl"
#include "safeweights/kernels/detail/instantiate.inl"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels {

// One row of n floats.
inline void softmax(float* x, std::size_t n) noexcept { SAFEWEIGHTS_DISPATCH(softmax, x, n); }

// `rows` rows of n floats, `stride` apart.
inline void softmax_rows(float* x, std::size_t rows, std::size_t n, std::size_t stride) noexcept {
  for (std::size_t r = 0; r < rows; ++r) softmax(x + r * stride, n);
}

}  // namespace kernels
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
