// torch.nn.Conv2d with square kernels, one group and no dilation: weight
// [out, in, k, k], bias [out]; input [N, C, H, W] -> [N, out, H', W'] with
// H' = (H + 2 padding - k) / stride + 1. Computed as im2col and one matrix
// product per image (the weight read as [out, in k k], PyTorch's layout).
#pragma once

#include <vector>

#include "safeweights/kernels/gemm.hpp"
#include "safeweights/nn/layers/layer_checks.hpp"
#include "safeweights/nn/module.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

class conv2d : public layer {
 public:
  conv2d(std::size_t in, std::size_t out, std::size_t kernel, std::size_t stride = 1, std::size_t padding = 0,
         bool with_bias = true, dtype type = dtype::F32)
      : kernel_(kernel), stride_(stride), padding_(padding) {
    if (kernel == 0 || stride == 0) internal::fail("conv2d: kernel and stride must be at least 1");
    register_parameter("weight", weight, tensor::zeros(type, {out, in, kernel, kernel}));
    if (with_bias) register_parameter("bias", bias, tensor::zeros(type, {out}));
  }

  tensor weight, bias;

  tensor forward(const tensor& x) const override {
    const std::size_t out_c = weight.dim(0), in_c = weight.dim(1), k = kernel_;
    if (x.type() != dtype::F32 || x.rank() != 4 || x.dim(1) != in_c)
      internal::fail("conv2d: input of shape " + shape_text(x.shape()) + " is not [N, " + std::to_string(in_c) +
                   ", H, W] F32");
    internal::require_compute_type(weight, "conv2d");
    const std::size_t n = x.dim(0), h = x.dim(2), w = x.dim(3);
    if (h + 2 * padding_ < k || w + 2 * padding_ < k) internal::fail("conv2d: input smaller than the kernel");
    const std::size_t oh = (h + 2 * padding_ - k) / stride_ + 1, ow = (w + 2 * padding_ - k) / stride_ + 1;
    const std::size_t patch = in_c * k * k, positions = oh * ow;
    tensor y = tensor::empty(dtype::F32, {n, out_c, oh, ow});
    std::vector<float> columns(positions * patch), products(positions * out_c);
    const kernels::matrix_ref wm{weight.data(), weight.type(), out_c, patch};
    const kernels::vector_ref b = bias.vector();
    const float* src = x.f32();
    float* dst = y.mutable_f32();
    for (std::size_t img = 0; img < n; ++img) {
      const float* in = src + img * in_c * h * w;
      for (std::size_t py = 0; py < oh; ++py)
        for (std::size_t px = 0; px < ow; ++px) {
          float* col = columns.data() + (py * ow + px) * patch;
          for (std::size_t c = 0; c < in_c; ++c)
            for (std::size_t ky = 0; ky < k; ++ky)
              for (std::size_t kx = 0; kx < k; ++kx) {
                // Signed arithmetic: the padding lies before row and column 0.
                const std::ptrdiff_t iy = static_cast<std::ptrdiff_t>(py * stride_ + ky) - static_cast<std::ptrdiff_t>(padding_);
                const std::ptrdiff_t ix = static_cast<std::ptrdiff_t>(px * stride_ + kx) - static_cast<std::ptrdiff_t>(padding_);
                const bool inside = iy >= 0 && ix >= 0 && iy < static_cast<std::ptrdiff_t>(h) && ix < static_cast<std::ptrdiff_t>(w);
                col[(c * k + ky) * k + kx] = inside ? in[(c * h + static_cast<std::size_t>(iy)) * w + static_cast<std::size_t>(ix)] : 0.0f;
              }
        }
      kernels::linear(columns.data(), positions, patch, wm, kernels::weight_layout::out_in,
                      bias.defined() ? &b : nullptr, products.data(), out_c);
      float* out = dst + img * out_c * positions;
      for (std::size_t p = 0; p < positions; ++p)
        for (std::size_t o = 0; o < out_c; ++o) out[o * positions + p] = products[p * out_c + o];
    }
    return y;
  }

 private:
  std::size_t kernel_, stride_, padding_;
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
