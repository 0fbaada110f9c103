// Causal multi-head self-attention over float rows; compiled once per
// instruction set.

inline float dot(const float* a, const float* b, std::size_t n) noexcept {
  ops::vf acc = ops::zero();
  std::size_t i = 0;
  for (; i + ops::width <= n; i += ops::width) acc = ops::fmadd(ops::load(a + i), ops::load(b + i), acc);
  float s = ops::hsum(acc);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// y += a x.
inline void axpy(float a, const float* x, float* y, std::size_t n) noexcept {
  const ops::vf av = ops::set1(a);
  std::size_t i = 0;
  for (; i + ops::width <= n; i += ops::width) ops::store(y + i, ops::fmadd(av, ops::load(x + i), ops::load(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

// One head, one query row: out = softmax(q . k_s / sqrt(d), s <= last) . v.
inline void attend(const float* q, const float* k, const float* v, std::size_t kv_stride, std::size_t keys,
                   std::size_t head_dim, float scale, float* scores, float* out) noexcept {
  for (std::size_t s = 0; s < keys; ++s) scores[s] = dot(q, k + s * kv_stride, head_dim) * scale;
  softmax(scores, keys);
  for (std::size_t i = 0; i < head_dim; ++i) out[i] = 0.0f;
  for (std::size_t s = 0; s < keys; ++s) axpy(scores[s], v + s * kv_stride, out, head_dim);
}

inline void causal_attention(const float* q, std::size_t q_stride, const float* k, const float* v,
                             std::size_t kv_stride, std::size_t first, std::size_t queries, std::size_t heads,
                             std::size_t head_dim, float* out, std::size_t out_stride) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const std::size_t jobs = heads * queries;
  const std::size_t parts = std::min(parts_for(std::uint64_t{jobs} * (first + queries) * head_dim, 1 << 15), jobs);
  parallel_parts(parts, [&](std::size_t part) {
    scratch& memory = SAFEWEIGHTS_THREAD_CACHED(scratch);
    float* scores = memory.floats(first + queries);
    for (std::size_t j = jobs * part / parts; j < jobs * (part + 1) / parts; ++j) {
      const std::size_t h = j / queries, t = j % queries;
      attend(q + t * q_stride + h * head_dim, k + h * head_dim, v + h * head_dim, kv_stride, first + t + 1, head_dim,
             scale, scores, out + t * out_stride + h * head_dim);
    }
  });
}
