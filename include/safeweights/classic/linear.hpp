// Linear models (spec/CLASSIC.md C5): LinearRegression and Ridge, and
// LogisticRegression's scores, probabilities and labels, over arrays
// model_rules.hpp has checked (coef_ [outputs, width], intercept_ [outputs]).
#pragma once

#include <cmath>
#include <cstddef>

#include "safeweights/io/tensor_view.hpp"
#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace classic {

// x · coefᵀ + intercept for one row: `outputs` dot products of `width` terms.
inline void linear_scores(const double* x, std::size_t width, const double* coef, const double* intercept,
                          std::size_t outputs, double* out) noexcept {
  for (std::size_t k = 0; k < outputs; ++k, coef += width) {
    double s = 0;
    for (std::size_t j = 0; j < width; ++j) s += x[j] * coef[j];
    out[k] = s + intercept[k];
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
