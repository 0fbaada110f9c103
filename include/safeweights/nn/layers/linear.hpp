// torch.nn.Linear: y = x W^T + b, weight [out, in], bias [out].
#pragma once

#include "safeweights/kernels/gemm.hpp"
#include "safeweights/nn/layers/layer_checks.hpp"
#include "safeweights/nn/module.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

class linear : public layer {
 public:
  linear(std::size_t in, std::size_t out, bool with_bias = true, dtype type = dtype::F32) {
    register_parameter("weight", weight, tensor::zeros(type, {out, in}));
    if (with_bias) register_parameter("bias", bias, tensor::zeros(type, {out}));
  }

  tensor weight, bias;  // bias undefined without one

  std::size_t in_features() const noexcept { return weight.dim(1); }
  std::size_t out_features() const noexcept { return weight.dim(0); }

  // x [..., in] -> [..., out]
  tensor forward(const tensor& x) const override {
    const std::size_t rows = internal::rows_of(x, in_features(), "linear");
    internal::require_compute_type(weight, "linear");
    tensor y = tensor::empty(dtype::F32, internal::with_last(x.shape(), out_features()));
    const kernels::vector_ref b = bias.vector();
    kernels::linear(x.f32(), rows, in_features(), weight.matrix(), kernels::weight_layout::out_in,
                    bias.defined() ? &b : nullptr, y.mutable_f32(), out_features());
    return y;
  }
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
