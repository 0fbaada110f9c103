// RMSNorm over the last dimension (torch.nn.RMSNorm, LLaMA's): x / rms(x) * weight.
#pragma once

#include "safeweights/kernels/norms.hpp"
#include "safeweights/nn/layers/layer_checks.hpp"
#include "safeweights/nn/module.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

class rms_norm : public layer {
 public:
  explicit rms_norm(std::size_t dim, float eps = 1e-6f, dtype type = dtype::F32) : eps_(eps), dim_(dim) {
    tensor ones = tensor::from_floats(std::vector<float>(dim, 1.0f), {dim});
    register_parameter("weight", weight, type == dtype::F32 ? ones : ones.to(type));
  }

  tensor weight;

  tensor forward(const tensor& x) const override {
    const std::size_t rows = internal::rows_of(x, dim_, "rms_norm");
    tensor y = tensor::empty(dtype::F32, x.shape());
    const kernels::vector_ref g = weight.vector();
    kernels::rms_norm(x.f32(), rows, dim_, dim_, &g, eps_, y.mutable_f32(), dim_);
    return y;
  }

 private:
  float eps_;
  std::size_t dim_;
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
