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

// Keys and values of positions [0, length), room for `capacity`. The room is
// reserved, not written: memory is spent as positions are added (and in
// small pages, so a short session stays small).
struct kv_cache {
  kv_cache() = default;
  kv_cache(std::size_t capacity, std::size_t width) : width(width), capacity(capacity) {
    keys.reserve(capacity * width);
    values.reserve(capacity * width);
  }
  // Appends one position's key and value (width floats each).
  void append(const float* key, const float* value) {
    keys.insert(keys.end(), key, key + width);
    values.insert(values.end(), value, value + width);
    ++length;
  }
  std::vector<float> keys, values;
  std::size_t width = 0, length = 0, capacity = 0;
};

class causal_self_attention : public layer {
 public:
  causal_self_attention(std::size_t width, std::size_t heads, dtype type = dtype::F32)
      : c_attn(width, 3 * width, type), c_proj(width, width, type), heads_(heads), width_(width) {
    if (heads == 0 || width % heads != 0)
      internal::fail("attention: width " + std::to_string(width) + " is not a multiple of " + std::to_string(heads) + " heads");
    register_module("c_attn", c_attn);
    register_module("c_proj", c_proj);
  }

  conv1d c_attn, c_proj;

  std::size_t heads() const noexcept { return heads_; }

  // x [T, width] at positions 0..T-1.
  tensor forward(const tensor& x) const override {
    const std::size_t rows = internal::rows_of(x, width_, "attention");
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
        internal::fail("attention: " + std::to_string(cache->length + rows) + " positions exceed the cache's " +
                     std::to_string(cache->capacity));
      if (cache->width != d) internal::fail("attention: the cache is " + std::to_string(cache->width) + " wide, not " + std::to_string(d));
      const std::size_t first = cache->length;
      for (std::size_t t = 0; t < rows; ++t) cache->append(qkv.data() + t * 3 * d + d, qkv.data() + t * 3 * d + 2 * d);
      kernels::causal_attention(qkv.data(), 3 * d, cache->keys.data(), cache->values.data(), d, first, rows, heads_,
                                head_dim, mixed.data(), d);
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
