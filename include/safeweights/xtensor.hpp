// xtensor adaptors over tensor data, without copying: the adaptor borrows the
// elements, so keep the typed_tensor (or loaded_tensors) alive while using it.
#pragma once

#include <xtensor/xadapt.hpp>

#include <vector>

#include "safeweights/io/tensor_view.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// The tensor's shape in xtensor's index type.
inline std::vector<std::size_t> shape_of(const tensor_view& view) {
  return {view.shape().begin(), view.shape().end()};
}

// A read-only xtensor view with the tensor's shape, row-major.
template <class T>
auto adapt(const typed_tensor<T>& data, const std::vector<std::size_t>& shape) {
  return xt::adapt(data.data(), data.size(), xt::no_ownership(), shape);
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
