// Softmax of a float row in place: e^(x - max) / sum; compiled once per
// instruction set.

inline float row_max(const float* x, std::size_t n) noexcept {
  std::size_t i = 0;
  float m = -__builtin_inff();
  if (n >= ops::width) {
    ops::vf mv = ops::load(x);
    for (i = ops::width; i + ops::width <= n; i += ops::width) mv = ops::max(mv, ops::load(x + i));
    m = ops::hmax(mv);
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

inline void softmax(float* x, std::size_t n) noexcept {
  if (n == 0) return;
  const ops::vf m = ops::set1(row_max(x, n));
  ops::vf sum = ops::zero();
  std::size_t i = 0;
  for (; i + ops::width <= n; i += ops::width) {
    ops::vf e = exp_lanes(ops::load(x + i) - m);
    ops::store(x + i, e);
    sum = sum + e;
  }
  float total = ops::hsum(sum);
  if (i < n) {
    alignas(64) float tail[ops::width];
    for (std::size_t j = 0; j < ops::width; ++j) tail[j] = i + j < n ? x[i + j] : -__builtin_inff();
    ops::vf e = exp_lanes(ops::load(tail) - m);
    ops::store(tail, e);
    for (std::size_t j = i; j < n; ++j) {
      x[j] = tail[j - i];
      total += tail[j - i];
    }
  }
  const ops::vf inv = ops::set1(1.0f / total);
  for (i = 0; i + ops::width <= n; i += ops::width) ops::store(x + i, ops::load(x + i) * inv);
  const float s = 1.0f / total;
  for (; i < n; ++i) x[i] *= s;
}
