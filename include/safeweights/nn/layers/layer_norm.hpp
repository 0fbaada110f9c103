// torch.nn.LayerNorm over the last dimension: weight (gain) and bias [dim].
#pragma once

#include "safeweights/kernels/norms.hpp"
#include "safeweights/nn/layers/layer_checks.hpp"
#include "safeweights/nn/module.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

class layer_norm : public layer {
 public:
  explicit layer_norm(std::size_t dim, float eps = 1e-5f, bool affine = true, dtype type = dtype::F32) : eps_(eps), dim_(dim) {
    if (affine) {
      tensor ones = tensor::from_floats(std::vector<float>(dim, 1.0f), {dim});
      register_parameter("weight", weight, type == dtype::F32 ? ones : ones.to(type));
      register_parameter("bias", bias, tensor::zeros(type, {dim}));
    }
  }

  tensor weight, bias;  // undefined when not affine

  float eps() const noexcept { return eps_; }

  tensor forward(const tensor& x) const override {
    const std::size_t rows = internal::rows_of(x, dim_, "layer_norm");
    tensor y = tensor::empty(dtype::F32, x.shape());
    forward_rows(x.f32(), rows, dim_, y.mutable_f32(), dim_);
    return y;
  }

  void forward_rows(const float* x, std::size_t rows, std::size_t stride, float* y, std::size_t y_stride) const {
    const kernels::vector_ref g = weight.vector(), b = bias.vector();
    kernels::layer_norm(x, rows, dim_, stride, weight.defined() ? &g : nullptr, bias.defined() ? &b : nullptr, eps_, y,
                        y_stride);
  }

 private:
  float eps_;
  std::size_t dim_;
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
