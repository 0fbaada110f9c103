// The rules a reader checks before it predicts (spec/CLASSIC.md C4), in one
// function: check_model reads the description (C4.1), takes every tensor an
// estimator names with its dtype and shape (C4.2), checks that sizes agree
// (C4.3), that trees are trees (C4.4) and that the numbers are finite (C4.5),
// and hands back the steps to run, viewing the file's arrays in place.
// Every failure is invalid_model (unsupported_model for what is off the
// allow-list), naming the file and the tensor or the place in the JSON.
//
// Zero-copy: F64 and I64 arrays are viewed where they lie in the mapping
// (typed_tensor keeps the mapping alive). A view needs 8-byte aligned bytes;
// Python's writer and ours lay out these files so (every tensor is 8-byte
// elements, after a header padded to 8), but a file image in a caller's
// buffer, or another writer, may not be: only then, and on a big-endian
// host, is an array copied (tensor_view::typed), since a misaligned double
// cannot be read through a pointer.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "safeweights/classic/description.hpp"
#include "safeweights/classic/pipeline.hpp"
#include "safeweights/io/reader.hpp"
#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace classic {

// What check_model hands back: the description and the steps to run.
struct checked_model {
  description about;
  pipeline steps;
};

namespace detail {

class model_checker {
 public:
  explicit model_checker(const reader& file) : file_(file), claimed_(file.tensors().size(), false) {}

  // Appends the estimator's steps (a pipeline's, flattened) to `steps`.
  result<void> add(const estimator_node& node, std::vector<estimator>& steps) {
    const std::string& t = node.type;
    if (t == "Pipeline") return add_pipeline(node, steps);
    auto step = build(node);
    if (!step) return std::move(step).error_value();
    steps.push_back(std::move(*step));
    return {};
  }

  // C4.2: no tensor is left over.
  result<void> check_all_claimed() const {
    auto tensors = file_.tensors();
    for (std::size_t i = 0; i < tensors.size(); ++i)
      if (!claimed_[i])
        return bad("tensor " + quote_name(tensors[i].name) + " belongs to no estimator of the description");
    return {};
  }

 private:
  error bad(const std::string& why) const { return make_error(errc::invalid_model, why); }
  error bad_tensor(const std::string& name, const std::string& why) const {
    return bad("tensor " + quote_name(name) + ": " + why);
  }

  static std::string shape_text(std::span<const std::uint64_t> shape) {
    std::string out = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
  }

  // C4.2: the tensor `prefix + name`, of this dtype and shape, as T.
  template <class T>
  result<typed_tensor<T>> take(const estimator_node& node, std::string_view name, std::vector<std::uint64_t> shape) {
    const std::string full = node.prefix + std::string(name);
    const tensor_info* info = file_.find(full);
    if (!info) return bad("no tensor " + quote_name(full) + " (" + node.type + " at " + node.where + " needs it)");
    claimed_[static_cast<std::size_t>(info - file_.tensors().data())] = true;
    if (info->type != dtype_of_v<T>)
      return bad_tensor(full, "dtype " + std::string(dtype_name(info->type)) + ", expected " +
                                  std::string(dtype_name(dtype_of_v<T>)));
    if (!std::equal(info->shape.begin(), info->shape.end(), shape.begin(), shape.end()))
      return bad_tensor(full, "shape " + shape_text(info->shape) + ", expected " + shape_text(shape));
    auto view = file_.tensor(*info);
    if (!view) return std::move(view).error_value();
    return view->template typed<T>();
  }

  // C4.5: every element finite (and non-zero, where it divides).
  // take() of an F64 tensor every value of which must be finite (C4.5).
  result<typed_tensor<double>> take_finite(const estimator_node& node, std::string_view name,
                                           std::vector<std::uint64_t> shape) {
    auto v = take<double>(node, name, std::move(shape));
    if (!v) return v;
    if (auto r = check_finite(node, name, *v); !r) return std::move(r).error_value();
    return v;
  }

