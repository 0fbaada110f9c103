// Activation functions on float arrays, in place, and the residual sum.
//   relu, gelu_tanh (GPT-2's gelu_new), gelu_erf (exact GELU), silu, add_to (y += x)
// Each element gets the same arithmetic whatever its position, so a value's
// result does not depend on the array's length or alignment.
#pragma once

#include <cstddef>

#include "safeweights/kernels/detail/dispatch.hpp"
#include "safeweights/kernels/detail/vector_math.hpp"

#define SAFEWEIGHTS_KERNEL_BODY "safeweights/kernels/detail/activations_body.inl"
#include "safeweights/kernels/detail/instantiate.inl"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels {

inline void relu(float* x, std::size_t n) noexcept { SAFEWEIGHTS_DISPATCH(relu, x, n); }
inline void gelu_tanh(float* x, std::size_t n) noexcept { SAFEWEIGHTS_DISPATCH(gelu_tanh, x, n); }
inline void gelu_erf(float* x, std::size_t n) noexcept { SAFEWEIGHTS_DISPATCH(gelu_erf, x, n); }
inline void silu(float* x, std::size_t n) noexcept { SAFEWEIGHTS_DISPATCH(silu, x, n); }
inline void add_to(float* y, const float* x, std::size_t n) noexcept { SAFEWEIGHTS_DISPATCH(add_to, y, x, n); }

}  // namespace kernels
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
