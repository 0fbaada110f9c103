// LayerNorm and RMSNorm of float rows, with the scale and shift read from
// any compute type; compiled once per instruction set.

inline float row_sum(const float* x, std::size_t n) noexcept {
  ops::vf a = ops::zero(), b = ops::zero();
  std::size_t i = 0;
  for (; i + 2 * ops::width <= n; i += 2 * ops::width) {
    a = a + ops::load(x + i);
    b = b + ops::load(x + i + ops::width);
  }
  for (; i + ops::width <= n; i += ops::width) a = a + ops::load(x + i);
  float s = ops::hsum(a + b);
  for (; i < n; ++i) s += x[i];
  return s;
}

// sum over i of (x[i] - mean)^2.
inline float row_squares(const float* x, std::size_t n, float mean) noexcept {
  const ops::vf m = ops::set1(mean);
  ops::vf a = ops::zero();
  std::size_t i = 0;
  for (; i + ops::width <= n; i += ops::width) {
    ops::vf d = ops::load(x + i) - m;
    a = ops::fmadd(d, d, a);
  }
  float s = ops::hsum(a);
  for (; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

// The vector (gain or bias) as floats: `fallback` for a missing one.
inline const float* params_as_floats(const vector_ref* v, std::size_t n, float* buffer, float fallback) noexcept {
  if (v && v->data) {
    if (v->type == dtype::F32 && reinterpret_cast<std::uintptr_t>(v->data) % alignof(float) == 0)
      return reinterpret_cast<const float*>(v->data);
    to_f32(v->type, v->data, buffer, n);
  } else {
    for (std::size_t i = 0; i < n; ++i) buffer[i] = fallback;
  }
  return buffer;
}

// out = (x - mean) / sqrt(var + eps) * gain + bias, row by row.
inline void layer_norm(const float* x, std::size_t rows, std::size_t n, std::size_t stride, const vector_ref* gain,
                       const vector_ref* bias, float eps, float* out, std::size_t out_stride) {
  scratch& memory = SAFEWEIGHTS_THREAD_CACHED(scratch);
  float* buffers = memory.floats(2 * n);
  const float* g = params_as_floats(gain, n, buffers, 1.0f);
  const float* b = params_as_floats(bias, n, buffers + n, 0.0f);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = x + r * stride;
    float* dst = out + r * out_stride;
    const float mean = row_sum(row, n) / static_cast<float>(n);
    const float inv = 1.0f / std::sqrt(row_squares(row, n, mean) / static_cast<float>(n) + eps);
    const ops::vf m = ops::set1(mean), s = ops::set1(inv);
    std::size_t i = 0;
    for (; i + ops::width <= n; i += ops::width)
      ops::store(dst + i, ops::fmadd((ops::load(row + i) - m) * s, ops::load(g + i), ops::load(b + i)));
    for (; i < n; ++i) dst[i] = (row[i] - mean) * inv * g[i] + b[i];
  }
}

// out = x / sqrt(mean(x^2) + eps) * gain, row by row.
inline void rms_norm(const float* x, std::size_t rows, std::size_t n, std::size_t stride, const vector_ref* gain,
                     float eps, float* out, std::size_t out_stride) {
  scratch& memory = SAFEWEIGHTS_THREAD_CACHED(scratch);
  const float* g = params_as_floats(gain, n, memory.floats(n), 1.0f);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = x + r * stride;
    float* dst = out + r * out_stride;
    const float inv = 1.0f / std::sqrt(row_squares(row, n, 0.0f) / static_cast<float>(n) + eps);
    const ops::vf s = ops::set1(inv);
    std::size_t i = 0;
    for (; i + ops::width <= n; i += ops::width) ops::store(dst + i, ops::load(row + i) * s * ops::load(g + i));
    for (; i < n; ++i) dst[i] = row[i] * inv * g[i];
  }
}
