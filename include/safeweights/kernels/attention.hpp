// Causal multi-head self-attention, as GPT-2 computes it: for query row t
// (position first + t) and head h,
//   out[t, h] = sum_{s <= first + t} softmax_s(q[t, h] . k[s, h] / sqrt(d)) v[s, h],
// where each row holds the heads side by side (head h in columns [h d, (h+1) d)).
// Masked positions are left out of the softmax rather than given -1e4, which
// gives the same weights (e^-10000 is 0 in float). k and v hold at least
// first + queries rows (a cache of earlier positions, then the new ones).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "safeweights/kernels/detail/scratch.hpp"
#include "safeweights/kernels/parallel.hpp"
#include "safeweights/kernels/softmax.hpp"

#define SAFEWEIGHTS_KERNEL_BODY "safeweights/kernels/detail/attention_body.inl"
#include "safeweights/kernels/detail/instantiate.inl"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels {

inline void causal_attention(const float* q, std::size_t q_stride, const float* k, const float* v,
                             std::size_t kv_stride, std::size_t first, std::size_t queries, std::size_t heads,
                             std::size_t head_dim, float* out, std::size_t out_stride) {
  if (queries == 0 || heads == 0 || head_dim == 0) return;
  SAFEWEIGHTS_DISPATCH(causal_attention, q, q_stride, k, v, kv_stride, first, queries, heads, head_dim, out,
                       out_stride);
}

}  // namespace kernels
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
