// exp and the functions built on it, a vector at a time, for the
// activations, softmax and attention; compiled once per instruction set.
// The same polynomial runs on every path; only fused multiply-adds round
// differently (tests compare the paths within a few ulp).

// e^x: x = n ln2 + r with |r| <= ln2/2, e^r by Cephes' degree-6 polynomial
// (about 1 ulp), 2^n put into the exponent bits. Above 88.72 the result is
// infinity, below -87.34 zero (no subnormals), NaN stays NaN.
inline ops::vf exp_lanes(ops::vf input) noexcept {
  const ops::vf high = ops::set1(88.72283f), low = ops::set1(-87.33654f);
  ops::vf x = ops::min(ops::max(input, low), high);
  // Round x log2(e) to the nearest integer by adding and removing 1.5 x 2^23.
  const ops::vf magic = ops::set1(12582912.0f);
  ops::vf n = (x * ops::set1(1.44269504088896341f) + magic) - magic;
  ops::vf r = ops::fmadd(n, ops::set1(-0.693359375f), x);
  r = ops::fmadd(n, ops::set1(2.12194440e-4f), r);
  ops::vf p = ops::set1(1.9875691500e-4f);
  p = ops::fmadd(p, r, ops::set1(1.3981999507e-3f));
  p = ops::fmadd(p, r, ops::set1(8.3334519073e-3f));
  p = ops::fmadd(p, r, ops::set1(4.1665795894e-2f));
  p = ops::fmadd(p, r, ops::set1(1.6666665459e-1f));
  p = ops::fmadd(p, r, ops::set1(5.0000001201e-1f));
  p = ops::fmadd(p * r, r, r) + ops::set1(1.0f);
  // n is in [-126, 128]: 2^n as two halves so that n = 128 (x near 88.7) stays finite.
  ops::vi half = ops::truncate(n * ops::set1(0.5f));
  ops::vi rest = ops::sub_i(ops::truncate(n), half);
  ops::vf scale_a = ops::as_float(ops::shl<23>(ops::add_i(half, ops::set1_i(127))));
  ops::vf scale_b = ops::as_float(ops::shl<23>(ops::add_i(rest, ops::set1_i(127))));
  ops::vf y = p * scale_a * scale_b;
  y = ops::select(ops::less(high, input), ops::set1(__builtin_inff()), y);
  y = ops::select(ops::less(input, low), ops::zero(), y);
  return ops::select(ops::is_nan(input), input, y);
}

// 1 / (1 + e^-x).
inline ops::vf sigmoid_lanes(ops::vf x) noexcept {
  return ops::set1(1.0f) / (ops::set1(1.0f) + exp_lanes(ops::zero() - x));
}

// erfc(a) for a >= 0, Numerical Recipes' Chebyshev fit: relative error
// below 1.2e-7 everywhere, so 1 + erf(x) = erfc(-x) keeps its precision
// even where it is tiny.
inline ops::vf erfc_lanes(ops::vf a) noexcept {
  ops::vf t = ops::set1(1.0f) / ops::fmadd(a, ops::set1(0.5f), ops::set1(1.0f));
  ops::vf p = ops::set1(0.17087277f);
  p = ops::fmadd(p, t, ops::set1(-0.82215223f));
  p = ops::fmadd(p, t, ops::set1(1.48851587f));
  p = ops::fmadd(p, t, ops::set1(-1.13520398f));
  p = ops::fmadd(p, t, ops::set1(0.27886807f));
  p = ops::fmadd(p, t, ops::set1(-0.18628806f));
  p = ops::fmadd(p, t, ops::set1(0.09678418f));
  p = ops::fmadd(p, t, ops::set1(0.37409196f));
  p = ops::fmadd(p, t, ops::set1(1.00002368f));
  p = ops::fmadd(p, t, ops::set1(-1.26551223f));
  return t * exp_lanes(p - a * a);
}

// Applies lanes() to n floats in place: whole vectors, then the tail through
// a padded copy so that every element sees the same arithmetic.
template <auto Lanes>
inline void map_in_place(float* x, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + ops::width <= n; i += ops::width) ops::store(x + i, Lanes(ops::load(x + i)));
  if (i < n) {
    alignas(64) float tail[ops::width] = {};
    for (std::size_t j = i; j < n; ++j) tail[j - i] = x[j];
    ops::store(tail, Lanes(ops::load(tail)));
    for (std::size_t j = i; j < n; ++j) x[j] = tail[j - i];
  }
}
