// nn::tensor <-> xtensor: an F32 tensor seen as an xtensor expression with
// its shape (no copy; keep the tensor alive while using it), and an xtensor
// expression evaluated into a new F32 tensor. Needs xtensor (and, for its
// SIMD paths, xsimd with XTENSOR_USE_XSIMD); the rest of nn/ does not.
#pragma once

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "safeweights/nn/tensor.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

// Read-only view of an F32 tensor's elements, row-major, with its shape.
inline auto as_xtensor(const tensor& t) {
  return xt::adapt(t.f32(), t.numel(), xt::no_ownership(), t.shape());
}

// Writable view; copies a borrowed or shared tensor's bytes first (copy on write).
inline auto as_mutable_xtensor(tensor& t) {
  float* p = t.mutable_f32();
  return xt::adapt(p, t.numel(), xt::no_ownership(), t.shape());
}

// Any xtensor expression of floats, evaluated into a new F32 tensor.
template <class E>
tensor from_xtensor(const xt::xexpression<E>& e) {
  xt::xarray<float> values = e.derived_cast();
  shape_type shape(values.shape().begin(), values.shape().end());
  tensor t = tensor::empty(dtype::F32, std::move(shape));
  std::copy(values.begin(), values.end(), t.mutable_f32());
  return t;
}

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
