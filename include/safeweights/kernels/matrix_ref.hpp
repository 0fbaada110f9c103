// Weights as the kernels read them: a compute type's elements (F32, BF16 or
// F16) where they lie, often a file's mapping, converted to float in
// registers as they are used. No alignment is required.
#pragma once

#include <cstddef>

#include "safeweights/format/dtype.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels {

struct vector_ref {
  const std::byte* data = nullptr;
  dtype type = dtype::F32;
  std::size_t size = 0;
};

// Row-major `rows` x `cols`.
struct matrix_ref {
  const std::byte* data = nullptr;
  dtype type = dtype::F32;
  std::size_t rows = 0, cols = 0;
};

// How a layer stores its weight matrix.
enum class weight_layout : unsigned char {
  out_in,  // [out, in]: torch.nn.Linear, y = x W^T
  in_out,  // [in, out]: GPT-2's Conv1D, y = x W
};

inline vector_ref as_vector_ref(const float* p, std::size_t n) noexcept {
  return {reinterpret_cast<const std::byte*>(p), dtype::F32, n};
}

inline matrix_ref as_matrix_ref(const float* p, std::size_t rows, std::size_t cols) noexcept {
  return {reinterpret_cast<const std::byte*>(p), dtype::F32, rows, cols};
}

}  // namespace kernels
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
