// Decision trees and random forests (spec/CLASSIC.md C3, C5): T trees stored
// as concatenated node arrays, walked in place in the file's mapping.
//
// The walk trusts what model_rules.hpp checked: within a tree every split's
// children are greater than the split's own index and below the tree's size,
// and its feature is below the input width; and it computed each tree's
// depth. So a walk only moves forward, stays in its tree, reads x only inside
// the row, and ends at a leaf after at most `depth` steps.
//
// How it runs: rows a block at a time (up to 64), converted to float32 once,
// as scikit-learn converts X before its trees; then tree by tree, the block's
// rows walk in lockstep for exactly the tree's depth (a row at a leaf stays
// there), each step without a branch. The rows' walks are independent, so
// their loads overlap instead of waiting on each other, and no mispredicted
// branch stalls them; a tree's nodes stay in cache over the block.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "safeweights/classic/linear.hpp"
#include "safeweights/io/tensor_view.hpp"
#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace classic {

// The `trees.*` arrays of an estimator (the ones prediction reads).
struct tree_ensemble {
  static constexpr std::size_t block_rows = 64;

  std::size_t trees = 0;
  std::size_t value_width = 1;                 // V: K class weights, or 1 value
  typed_tensor<std::int64_t> node_offset;      // [trees + 1]
  typed_tensor<std::int64_t> children_left;    // [N], within the tree; -1 at a leaf
  typed_tensor<std::int64_t> children_right;   // [N]
  typed_tensor<std::int64_t> feature;          // [N]
  typed_tensor<double> threshold;              // [N]
  typed_tensor<double> value;                  // [N * value_width]
  std::vector<std::uint32_t> depth;            // [trees]: the longest walk, root to leaf (computed, not read)

  // The leaf each of `rows` rows (float32, `stride` apart) reaches in tree
  // `t`, as an index into the concatenated arrays. scikit-learn goes left
  // when float32(x) <= the float64 threshold: so does this.
  void leaves(std::size_t t, const float* x, std::size_t stride, std::size_t rows, std::int64_t* leaf) const noexcept {
    const std::int64_t base = node_offset[t];
    const std::int64_t* left = children_left.data() + base;
    const std::int64_t* right = children_right.data() + base;
    const std::int64_t* split_feature = feature.data() + base;
    const double* split_threshold = threshold.data() + base;
    if (rows == 1) {  // one row: its node in a register, a walk that ends at the leaf
      std::int64_t node = 0;
      for (std::int64_t l; (l = left[node]) != -1;)
        node = static_cast<double>(x[split_feature[node]]) <= split_threshold[node] ? l : right[node];
      leaf[0] = base + node;
      return;
    }
    for (std::size_t j = 0; j < rows; ++j) leaf[j] = 0;
    for (std::uint32_t step = 0; step < depth[t]; ++step)
      for (std::size_t j = 0; j < rows; ++j) {
        const std::int64_t node = leaf[j];
        const std::int64_t l = left[node];
        const std::int64_t r = right[node];
        const bool at_leaf = l == -1;
        const std::int64_t f = at_leaf ? 0 : split_feature[node];  // a leaf's feature (-2) is no index
        const std::int64_t next = static_cast<double>(x[j * stride + static_cast<std::size_t>(f)]) <=
                                          split_threshold[node] ? l : r;
        leaf[j] = at_leaf ? node : next;
      }
    for (std::size_t j = 0; j < rows; ++j) leaf[j] += base;
  }
  const double* value_at(std::int64_t leaf) const noexcept {
    return value.data() + static_cast<std::size_t>(leaf) * value_width;
  }
};

// Rows as float32, a block at a time: on the stack up to 4096 floats (blocks
// of fewer rows when rows are wide), else one row on the heap.
class float32_rows {
 public:
  explicit float32_rows(std::size_t width) : width_(width) {
    rows_ = std::clamp<std::size_t>(inline_floats / std::max<std::size_t>(width, 1), 1, tree_ensemble::block_rows);
    if (width > inline_floats) {
      heap_ = std::make_unique_for_overwrite<float[]>(width);
      data_ = heap_.get();
    }
  }
  std::size_t block_rows() const noexcept { return rows_; }
  // The `n` (<= block_rows()) rows at x, converted. (float of a double beyond
  // float's range is +-inf under IEEE 754, as in numpy: no undefined behaviour.)
  const float* load(const double* x, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n * width_; ++i) data_[i] = static_cast<float>(x[i]);
    return data_;
  }

 private:
  static constexpr std::size_t inline_floats = 4096;
  std::size_t width_;
  std::size_t rows_ = 1;
  float inline_[inline_floats];
  std::unique_ptr<float[]> heap_;
  float* data_ = inline_;
};

// DecisionTreeClassifier (one tree) and RandomForestClassifier: each tree's
// leaf weights normalised to sum 1, added up tree by tree (scikit-learn's
// order), then divided by the number of trees.
struct forest_classifier {
  std::size_t width = 0;
  std::size_t classes = 2;
  tree_ensemble forest;  // value_width == classes

  std::size_t n_features() const noexcept { return width; }
  std::size_t n_classes() const noexcept { return classes; }

  void predict_proba(const double* x, std::size_t rows, double* out) const noexcept {
    const std::size_t K = classes;
    float32_rows block(width);
    std::int64_t leaf[tree_ensemble::block_rows];
    for (std::size_t first = 0; first < rows; first += block.block_rows()) {
      const std::size_t n = std::min(block.block_rows(), rows - first);
      const float* xf = block.load(x + first * width, n);
      double* p = out + first * K;
      for (std::size_t i = 0; i < n * K; ++i) p[i] = 0;
      for (std::size_t t = 0; t < forest.trees; ++t) {
        forest.leaves(t, xf, width, n, leaf);
        for (std::size_t j = 0; j < n; ++j) {
          const double* v = forest.value_at(leaf[j]);
          double sum = 0;
          for (std::size_t k = 0; k < K; ++k) sum += v[k];
          const double normalizer = sum == 0 ? 1 : sum;
          for (std::size_t k = 0; k < K; ++k) p[j * K + k] += v[k] / normalizer;
        }
      }
      if (forest.trees > 1) {
        const auto trees = static_cast<double>(forest.trees);
        for (std::size_t i = 0; i < n * K; ++i) p[i] /= trees;
      }
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
    float32_rows block(width);
    std::int64_t leaf[tree_ensemble::block_rows];
    for (std::size_t first = 0; first < rows; first += block.block_rows()) {
      const std::size_t n = std::min(block.block_rows(), rows - first);
      const float* xf = block.load(x + first * width, n);
      double* y = out + first;
      for (std::size_t j = 0; j < n; ++j) y[j] = 0;
      for (std::size_t t = 0; t < forest.trees; ++t) {
        forest.leaves(t, xf, width, n, leaf);
        for (std::size_t j = 0; j < n; ++j) y[j] += *forest.value_at(leaf[j]);
      }
      if (forest.trees > 1) {
        const auto trees = static_cast<double>(forest.trees);
        for (std::size_t j = 0; j < n; ++j) y[j] /= trees;
      }
    }
  }
};

}  // namespace classic
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
