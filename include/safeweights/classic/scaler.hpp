// The scalers' transforms (spec/CLASSIC.md C5), over arrays model_rules.hpp
// has checked: each has `width` entries, and a StandardScaler's scale_ has no zero.
// The arithmetic is scikit-learn's, step by step (subtract then divide;
// multiply then add), so results match it to the last bit.
#pragma once

#include <cstddef>

#include "safeweights/io/tensor_view.hpp"
#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace classic {

// (x - mean_) / scale_, either step as its flag says.
struct standard_scaler {
  std::size_t width = 0;
  bool with_mean = true;
  bool with_std = true;
  typed_tensor<double> mean;   // [width] when with_mean
  typed_tensor<double> scale;  // [width] when with_std

  std::size_t n_features() const noexcept { return width; }
  std::size_t n_outputs() const noexcept { return width; }
  void transform(const double* x, std::size_t rows, double* out) const noexcept {
    const double* m = mean.data();
    const double* s = scale.data();
    for (std::size_t r = 0; r < rows; ++r, x += width, out += width)
      for (std::size_t j = 0; j < width; ++j) {
        double v = x[j];
        if (with_mean) v -= m[j];
        if (with_std) v /= s[j];
        out[j] = v;
      }
  }
};

// x * scale_ + min_, then clipped to feature_range when `clip`.
struct min_max_scaler {
  std::size_t width = 0;
  bool clip = false;
  double low = 0;
  double high = 1;
  typed_tensor<double> scale;  // [width]
  typed_tensor<double> min;    // [width]

  std::size_t n_features() const noexcept { return width; }
  std::size_t n_outputs() const noexcept { return width; }
  void transform(const double* x, std::size_t rows, double* out) const noexcept {
    const double* s = scale.data();
    const double* m = min.data();
    for (std::size_t r = 0; r < rows; ++r, x += width, out += width)
      for (std::size_t j = 0; j < width; ++j) {
        double v = x[j] * s[j];
        v += m[j];
        if (clip) {  // np.clip: a NaN stays NaN
          if (v < low) v = low;
          if (v > high) v = high;
        }
        out[j] = v;
      }
  }
};

}  // namespace classic
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
