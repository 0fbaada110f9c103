// Linear models (spec/CLASSIC.md C5): LinearRegression and Ridge, and
// LogisticRegression's scores, probabilities and labels, over arrays
// model_rules.hpp has checked (coef_ [outputs, width], intercept_ [outputs]).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstring>

#include "safeweights/io/tensor_view.hpp"
#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace classic {

namespace detail {

// Two doubles in one SSE2 register (the x86-64 baseline), by GCC's and
// clang's vector extension; unaligned loads go through memcpy.
using double2 = double __attribute__((vector_size(16)));
inline double2 load2(const double* p) noexcept {
  double2 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace detail

// x · coefᵀ + intercept for one row: `outputs` dot products of `width` terms.
// Four outputs at a time, each summed in two vector partial sums of two
// lanes (the adds of different outputs and lanes do not wait on each other).
// scikit-learn's BLAS sums in its own order too: results agree to rounding
// (about 1e-15), not to the bit.
inline void linear_scores(const double* x, std::size_t width, const double* coef, const double* intercept,
                          std::size_t outputs, double* out) noexcept {
  using detail::double2;
  using detail::load2;
  const std::size_t whole = width / 4 * 4;
  auto finish = [&](double2 a, double2 b, const double* c) {
    const double2 ab = a + b;
    double s = ab[0] + ab[1];
    for (std::size_t j = whole; j < width; ++j) s += x[j] * c[j];
    return s;
  };
  std::size_t k = 0;
  for (; k + 4 <= outputs; k += 4) {
    const double* c0 = coef + k * width;
    const double* c1 = c0 + width;
    const double* c2 = c1 + width;
    const double* c3 = c2 + width;
    double2 a0{}, b0{}, a1{}, b1{}, a2{}, b2{}, a3{}, b3{};
    for (std::size_t j = 0; j < whole; j += 4) {
      const double2 xa = load2(x + j), xb = load2(x + j + 2);
      a0 += xa * load2(c0 + j), b0 += xb * load2(c0 + j + 2);
      a1 += xa * load2(c1 + j), b1 += xb * load2(c1 + j + 2);
      a2 += xa * load2(c2 + j), b2 += xb * load2(c2 + j + 2);
      a3 += xa * load2(c3 + j), b3 += xb * load2(c3 + j + 2);
    }
    out[k] = finish(a0, b0, c0) + intercept[k];
    out[k + 1] = finish(a1, b1, c1) + intercept[k + 1];
    out[k + 2] = finish(a2, b2, c2) + intercept[k + 2];
    out[k + 3] = finish(a3, b3, c3) + intercept[k + 3];
  }
  for (; k < outputs; ++k) {
    const double* c = coef + k * width;
    double2 a{}, b{};
    for (std::size_t j = 0; j < whole; j += 4) {
      a += load2(x + j) * load2(c + j);
      b += load2(x + j + 2) * load2(c + j + 2);
    }
    out[k] = finish(a, b, c) + intercept[k];
  }
}

// scipy's expit, as scikit-learn calls it.
inline double logistic(double s) noexcept { return 1.0 / (1.0 + std::exp(-s)); }

// scikit-learn's softmax (utils.extmath): subtract the maximum, exponentiate, divide by the sum.
inline void softmax_in_place(double* v, std::size_t n) noexcept {
  double top = v[0];
  for (std::size_t k = 1; k < n; ++k) top = v[k] > top ? v[k] : top;
  double sum = 0;
  for (std::size_t k = 0; k < n; ++k) sum += (v[k] = std::exp(v[k] - top));
  for (std::size_t k = 0; k < n; ++k) v[k] /= sum;
}

// The index of the first maximum (numpy's argmax: a NaN wins, as the first one).
inline std::size_t first_max(const double* v, std::size_t n) noexcept {
  std::size_t best = 0;
  for (std::size_t k = 1; k < n; ++k) {
    if (std::isnan(v[best])) break;
    if (v[k] > v[best] || std::isnan(v[k])) best = k;
  }
  return best;
}

// LinearRegression and Ridge: `outputs` values per row (1 for a 1-D target).
struct linear_regression {
  std::size_t width = 0;
  std::size_t outputs = 1;
  typed_tensor<double> coef;       // [outputs * width]
  typed_tensor<double> intercept;  // [outputs]

  std::size_t n_features() const noexcept { return width; }
  std::size_t n_outputs() const noexcept { return outputs; }
  void predict(const double* x, std::size_t rows, double* out) const noexcept {
    for (std::size_t r = 0; r < rows; ++r, x += width, out += outputs)
      linear_scores(x, width, coef.data(), intercept.data(), outputs, out);
  }
};

// LogisticRegression with K classes: one score per row when K = 2, else K.
struct logistic_regression {
  std::size_t width = 0;
  std::size_t classes = 2;
  bool multinomial = false;
  typed_tensor<double> coef;       // [scores() * width]
  typed_tensor<double> intercept;  // [scores()]

  std::size_t scores() const noexcept { return classes == 2 ? 1 : classes; }
  std::size_t n_features() const noexcept { return width; }
  std::size_t n_classes() const noexcept { return classes; }

  // `out` holds rows * K probabilities.
  void predict_proba(const double* x, std::size_t rows, double* out) const noexcept {
    for (std::size_t r = 0; r < rows; ++r, x += width, out += classes) {
      if (classes == 2) {
        double s = 0;
        linear_scores(x, width, coef.data(), intercept.data(), 1, &s);
        if (multinomial) {  // softmax([-s, s]): scikit-learn's decision_2d for two classes
          out[0] = -s;
          out[1] = s;
          softmax_in_place(out, 2);
        } else {
          out[1] = logistic(s);
          out[0] = 1 - out[1];
        }
        continue;
      }
      linear_scores(x, width, coef.data(), intercept.data(), classes, out);
      if (multinomial) {
        softmax_in_place(out, classes);
      } else {
        double sum = 0;
        for (std::size_t k = 0; k < classes; ++k) sum += (out[k] = logistic(out[k]));
        for (std::size_t k = 0; k < classes; ++k) out[k] /= sum;
      }
    }
  }

  // The class index of each row: the score's sign for K = 2, else the first
  // maximum score. `scratch` holds scores() doubles.
  void predict_class(const double* x, std::size_t rows, std::size_t* out, double* scratch) const noexcept {
    for (std::size_t r = 0; r < rows; ++r, x += width) {
      linear_scores(x, width, coef.data(), intercept.data(), scores(), scratch);
      out[r] = classes == 2 ? (scratch[0] > 0 ? 1 : 0) : first_max(scratch, classes);
    }
  }
};

}  // namespace classic
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
