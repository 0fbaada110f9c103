// The activation layers: torch.nn.ReLU, GELU (approximate="tanh" or "none"),
// SiLU, Softmax (over the last dimension) and Flatten. No parameters.
#pragma once

#include "safeweights/kernels/activations.hpp"
#include "safeweights/kernels/softmax.hpp"
#include "safeweights/nn/layers/layer_checks.hpp"
#include "safeweights/nn/module.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

namespace internal {
// A copy of x (F32) with `f` applied in place.
template <class F>
tensor mapped(const tensor& x, const char* layer, F f) {
  if (x.type() != dtype::F32) fail(std::string(layer) + ": input is not F32");
  tensor y = tensor::empty(dtype::F32, x.shape());
  if (x.nbytes()) std::memcpy(y.mutable_data(), x.data(), x.nbytes());
  f(y.mutable_f32(), y.numel());
  return y;
}
}  // namespace internal

class relu : public layer {
 public:
  tensor forward(const tensor& x) const override { return internal::mapped(x, "relu", kernels::relu); }
};

class gelu : public layer {
 public:
  enum class approximation { none, tanh };
  explicit gelu(approximation a = approximation::none) : approximation_(a) {}
  tensor forward(const tensor& x) const override {
    return internal::mapped(x, "gelu", approximation_ == approximation::tanh ? kernels::gelu_tanh : kernels::gelu_erf);
  }

 private:
  approximation approximation_;
};

class silu : public layer {
 public:
  tensor forward(const tensor& x) const override { return internal::mapped(x, "silu", kernels::silu); }
};

class softmax : public layer {
 public:
  tensor forward(const tensor& x) const override {
    const std::size_t n = x.rank() ? x.shape().back() : 1;
    return internal::mapped(x, "softmax", [n](float* p, std::size_t total) {
      if (n) kernels::softmax_rows(p, total / n, n, n);
    });
  }
};

// Joins dimensions [start, end] into one (torch.nn.Flatten: start 1, end -1).
class flatten : public layer {
 public:
  explicit flatten(std::size_t start = 1) : start_(start) {}
  tensor forward(const tensor& x) const override {
    if (x.rank() <= start_) return x;
    shape_type shape(x.shape().begin(), x.shape().begin() + static_cast<std::ptrdiff_t>(start_));
    std::size_t rest = 1;
    for (std::size_t d = start_; d < x.rank(); ++d) rest *= x.dim(d);
    shape.push_back(rest);
    return x.reshaped(std::move(shape));
  }

 private:
  std::size_t start_;
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
