// Decision trees and random forests (spec/CLASSIC.md C3, C5): T trees stored
// as concatenated node arrays, walked in place in the file's mapping.
//
// The walk trusts what model_rules.hpp checked: within a tree every split's
// children are greater than the split's own index and below the tree's size,
// and its feature is below the input width. So a walk only moves forward,
// ends at a leaf within its tree, and reads x only inside the row.
#pragma once

#include <cstddef>
#include <cstdint>

#include "safeweights/classic/linear.hpp"
#include "safeweights/io/tensor_view.hpp"
#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace classic {

// The `trees.*` arrays of an estimator (the ones prediction reads).
struct tree_ensemble {
  std::size_t trees = 0;
  std::size_t value_width = 1;                 // V: K class weights, or 1 value
  typed_tensor<std::int64_t> node_offset;      // [trees + 1]
  typed_tensor<std::int64_t> children_left;    // [N], within the tree; -1 at a leaf
  typed_tensor<std::int64_t> children_right;   // [N]
  typed_tensor<std::int64_t> feature;          // [N]
  typed_tensor<double> threshold;              // [N]
  typed_tensor<double> value;                  // [N * value_width]

  // The leaf's values that row `x` reaches in tree `t`. scikit-learn casts X
  // to float32 before it walks, and compares that float with the float64
  // threshold: so does this. (float(x) of a double beyond float's range is
  // +-inf under IEEE 754, as in numpy, and is no undefined behaviour there.)
  const double* leaf_value(std::size_t t, const double* x) const noexcept {
    const std::int64_t base = node_offset[t];
    const std::int64_t* left = children_left.data() + base;
    const std::int64_t* right = children_right.data() + base;
    const std::int64_t* split_feature = feature.data() + base;
    const double* split_threshold = threshold.data() + base;
    std::int64_t node = 0;
    while (left[node] != -1) {
      const double v = static_cast<float>(x[split_feature[node]]);
      node = v <= split_threshold[node] ? left[node] : right[node];
    }
    return value.data() + static_cast<std::size_t>(base + node) * value_width;
  }
};

// DecisionTreeClassifier (one tree) and RandomForestClassifier: each tree's
// leaf weights normalised to sum 1, averaged over the trees.
struct forest_classifier {
  std::size_t width = 0;
  std::size_t classes = 2;
  tree_ensemble forest;  // value_width == classes

  std::size_t n_features() const noexcept { return width; }
  std::size_t n_classes() const noexcept { return classes; }

  // Trees outer, rows inner: one tree's nodes stay in cache over the rows,
  // and each row sums its trees in scikit-learn's order.
  void predict_proba(const double* x, std::size_t rows, double* out) const noexcept {
    const std::size_t K = classes;
    for (std::size_t i = 0; i < rows * K; ++i) out[i] = 0;
    for (std::size_t t = 0; t < forest.trees; ++t)
      for (std::size_t r = 0; r < rows; ++r) {
        const double* v = forest.leaf_value(t, x + r * width);
        double sum = 0;
        for (std::size_t k = 0; k < K; ++k) sum += v[k];
        const double normalizer = sum == 0 ? 1 : sum;
        double* p = out + r * K;
        for (std::size_t k = 0; k < K; ++k) p[k] += v[k] / normalizer;
      }
    if (forest.trees > 1) {
      const auto n = static_cast<double>(forest.trees);
      for (std::size_t i = 0; i < rows * K; ++i) out[i] /= n;
    }
  }

  // `scratch` holds rows * classes doubles.
  void predict_class(const double* x, std::size_t rows, std::size_t* out, double* scratch) const noexcept {
    predict_proba(x, rows, scratch);
    for (std::size_t r = 0; r < rows; ++r) out[r] = first_max(scratch + r * classes, classes);
  }
};

// DecisionTreeRegressor and RandomForestRegressor: the mean of the leaf values.
struct forest_regressor {
  std::size_t width = 0;
  tree_ensemble forest;  // value_width == 1

  std::size_t n_features() const noexcept { return width; }
  std::size_t n_outputs() const noexcept { return 1; }
  void predict(const double* x, std::size_t rows, double* out) const noexcept {
    for (std::size_t r = 0; r < rows; ++r) out[r] = 0;
    for (std::size_t t = 0; t < forest.trees; ++t)
      for (std::size_t r = 0; r < rows; ++r) out[r] += *forest.leaf_value(t, x + r * width);
    if (forest.trees > 1) {
      const auto n = static_cast<double>(forest.trees);
      for (std::size_t r = 0; r < rows; ++r) out[r] /= n;
    }
  }
};

}  // namespace classic
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
