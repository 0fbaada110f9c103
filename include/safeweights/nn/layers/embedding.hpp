// torch.nn.Embedding: row `id` of weight [num, dim] for each id.
#pragma once

#include <cstring>
#include <span>

#include "safeweights/kernels/convert.hpp"
#include "safeweights/nn/layers/layer_checks.hpp"
#include "safeweights/nn/module.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

class embedding : public layer {
 public:
  embedding(std::size_t num, std::size_t dim, dtype type = dtype::F32) {
    register_parameter("weight", weight, tensor::zeros(type, {num, dim}));
  }

  tensor weight;

  std::size_t num_embeddings() const noexcept { return weight.dim(0); }
  std::size_t embedding_dim() const noexcept { return weight.dim(1); }

  // Row `id` as floats into dst[0, dim).
  void row(std::int64_t id, float* dst) const {
    if (id < 0 || static_cast<std::uint64_t>(id) >= num_embeddings())
      internal::fail("embedding: id " + std::to_string(id) + " is outside [0, " + std::to_string(num_embeddings()) + ")");
    internal::require_compute_type(weight, "embedding");
    const std::size_t dim = embedding_dim(), width = byte_width(weight.type());
    kernels::to_f32(weight.type(), weight.data() + static_cast<std::size_t>(id) * dim * width, dst, dim);
  }

  tensor forward(std::span<const std::int64_t> ids) const {
    tensor y = tensor::empty(dtype::F32, {ids.size(), embedding_dim()});
    float* out = y.mutable_f32();
    for (std::size_t i = 0; i < ids.size(); ++i) row(ids[i], out + i * embedding_dim());
    return y;
  }

  // ids: an integer tensor of any shape -> [..., dim]
  tensor forward(const tensor& ids) const override {
    if (!is_integer_type(ids.type())) internal::fail("embedding: ids are " + std::string(dtype_name(ids.type())));
    std::vector<std::int64_t> values(ids.numel());
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = static_cast<std::int64_t>(*scalar_as_double(ids.type(), ids.data(), i));
    shape_type shape = ids.shape();
    shape.push_back(embedding_dim());
    return forward(values).reshaped(std::move(shape));
  }
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
