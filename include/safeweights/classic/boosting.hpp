// Gradient boosting (spec/CLASSIC.md C5): raw_k = init_raw_prediction[k] +
// learning_rate x (the leaf values of tree (s, k), stage by stage), then the
// loss's link: none for a regressor, the logistic function for two classes,
// softmax for more. The sums run in scikit-learn's order (predict_stages).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "safeweights/classic/linear.hpp"
#include "safeweights/classic/trees.hpp"
#include "safeweights/io/tensor_view.hpp"
#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace classic {

struct gradient_boosting {
  std::size_t width = 0;
  std::size_t per_stage = 1;  // 1, or K for a classifier of K > 2 classes
  std::size_t classes = 0;    // 0 for a regressor
  double learning_rate = 0;
  typed_tensor<double> init;  // init_raw_prediction [per_stage]
  tree_ensemble forest;       // value_width == 1, trees == stages * per_stage

  std::size_t n_features() const noexcept { return width; }
  std::size_t n_outputs() const noexcept { return 1; }
  std::size_t n_classes() const noexcept { return classes; }

  // raw_k of each row at out[r * stride + offset + k], block by block as trees.hpp walks.
  void raw(const double* x, std::size_t rows, double* out, std::size_t stride, std::size_t offset) const noexcept {
    float32_rows block(width);
    std::int64_t leaf[tree_ensemble::block_rows];
    const std::size_t stages = forest.trees / per_stage;
    for (std::size_t first = 0; first < rows; first += block.block_rows()) {
      const std::size_t n = std::min(block.block_rows(), rows - first);
      const float* xf = block.load(x + first * width, n);
      double* y = out + first * stride + offset;
      for (std::size_t j = 0; j < n; ++j)
        for (std::size_t k = 0; k < per_stage; ++k) y[j * stride + k] = init[k];
      for (std::size_t s = 0; s < stages; ++s)
        for (std::size_t k = 0; k < per_stage; ++k) {
          forest.leaves(s * per_stage + k, xf, width, n, leaf);
          for (std::size_t j = 0; j < n; ++j) y[j * stride + k] += learning_rate * *forest.value_at(leaf[j]);
        }
    }
  }

  // GradientBoostingRegressor.
  void predict(const double* x, std::size_t rows, double* out) const noexcept { raw(x, rows, out, 1, 0); }

  // GradientBoostingClassifier: rows * K probabilities.
  void predict_proba(const double* x, std::size_t rows, double* out) const noexcept {
    if (classes == 2) {
      raw(x, rows, out, 2, 1);
      for (std::size_t r = 0; r < rows; ++r) {
        out[2 * r + 1] = logistic(out[2 * r + 1]);
        out[2 * r] = 1 - out[2 * r + 1];
      }
      return;
    }
    raw(x, rows, out, classes, 0);
    for (std::size_t r = 0; r < rows; ++r) softmax_of_raw(out + r * classes);
  }

  // The class of each row: the first maximum probability, as the losses'
  // _raw_prediction_to_decision. `scratch`: rows * K doubles.
  void predict_class(const double* x, std::size_t rows, std::size_t* out, double* scratch) const noexcept {
    predict_proba(x, rows, scratch);
    for (std::size_t r = 0; r < rows; ++r) out[r] = first_max(scratch + r * classes, classes);
  }

 private:
  // exp(raw - logsumexp(raw)), as scipy's logsumexp computes it, then numpy's nan_to_num.
  void softmax_of_raw(double* v) const noexcept {
    double top = v[0];
    for (std::size_t k = 1; k < classes; ++k) top = v[k] > top ? v[k] : top;
    if (!std::isfinite(top)) top = 0;
    double sum = 0;
    for (std::size_t k = 0; k < classes; ++k) sum += std::exp(v[k] - top);
    const double lse = std::log(sum) + top;
    for (std::size_t k = 0; k < classes; ++k) {
      const double p = std::exp(v[k] - lse);
      v[k] = std::isnan(p) ? 0 : p;
    }
  }
};

}  // namespace classic
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
