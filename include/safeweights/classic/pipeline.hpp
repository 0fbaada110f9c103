// A model as the steps it runs: the transformers in turn, then the last step
// (spec/CLASSIC.md C5). A Pipeline's steps, and those of any pipeline inside
// it, are flattened into one list when the file is checked; a lone estimator
// is a list of one.
//
// Rows go through the steps a block at a time, so the intermediate results
// need at most two blocks of scratch: none is allocated for a lone estimator,
// nor for a small batch (it fits on the stack), and for a large batch one
// allocation per call, never per row.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <variant>
#include <vector>

#include "safeweights/classic/boosting.hpp"
#include "safeweights/classic/linear.hpp"
#include "safeweights/classic/scaler.hpp"
#include "safeweights/classic/trees.hpp"
#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace classic {

enum class model_kind { classifier, regressor, transformer };

using estimator = std::variant<standard_scaler, min_max_scaler, linear_regression, logistic_regression,
                               forest_classifier, forest_regressor, gradient_boosting>;

inline model_kind kind_of(const estimator& e) noexcept {
  return std::visit(
      [](const auto& s) {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, standard_scaler> || std::is_same_v<S, min_max_scaler>)
          return model_kind::transformer;
        else if constexpr (std::is_same_v<S, logistic_regression> || std::is_same_v<S, forest_classifier>)
          return model_kind::classifier;
        else if constexpr (std::is_same_v<S, gradient_boosting>)
          return s.classes ? model_kind::classifier : model_kind::regressor;
        else
          return model_kind::regressor;
      },
      e);
}

inline std::size_t n_features_of(const estimator& e) noexcept {
  return std::visit([](const auto& s) { return s.n_features(); }, e);
}

// Values per row of transform (a transformer) or predict (1 for a classifier).
inline std::size_t n_outputs_of(const estimator& e) noexcept {
  return std::visit(
      [](const auto& s) -> std::size_t {
        if constexpr (requires { s.n_outputs(); })
          return s.n_outputs();
        else
          return 1;
      },
      e);
}

inline std::size_t n_classes_of(const estimator& e) noexcept {
  return std::visit(
      [](const auto& s) -> std::size_t {
        if constexpr (requires { s.n_classes(); })
          return s.n_classes();
        else
          return 0;
      },
      e);
}

class pipeline {
 public:
  pipeline() = default;
  // `steps`: transformers, then any estimator, their widths chained (model_rules.hpp checks).
  explicit pipeline(std::vector<estimator> steps) : steps_(std::move(steps)) {
    for (std::size_t i = 0; i + 1 < steps_.size(); ++i) widest_ = std::max(widest_, n_outputs_of(steps_[i]));
    // Rows per block: up to 128, fewer for wide rows, so that two blocks of
    // transformer outputs hold at most 2 x 16384 doubles (or one row each).
    block_rows_ = std::max<std::size_t>(1, std::min<std::size_t>(128, 16384 / std::max<std::size_t>(widest_, 1)));
  }

  const std::vector<estimator>& steps() const noexcept { return steps_; }
  const estimator& last() const noexcept { return steps_.back(); }
  model_kind kind() const noexcept { return kind_of(last()); }
  std::size_t n_features() const noexcept { return n_features_of(steps_.front()); }
  std::size_t n_outputs() const noexcept { return n_outputs_of(last()); }
  std::size_t n_classes() const noexcept { return n_classes_of(last()); }

  // The caller has checked the kind and the sizes: x holds rows * n_features(),
  // out rows * n_outputs() (rows * n_classes() for predict_proba).
  void transform(const double* x, std::size_t rows, double* out) const {
    run(x, rows, 0, [&](const auto& s, const double* in, std::size_t first, std::size_t n, double*) {
      if constexpr (requires { s.transform(in, n, out); }) s.transform(in, n, out + first * s.n_outputs());
    });
  }
  void predict(const double* x, std::size_t rows, double* out) const {
    run(x, rows, 0, [&](const auto& s, const double* in, std::size_t first, std::size_t n, double*) {
      if constexpr (requires { s.predict(in, n, out); }) s.predict(in, n, out + first * s.n_outputs());
    });
  }
  void predict_proba(const double* x, std::size_t rows, double* out) const {
    run(x, rows, 0, [&](const auto& s, const double* in, std::size_t first, std::size_t n, double*) {
      if constexpr (requires { s.predict_proba(in, n, out); }) s.predict_proba(in, n, out + first * s.n_classes());
    });
  }
  void predict_class(const double* x, std::size_t rows, std::size_t* out) const {
    run(x, rows, n_classes(), [&](const auto& s, const double* in, std::size_t first, std::size_t n, double* scratch) {
      if constexpr (requires { s.predict_class(in, n, out, scratch); }) s.predict_class(in, n, out + first, scratch);
    });
  }

 private:
  // Scratch memory: on the stack up to its inline size, else one allocation.
  class scratch_space {
   public:
    explicit scratch_space(std::size_t n) {
      if (n > inline_size) {
        heap_ = std::make_unique_for_overwrite<double[]>(n);
        data_ = heap_.get();
      }
    }
    double* data() noexcept { return data_; }

   private:
    static constexpr std::size_t inline_size = 1024;
    double inline_[inline_size];
    std::unique_ptr<double[]> heap_;
    double* data_ = inline_;
  };

  // Runs the transformers over blocks of rows, then `last_step(step, input,
  // first_row, rows, scratch)` on each block; `per_row_scratch` doubles per row
  // are left free for it. A last step that is a transformer is given the
  // block too, and writes into the caller's output.
  template <class LastStep>
  void run(const double* x, std::size_t rows, std::size_t per_row_scratch, LastStep&& last_step) const {
    const std::size_t block = std::min(rows, block_rows_);
    scratch_space scratch(block * (2 * widest_ + per_row_scratch));
    double* ping = scratch.data();
    double* pong = ping + block * widest_;
    double* free_space = pong + block * widest_;
    const std::size_t width = n_features();
    for (std::size_t first = 0; first < rows; first += block) {
      const std::size_t n = std::min(block, rows - first);
      const double* in = x + first * width;
      for (std::size_t i = 0; i + 1 < steps_.size(); ++i) {
        std::visit(
            [&](const auto& s) {
              if constexpr (requires { s.transform(in, n, ping); }) s.transform(in, n, ping);
            },
            steps_[i]);
        in = ping;
        std::swap(ping, pong);
      }
      std::visit([&](const auto& s) { last_step(s, in, first, n, free_space); }, last());
    }
  }

  std::vector<estimator> steps_;
  std::size_t widest_ = 0;  // the widest output of a step before the last
  std::size_t block_rows_ = 128;
};

}  // namespace classic
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