  result<void> check_finite(const estimator_node& node, std::string_view name, const typed_tensor<double>& v,
                            bool divides = false) const {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i]))
        return bad_tensor(node.prefix + std::string(name),
                          "element " + std::to_string(i) + " is " + std::to_string(v[i]) + ", not finite");
      if (divides && v[i] == 0)
        return bad_tensor(node.prefix + std::string(name), "element " + std::to_string(i) + " is 0, and it divides");
    }
    return {};
  }

  result<estimator> build(const estimator_node& node) {
    const std::string& t = node.type;
    if (t == "StandardScaler") return build_standard_scaler(node);
    if (t == "MinMaxScaler") return build_min_max_scaler(node);
    if (t == "LinearRegression" || t == "Ridge") return build_linear_regression(node);
    if (t == "LogisticRegression") return build_logistic_regression(node);
    return build_trees(node);  // the description admits no other type
  }

  result<estimator> build_standard_scaler(const estimator_node& node) {
    const std::uint64_t F = node.n_features_in;
    standard_scaler s;
    s.width = static_cast<std::size_t>(F);
    s.with_mean = node.with_mean;
    s.with_std = node.with_std;
    if (node.with_mean || node.with_std) {  // scikit-learn keeps mean_ when it keeps var_
      auto mean = take_finite(node, "mean_", {F});
      if (!mean) return std::move(mean).error_value();
      s.mean = std::move(*mean);
    }
    if (node.with_std) {
      auto var = take_finite(node, "var_", {F});
      if (!var) return std::move(var).error_value();
      auto scale = take<double>(node, "scale_", {F});
      if (!scale) return std::move(scale).error_value();
      if (auto r = check_finite(node, "scale_", *scale, true); !r) return std::move(r).error_value();
      s.scale = std::move(*scale);
    }
    return estimator(std::move(s));
  }

  result<estimator> build_min_max_scaler(const estimator_node& node) {
    const std::uint64_t F = node.n_features_in;
    min_max_scaler s;
    s.width = static_cast<std::size_t>(F);
    s.clip = node.clip;
    s.low = node.range_low;
    s.high = node.range_high;
    for (std::string_view name : {"min_", "scale_", "data_min_", "data_max_", "data_range_"}) {
      auto v = take_finite(node, name, {F});
      if (!v) return std::move(v).error_value();
      if (name == "min_") s.min = std::move(*v);
      if (name == "scale_") s.scale = std::move(*v);
    }
    return estimator(std::move(s));
  }

  result<estimator> build_linear_regression(const estimator_node& node) {
    const std::uint64_t F = node.n_features_in;
    const std::uint64_t T = node.n_targets;
    linear_regression m;
    m.width = static_cast<std::size_t>(F);
    m.outputs = T == 0 ? 1 : static_cast<std::size_t>(T);
    auto coef = take_finite(node, "coef_", T == 0 ? std::vector<std::uint64_t>{F} : std::vector<std::uint64_t>{T, F});
    if (!coef) return std::move(coef).error_value();
    auto intercept = take_finite(node, "intercept_", T == 0 ? std::vector<std::uint64_t>{} : std::vector<std::uint64_t>{T});
    if (!intercept) return std::move(intercept).error_value();
    m.coef = std::move(*coef);
    m.intercept = std::move(*intercept);
    return estimator(std::move(m));
  }

  result<estimator> build_logistic_regression(const estimator_node& node) {
    const std::uint64_t F = node.n_features_in;
    const std::uint64_t K = node.classes.size();
    logistic_regression m;
    m.width = static_cast<std::size_t>(F);
    m.classes = static_cast<std::size_t>(K);
    m.multinomial = node.multinomial;
    const std::uint64_t rows = K == 2 ? 1 : K;
    auto coef = take_finite(node, "coef_", {rows, F});
    if (!coef) return std::move(coef).error_value();
    auto intercept = take_finite(node, "intercept_", {rows});
    if (!intercept) return std::move(intercept).error_value();
    m.coef = std::move(*coef);
    m.intercept = std::move(*intercept);
    return estimator(std::move(m));
  }

  result<estimator> build_trees(const estimator_node& node) {
    const bool classifier = !node.classes.names.empty();
    const bool boosting = node.type.starts_with("GradientBoosting");
    const std::uint64_t K = node.classes.size();
    const std::uint64_t V = classifier && !boosting ? K : 1;
    auto forest = take_trees(node, V);
    if (!forest) return std::move(forest).error_value();
    const auto F = static_cast<std::size_t>(node.n_features_in);
    if (!boosting) {
      if (classifier) return estimator(forest_classifier{F, static_cast<std::size_t>(K), std::move(*forest)});
      return estimator(forest_regressor{F, std::move(*forest)});
    }
    gradient_boosting g;
    g.width = F;
    g.per_stage = static_cast<std::size_t>(node.trees_per_stage);
    g.classes = static_cast<std::size_t>(K);
    g.learning_rate = node.learning_rate;
    auto init = take_finite(node, "init_raw_prediction", {node.trees_per_stage});
    if (!init) return std::move(init).error_value();
    g.init = std::move(*init);
    // The initial estimator's own array, for Python's rebuild: C4.6, it gives init_raw_prediction.
    const char* init_name = classifier ? "init.class_prior_" : "init.constant_";
    auto prior = take_finite(node, init_name, classifier ? std::vector<std::uint64_t>{K} : std::vector<std::uint64_t>{1, 1});
    if (!prior) return std::move(prior).error_value();
    for (std::size_t k = 0; k < g.per_stage; ++k) {
      const double expected = classifier ? raw_from_prior(*prior, k) : (*prior)[0];
      const double stored = g.init[k];
      if (!(std::fabs(stored - expected) <= 1e-12 * std::max(std::fabs(stored), std::fabs(expected))))
        return bad_tensor(node.prefix + "init_raw_prediction",
                          "element " + std::to_string(k) + " is " + std::to_string(stored) + ", but " + init_name +
                              " gives " + std::to_string(expected));
    }
    g.forest = std::move(*forest);
    return estimator(std::move(g));
  }

  // The initial raw prediction scikit-learn derives from class priors (its
  // losses' get_init_raw_predictions): the log-odds of class 1 for two
  // classes, else the log of each prior, after clipping to float32's epsilon.
  static double raw_from_prior(const typed_tensor<double>& prior, std::size_t k) {
    constexpr double eps = 0x1p-23;
    auto clipped = [](double p) { return p < eps ? eps : (p > 1 - eps ? 1 - eps : p); };
    if (prior.size() == 2) {
      const double p = clipped(prior[1]);
      return std::log(p / (1 - p));
    }
    return std::log(clipped(prior[k]));
  }

  // C3, C4.4 and C4.5 for the `trees.*` arrays.
  result<tree_ensemble> take_trees(const estimator_node& node, std::uint64_t V) {
    const std::uint64_t T = node.n_trees;
    const std::string offsets_name = node.prefix + "trees.node_offset";
    auto offsets = take<std::int64_t>(node, "trees.node_offset", {T + 1});
    if (!offsets) return std::move(offsets).error_value();
    const typed_tensor<std::int64_t>& off = *offsets;
    if (off[0] != 0) return bad_tensor(offsets_name, "element 0 is " + std::to_string(off[0]) + ", not 0");
    for (std::size_t t = 0; t < T; ++t)
      if (off[t + 1] <= off[t])
        return bad_tensor(offsets_name, "tree " + std::to_string(t) + " has no nodes: element " + std::to_string(t + 1) +
                                            " (" + std::to_string(off[t + 1]) + ") is not above element " +
                                            std::to_string(t) + " (" + std::to_string(off[t]) + ")");
    const auto N = static_cast<std::uint64_t>(off[T]);
    // The arrays' length, from the header, says where node_offset should end.
    if (const tensor_info* left = file_.find(node.prefix + "trees.children_left");
        left && left->shape.size() == 1 && left->shape[0] != N)
      return bad_tensor(offsets_name, "ends at " + std::to_string(N) + ", but the trees hold " +
                                          std::to_string(left->shape[0]) + " nodes (trees.children_left)");
    tree_ensemble e;
    e.trees = static_cast<std::size_t>(T);
    e.value_width = static_cast<std::size_t>(V);
    auto left = take<std::int64_t>(node, "trees.children_left", {N});
    if (!left) return std::move(left).error_value();
    auto right = take<std::int64_t>(node, "trees.children_right", {N});
    if (!right) return std::move(right).error_value();
    auto feature = take<std::int64_t>(node, "trees.feature", {N});
    if (!feature) return std::move(feature).error_value();
    auto threshold = take<double>(node, "trees.threshold", {N});
    if (!threshold) return std::move(threshold).error_value();
    auto value = take<double>(node, "trees.value", {N, 1, V});
    if (!value) return std::move(value).error_value();
    // Kept for Python's rebuild: only their dtype and shape matter here.
    if (auto r = take<double>(node, "trees.impurity", {N}); !r) return std::move(r).error_value();
    if (auto r = take<std::int64_t>(node, "trees.n_node_samples", {N}); !r) return std::move(r).error_value();
    if (auto r = take<double>(node, "trees.weighted_n_node_samples", {N}); !r) return std::move(r).error_value();
    if (auto r = check_finite(node, "trees.value", *value); !r) return std::move(r).error_value();
    e.node_offset = std::move(*offsets);
    e.children_left = std::move(*left);
    e.children_right = std::move(*right);
    e.feature = std::move(*feature);
    e.threshold = std::move(*threshold);
    e.value = std::move(*value);
    if (auto r = check_tree_structure(node, e); !r) return std::move(r).error_value();
    return e;
  }

  // C4.4: within each tree, a split's children are both in (own index, tree
  // size), every node but the root is the child of exactly one split, a
  // split's feature is in [0, F) and its threshold is finite. Also sets each
  // tree's depth, which the walk runs for.
  result<void> check_tree_structure(const estimator_node& node, tree_ensemble& e) const {
    const auto F = static_cast<std::int64_t>(node.n_features_in);
    std::vector<unsigned char> is_child;  // reused: the largest tree's size at most
    std::vector<std::uint32_t> depth;     // of each node of the tree
    e.depth.assign(e.trees, 0);
    for (std::size_t t = 0; t < e.trees; ++t) {
      const std::int64_t base = e.node_offset[t];
      const std::int64_t size = e.node_offset[t + 1] - base;
      is_child.assign(static_cast<std::size_t>(size), 0);
      depth.assign(static_cast<std::size_t>(size), 0);
      for (std::int64_t i = 0; i < size; ++i) {
        const auto at = static_cast<std::size_t>(base + i);
        const std::int64_t l = e.children_left[at];
        const std::int64_t r = e.children_right[at];
        auto where = [&](const char* array) {
          return node.prefix + "trees." + array;
        };
        auto node_text = [&] {
          return "node " + std::to_string(i) + " of tree " + std::to_string(t) + " (element " + std::to_string(at) + ")";
        };
        if (l == -1 && r == -1) continue;  // a leaf
        for (auto [child, array] : {std::pair{l, "children_left"}, std::pair{r, "children_right"}})
          if (child <= i || child >= size)
            return bad_tensor(where(array), node_text() + " has child " + std::to_string(child) +
                                                (child == -1 ? " (a leaf's) beside a split's"
                                                             : ", outside (" + std::to_string(i) + ", " +
                                                                   std::to_string(size) + ")"));
        for (auto [child, array] : {std::pair{l, "children_left"}, std::pair{r, "children_right"}}) {
          if (is_child[static_cast<std::size_t>(child)])
            return bad_tensor(where(array), node_text() + " has child " + std::to_string(child) +
                                                ", which is already another node's child");
          is_child[static_cast<std::size_t>(child)] = 1;
          // Parents come first, so a node's depth is known before its children's.
          depth[static_cast<std::size_t>(child)] = depth[static_cast<std::size_t>(i)] + 1;
          e.depth[t] = std::max(e.depth[t], depth[static_cast<std::size_t>(child)]);
        }
        const std::int64_t f = e.feature[at];
        if (f < 0 || f >= F)
          return bad_tensor(where("feature"), node_text() + " splits on feature " + std::to_string(f) + ", outside [0, " +
                                                  std::to_string(F) + ")");
        if (!std::isfinite(e.threshold[at]))
          return bad_tensor(where("threshold"), node_text() + " has threshold " + std::to_string(e.threshold[at]) +
                                                    ", not finite");
      }
      if (node.max_depth[t] >= static_cast<std::uint64_t>(size))
        return bad(node.where + ": `max_depth` of tree " + std::to_string(t) + " is " +
                   std::to_string(node.max_depth[t]) + ", not less than its " + std::to_string(size) + " nodes");
      for (std::int64_t i = 1; i < size; ++i)
        if (!is_child[static_cast<std::size_t>(i)])
          return bad_tensor(node.prefix + "trees.children_left",
                            "node " + std::to_string(i) + " of tree " + std::to_string(t) + " is no node's child");
    }
    return {};
  }

  result<void> add_pipeline(const estimator_node& node, std::vector<estimator>& steps) {
    std::uint64_t width = node.n_features_in;
    for (std::size_t i = 0; i < node.steps.size(); ++i) {
      const estimator_node& step = node.steps[i];
      if (step.n_features_in != width)
        return bad(step.where + ": `n_features_in` is " + std::to_string(step.n_features_in) + "; " +
                   (i == 0 ? "the pipeline's is " : "the previous step's output is ") + std::to_string(width));
      if (auto r = add(step, steps); !r) return r;
      const bool is_last = i + 1 == node.steps.size();
      if (!is_last && kind_of(steps.back()) != model_kind::transformer)
        return bad(step.where + ": " + step.type + " is not a transformer, but a step before the last");
      width = n_outputs_of(steps.back());
    }
    return {};
  }

  const reader& file_;
  std::vector<bool> claimed_;
};

}  // namespace detail

// Every rule of C4 on an open file; the steps to run when all hold.
inline result<checked_model> check_model(const reader& file) {
  auto text = file.metadata_value(description_key);
  if (!text)
    return make_error(errc::invalid_model, "no metadata key " + quote_name(description_key) +
                                               ": not a classic model file (spec/CLASSIC.md)")
        .in(file.source());
  auto about = parse_description(*text);
  if (!about) return std::move(about).error_value().in(file.source());
  detail::model_checker checker(file);
  std::vector<estimator> steps;
  if (auto r = checker.add(about->estimator, steps); !r) return std::move(r).error_value().in(file.source());
  if (auto r = checker.check_all_claimed(); !r) return std::move(r).error_value().in(file.source());
  return checked_model{std::move(*about), pipeline(std::move(steps))};
}

}  // namespace classic
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
