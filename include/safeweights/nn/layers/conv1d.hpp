// GPT-2's Conv1D (transformers.pytorch_utils.Conv1D): a linear layer whose
// weight is stored [in, out], y = x W + b. Despite the name, no convolution.
#pragma once

#include "safeweights/kernels/gemm.hpp"
#include "safeweights/nn/layers/layer_checks.hpp"
#include "safeweights/nn/module.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

class conv1d : public layer {
 public:
  conv1d(std::size_t in, std::size_t out, dtype type = dtype::F32) {
    register_parameter("weight", weight, tensor::zeros(type, {in, out}));
    register_parameter("bias", bias, tensor::zeros(type, {out}));
  }

  tensor weight, bias;

  std::size_t in_features() const noexcept { return weight.dim(0); }
  std::size_t out_features() const noexcept { return weight.dim(1); }

  // x [..., in] -> [..., out]
  tensor forward(const tensor& x) const override {
    const std::size_t rows = internal::rows_of(x, in_features(), "conv1d");
    tensor y = tensor::empty(dtype::F32, internal::with_last(x.shape(), out_features()));
    forward_rows(x.f32(), rows, in_features(), y.mutable_f32(), out_features());
    return y;
  }

  // The same on raw float rows (for callers that keep their own buffers).
  void forward_rows(const float* x, std::size_t rows, std::size_t x_stride, float* y, std::size_t y_stride) const {
    internal::require_compute_type(weight, "conv1d");
    const kernels::vector_ref b = bias.vector();
    kernels::linear(x, rows, x_stride, weight.matrix(), kernels::weight_layout::in_out, &b, y, y_stride);
  }
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
