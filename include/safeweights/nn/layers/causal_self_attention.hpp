// Causal multi-head self-attention as GPT-2 builds it: c_attn (Conv1D
// d -> 3d) makes q, k and v, each position attends to itself and the ones
// before it, c_proj (Conv1D d -> d) mixes the heads.
//
// A kv_cache keeps the keys and values of earlier positions, so decoding a
// token costs one position's work instead of the whole sequence's.
#pragma once

#include <cstring>
#include <vector>

#include "safeweights/kernels/attention.hpp"
#include "safeweights/nn/layers/conv1d.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

// Keys and values of positions [0, length), room for `capacity` (in fresh
// zero pages: memory is spent only as positions are written).
struct kv_cache {
  kv_cache() = default;
  kv_cache(std::size_t capacity, std::size_t width)
      : key_rows(tensor::zeros(dtype::F32, {capacity, width})), value_rows(tensor::zeros(dtype::F32, {capacity, width})),
        capacity(capacity) {}
  float* keys() { return key_rows.mutable_f32(); }
  float* values() { return value_rows.mutable_f32(); }
  tensor key_rows, value_rows;
  std::size_t length = 0, capacity = 0;
};

class causal_self_attention : public layer {
 public:
  causal_self_attention(std::size_t width, std::size_t heads, dtype type = dtype::F32)
      : c_attn(width, 3 * width, type), c_proj(width, width, type), heads_(heads), width_(width) {
    if (heads == 0 || width % heads != 0)
      detail::fail("attention: width " + std::to_string(width) + " is not a multiple of " + std::to_string(heads) + " heads");
    register_module("c_attn", c_attn);
    register_module("c_proj", c_proj);
  }

  conv1d c_attn, c_proj;

  std::size_t heads() const noexcept { return heads_; }

  // x [T, width] at positions 0..T-1.
  tensor forward(const tensor& x) const override {
    const std::size_t rows = detail::rows_of(x, width_, "attention");
    tensor y = tensor::empty(dtype::F32, x.shape());
    forward_rows(x.f32(), rows, y.mutable_f32(), nullptr);
    return y;
  }

  // rows x width floats at positions [cache->length, + rows) (or [0, rows)
  // without a cache) to rows x width floats; the cache grows by `rows`.
  void forward_rows(const float* x, std::size_t rows, float* y, kv_cache* cache) const {
    const std::size_t d = width_, head_dim = d / heads_;
    std::vector<float> qkv(rows * 3 * d), mixed(rows * d);
    c_attn.forward_rows(x, rows, d, qkv.data(), 3 * d);
    if (cache) {
      if (cache->length + rows > cache->capacity)
        detail::fail("attention: " + std::to_string(cache->length + rows) + " positions exceed the cache's " +
                     std::to_string(cache->capacity));
      for (std::size_t t = 0; t < rows; ++t) {
        std::memcpy(cache->keys() + (cache->length + t) * d, qkv.data() + t * 3 * d + d, d * sizeof(float));
        std::memcpy(cache->values() + (cache->length + t) * d, qkv.data() + t * 3 * d + 2 * d, d * sizeof(float));
      }
      kernels::causal_attention(qkv.data(), 3 * d, cache->keys(), cache->values(), d, cache->length, rows,
                                heads_, head_dim, mixed.data(), d);
      cache->length += rows;
    } else {
      kernels::causal_attention(qkv.data(), 3 * d, qkv.data() + d, qkv.data() + 2 * d, 3 * d, 0, rows, heads_,
                                head_dim, mixed.data(), d);
    }
    c_proj.forward_rows(mixed.data(), rows, d, y, d);
  }

 private:
  std::size_t heads_, width_;
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
