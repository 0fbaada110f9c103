// What the layers share: checking an input's shape and dtype, and reading
// their weights as the kernels want them. Shape errors in forward() are the
// caller's and throw sw::exception (errc::invalid_argument).
#pragma once

#include <string>

#include "safeweights/kernels/convert.hpp"
#include "safeweights/nn/tensor.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn::internal {

[[noreturn]] inline void fail(const std::string& what) { throw exception(make_error(errc::invalid_argument, what)); }

// x must be F32 with last dimension `width`; returns the number of rows.
inline std::size_t rows_of(const tensor& x, std::size_t width, const char* layer) {
  if (x.type() != dtype::F32) fail(std::string(layer) + ": input is " + std::string(dtype_name(x.type())) + ", not F32");
  if (x.rank() == 0 || x.shape().back() != width)
    fail(std::string(layer) + ": input of shape " + shape_text(x.shape()) + " does not end in " + std::to_string(width));
  return x.numel() / width;
}

// Weights the kernels compute with directly.
inline void require_compute_type(const tensor& w, const char* layer) {
  if (!kernels::is_compute_type(w.type()))
    fail(std::string(layer) + ": weights are " + std::string(dtype_name(w.type())) + "; F32, BF16 or F16 expected");
}

inline shape_type with_last(shape_type shape, std::size_t last) {
  shape.back() = last;
  return shape;
}

}  // namespace nn::internal
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
