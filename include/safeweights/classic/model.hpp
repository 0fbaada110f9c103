// A scikit-learn model read from a safetensors file (spec/CLASSIC.md), for
// prediction without Python:
//
//   auto m = safeweights::classic::load_model("iris_forest.safetensors").value();
//   std::vector<double> proba(rows * m.classes().size());
//   m.predict_proba(x, rows, proba).value();
//
// Loading checks every rule of C4 (model_rules.hpp) once; prediction then
// runs tight loops over the file's arrays, viewed in the mapping, which the
// model keeps alive. Inputs are row-major: `rows` rows of n_features() doubles.
// The functions returning result<> throw nothing; the ones returning vectors
// are the throwing layer (safeweights::exception).
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "safeweights/classic/description.hpp"
#include "safeweights/classic/model_rules.hpp"
#include "safeweights/classic/pipeline.hpp"
#include "safeweights/io/reader.hpp"
#include "safeweights/util/checked.hpp"
#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace classic {

class model {
 public:
  // Checks the rules and builds the model over `file`'s arrays (the model holds the file open).
  static result<model> load(const reader& file) {
    auto checked = check_model(file);
    if (!checked) return std::move(checked).error_value();
    return model(file, std::move(*checked));
  }

  // What it is: classifier, regressor or transformer (a pipeline is what its last step is).
  model_kind kind() const noexcept { return steps_.kind(); }
  // The root estimator's scikit-learn type ("Pipeline", "RandomForestClassifier", ...).
  const std::string& type() const noexcept { return about_.estimator.type; }
  const std::string& sklearn_version() const noexcept { return about_.sklearn_version; }
  const std::string& source() const noexcept { return file_.source(); }
  const reader& file() const noexcept { return file_; }
  // The steps it runs (a pipeline's flattened; a lone estimator is one step).
  const pipeline& steps() const noexcept { return steps_; }

  // Input width; values per row that predict (or, for a transformer,
  // transform) writes: 1 for a classifier or a single-target regressor.
  std::size_t n_features() const noexcept { return steps_.n_features(); }
  std::size_t n_outputs() const noexcept { return steps_.n_outputs(); }
  // A classifier's labels in scikit-learn's order (predict_proba's columns),
  // as text; when they are integers, as numbers too (else empty). Empty for
  // a regressor or a transformer.
  std::span<const std::string> classes() const noexcept { return labels().names; }
  std::span<const double> class_numbers() const noexcept { return labels().numbers; }

  // Regressor: rows * n_outputs() values. Classifier with integer labels:
  // each row's label as a number (string labels: use predict_class).
  result<void> predict(std::span<const double> x, std::size_t rows, std::span<double> out) const {
    if (kind() == model_kind::transformer) return wrong_kind("predict", "a transformer: use transform");
    if (auto r = check_sizes(x, rows, out.size(), n_outputs(), "output"); !r) return r;
    if (kind() == model_kind::regressor) {
      steps_.predict(x.data(), rows, out.data());
      return {};
    }
    if (class_numbers().empty())
      return wrong_kind("predict", "a classifier of string labels: use predict_class (indices into classes())");
    std::size_t index[256];  // the classes of up to 256 rows at a time
    for (std::size_t first = 0; first < rows; first += 256) {
      const std::size_t n = std::min<std::size_t>(256, rows - first);
      steps_.predict_class(x.data() + first * n_features(), n, index);
      for (std::size_t r = 0; r < n; ++r) out[first + r] = class_numbers()[index[r]];
    }
    return {};
  }

  // Classifier: each row's class as an index into classes().
  result<void> predict_class(std::span<const double> x, std::size_t rows, std::span<std::size_t> out) const {
    if (kind() != model_kind::classifier) return wrong_kind("predict_class", "not a classifier");
    if (auto r = check_sizes(x, rows, out.size(), 1, "output"); !r) return r;
    steps_.predict_class(x.data(), rows, out.data());
    return {};
  }

  // Classifier: rows * classes().size() probabilities, each row's in classes()' order.
  result<void> predict_proba(std::span<const double> x, std::size_t rows, std::span<double> out) const {
    if (kind() != model_kind::classifier) return wrong_kind("predict_proba", "not a classifier");
    if (auto r = check_sizes(x, rows, out.size(), classes().size(), "probability"); !r) return r;
    steps_.predict_proba(x.data(), rows, out.data());
    return {};
  }

  // Transformer: rows * n_outputs() values.
  result<void> transform(std::span<const double> x, std::size_t rows, std::span<double> out) const {
    if (kind() != model_kind::transformer) return wrong_kind("transform", "not a transformer");
    if (auto r = check_sizes(x, rows, out.size(), n_outputs(), "output"); !r) return r;
    steps_.transform(x.data(), rows, out.data());
    return {};
  }

  // The throwing layer: the same, into new vectors; labels as text.
  std::vector<double> predict(std::span<const double> x, std::size_t rows) const {
    std::vector<double> out(rows * n_outputs());
    predict(x, rows, out).value();
    return out;
  }
  std::vector<std::string> predict_labels(std::span<const double> x, std::size_t rows) const {
    std::vector<std::size_t> index(rows);
    predict_class(x, rows, index).value();
    std::vector<std::string> out;
    out.reserve(rows);
    for (std::size_t k : index) out.push_back(classes()[k]);
    return out;
  }
  std::vector<double> predict_proba(std::span<const double> x, std::size_t rows) const {
    std::vector<double> out(rows * classes().size());
    predict_proba(x, rows, out).value();
    return out;
  }
  std::vector<double> transform(std::span<const double> x, std::size_t rows) const {
    std::vector<double> out(rows * n_outputs());
    transform(x, rows, out).value();
    return out;
  }

 private:
  model(const reader& file, checked_model checked)
      : file_(file), about_(std::move(checked.about)), steps_(std::move(checked.steps)) {}

  // The last estimator's labels (a pipeline's last step's, however nested).
  const class_labels& labels() const noexcept {
    const estimator_node* node = &about_.estimator;
    while (!node->steps.empty()) node = &node->steps.back();
    return node->classes;
  }

  error wrong_kind(const char* what, const char* why) const {
    return make_error(errc::invalid_argument,
                      std::string(what) + ": the model (" + type() + ") is " + why).in(source());
  }

  result<void> check_sizes(std::span<const double> x, std::size_t rows, std::size_t out_size, std::size_t per_row,
                           const char* what) const {
    std::uint64_t want_x = 0;
    std::uint64_t want_out = 0;
    if (!checked_mul(rows, n_features(), want_x) || !checked_mul(rows, per_row, want_out))
      return make_error(errc::invalid_argument, std::to_string(rows) + " rows overflow a size").in(source());
    if (x.size() != want_x)
      return make_error(errc::invalid_argument, "input holds " + std::to_string(x.size()) + " values; " +
                                                    std::to_string(rows) + " rows of " + std::to_string(n_features()) +
                                                    " features are " + std::to_string(want_x))
          .in(source());
    if (out_size != want_out)
      return make_error(errc::invalid_argument, std::string(what) + " buffer holds " + std::to_string(out_size) +
                                                    " values; " + std::to_string(rows) + " rows need " +
                                                    std::to_string(want_out))
          .in(source());
    return {};
  }

  reader file_;
  description about_;
  pipeline steps_;
};

// Opens and checks a model file (or a reader already open).
inline result<model> load_model(const reader& file) { return model::load(file); }
inline result<model> load_model(const std::string& path, const read_options& options = {}) {
  auto file = reader::open(path, options);
  if (!file) return std::move(file).error_value();
  return model::load(*file);
}

}  // namespace classic
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
