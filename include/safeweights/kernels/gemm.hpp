// Products of activations (float rows) with weight matrices (F32, BF16 or
// F16, read in place and converted in registers): what Linear and GPT-2's
// Conv1D compute.
//
//   linear(x, rows, x_stride, w, layout, bias, y, y_stride)
//     y[m, o] = sum_i x[m, i] W(i, o) + bias[o]   for m < rows,
//     W(i, o) = w[o, i] (weight_layout::out_in, w is [out, in]) or w[i, o] (in_out).
//
// One row goes to gemv, which streams the weights once in their stored order
// (the cost of a token in decoding is reading the model). More rows go to
// gemm: a register-blocked micro-kernel (6 x 16 on AVX2) over weight panels
// packed into L1-sized blocks, the panels split over the kernels' threads.
// x and y are float rows that must not overlap; w and bias need no alignment.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "safeweights/kernels/convert.hpp"
#include "safeweights/kernels/detail/scratch.hpp"
#include "safeweights/kernels/matrix_ref.hpp"
#include "safeweights/kernels/parallel.hpp"

#define SAFEWEIGHTS_KERNEL_BODY "safeweights/kernels/detail/gemm_body.inl"
#include "safeweights/kernels/detail/instantiate.inl"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels {

// The input and output widths of a weight matrix in a layout.
constexpr std::size_t inputs_of(const matrix_ref& w, weight_layout layout) noexcept {
  return layout == weight_layout::in_out ? w.rows : w.cols;
}
constexpr std::size_t outputs_of(const matrix_ref& w, weight_layout layout) noexcept {
  return layout == weight_layout::in_out ? w.cols : w.rows;
}

// One row: y = x . W (+ bias).
inline void gemv(const float* x, const matrix_ref& w, weight_layout layout, const vector_ref* bias, float* y) {
  SAFEWEIGHTS_DISPATCH(gemv, x, w, layout, bias, y);
}

// `rows` rows through the blocked product (any rows >= 1).
inline void gemm(const float* x, std::size_t rows, std::size_t x_stride, const matrix_ref& w, weight_layout layout,
                 const vector_ref* bias, float* y, std::size_t y_stride) {
  if (rows == 0) return;
  SAFEWEIGHTS_DISPATCH(gemm, x, rows, x_stride, w, layout, bias, y, y_stride);
}

// The product a layer wants, by the fastest route for the row count.
inline void linear(const float* x, std::size_t rows, std::size_t x_stride, const matrix_ref& w, weight_layout layout,
                   const vector_ref* bias, float* y, std::size_t y_stride) {
  if (rows == 1) return gemv(x, w, layout, bias, y);
  gemm(x, rows, x_stride, w, layout, bias, y, y_stride);
}

}  // namespace kernels
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
