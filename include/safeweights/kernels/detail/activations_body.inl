// Element-wise activations and sums on float arrays, in place; compiled
// once per instruction set.

inline ops::vf relu_lanes(ops::vf x) noexcept { return ops::max(x, ops::zero()); }

// GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written
// as x sigmoid(2u) (the same function: 0.5 (1 + tanh u) = sigmoid(2u)).
inline ops::vf gelu_tanh_lanes(ops::vf x) noexcept {
  ops::vf u = x * ops::fmadd(x * x, ops::set1(0.044715f * 0.7978845608028654f), ops::set1(0.7978845608028654f));
  return x * sigmoid_lanes(u + u);
}

// The exact GELU: 0.5 x (1 + erf(x / sqrt 2)), with 1 + erf(z) taken as
// erfc(-z) for z < 0 and 2 - erfc(z) otherwise, precise at both ends.
inline ops::vf gelu_erf_lanes(ops::vf x) noexcept {
  ops::vi negative = ops::gt_i(ops::set1_i(0), ops::as_int(x));
  ops::vf c = erfc_lanes(ops::as_float(ops::and_i(ops::as_int(x), ops::set1_i(0x7fffffff))) *
                         ops::set1(0.70710678118654752f));
  return ops::set1(0.5f) * x * ops::select(negative, c, ops::set1(2.0f) - c);
}

// x sigmoid(x).
inline ops::vf silu_lanes(ops::vf x) noexcept { return x * sigmoid_lanes(x); }

inline void relu(float* x, std::size_t n) noexcept { map_in_place<relu_lanes>(x, n); }
inline void gelu_tanh(float* x, std::size_t n) noexcept { map_in_place<gelu_tanh_lanes>(x, n); }
inline void gelu_erf(float* x, std::size_t n) noexcept { map_in_place<gelu_erf_lanes>(x, n); }
inline void silu(float* x, std::size_t n) noexcept { map_in_place<silu_lanes>(x, n); }

// y[i] += x[i].
inline void add_to(float* y, const float* x, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + ops::width <= n; i += ops::width) ops::store(y + i, ops::load(y + i) + ops::load(x + i));
  for (; i < n; ++i) y[i] += x[i];
}
