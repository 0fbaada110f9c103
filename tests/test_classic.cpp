// Classic models (classic/, spec/CLASSIC.md): every fixture of
// tests/data/classic (written by scikit-learn 1.2.1 through
// safeweights.sklearn.save, make_fixtures.py) predicts what scikit-learn
// predicted, within 1e-9 (labels equal); and every rule of C4 refuses a file
// that breaks it, naming the tensor. The bad files are good fixtures
// rewritten with the library's writer.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "errc_printer.hpp"
#include "safeweights/classic.hpp"
#include "safeweights/format/byte_order.hpp"
#include "safeweights/io/reader.hpp"
#include "safeweights/io/writer.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace classic = safeweights::classic;
using sw::dtype;
using sw::errc;

namespace {

std::filesystem::path classic_dir() { return test_support::data_dir() / "classic"; }
std::string fixture(const std::string& name) { return (classic_dir() / (name + ".safetensors")).string(); }

// A .npy file of the fixtures: little-endian f8 or i8, C order.
struct npy {
  std::string descr;
  std::vector<std::uint64_t> shape;
  std::vector<double> values;  // i8 arrays converted
};

std::optional<npy> read_npy(const std::filesystem::path& p) {
  if (!std::filesystem::exists(p)) return std::nullopt;
  auto bytes = test_support::read_bytes(p);
  REQUIRE(bytes.size() >= 10);
  REQUIRE(std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0);
  const auto major = static_cast<unsigned>(bytes[6]);
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<std::size_t>(bytes[8]) | static_cast<std::size_t>(bytes[9]) << 8;
    start = 10;
  } else {
    for (int i = 0; i < 4; ++i) header_len |= static_cast<std::size_t>(bytes[8 + i]) << (8 * i);
    start = 12;
  }
  std::string header(reinterpret_cast<const char*>(bytes.data()) + start, header_len);
  npy out;
  auto d = header.find("'descr': '");
  REQUIRE(d != std::string::npos);
  out.descr = header.substr(d + 10, header.find('\'', d + 10) - d - 10);
  const bool fortran = header.find("'fortran_order': True") != std::string::npos;
  auto s = header.find("'shape': (");
  REQUIRE(s != std::string::npos);
  std::string dims = header.substr(s + 10, header.find(')', s) - s - 10);
  std::uint64_t count = 1;
  for (std::size_t i = 0; i < dims.size();) {
    if (dims[i] < '0' || dims[i] > '9') {
      ++i;
      continue;
    }
    std::uint64_t v = 0;
    while (i < dims.size() && dims[i] >= '0' && dims[i] <= '9') v = v * 10 + static_cast<std::uint64_t>(dims[i++] - '0');
    out.shape.push_back(v);
    count *= v;
  }
  const std::byte* data = bytes.data() + start + header_len;
  REQUIRE(bytes.size() == start + header_len + count * 8);
  out.values.resize(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    if (out.descr == "<f8") {
      std::memcpy(&out.values[i], data + i * 8, 8);
      out.values[i] = sw::from_little(out.values[i]);
    } else {
      REQUIRE(out.descr == "<i8");
      std::int64_t v = 0;
      std::memcpy(&v, data + i * 8, 8);
      out.values[i] = static_cast<double>(sw::from_little(v));
    }
  }
  if (fortran && out.shape.size() == 2) {  // column-major, as np.vstack(...).T leaves predict_proba's result
    std::vector<double> c_order(out.values.size());
    const std::uint64_t rows = out.shape[0], cols = out.shape[1];
    for (std::uint64_t r = 0; r < rows; ++r)
      for (std::uint64_t c = 0; c < cols; ++c) c_order[r * cols + c] = out.values[c * rows + r];
    out.values = std::move(c_order);
  }
  return out;
}

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(classic_dir()))
    if (e.path().extension() == ".safetensors") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

// A fixture rewritten by the library's writer, with tensors replaced, added
// or dropped and the description edited; then read from memory.
class edited_model {
 public:
  explicit edited_model(const std::string& name) : file_(sw::reader::open(fixture(name)).value()) {
    description_ = std::string(*file_.metadata_value(classic::description_key));
    for (const auto& t : file_.tensors()) {
      auto view = file_.tensor(t).value();
      auto bytes = view.bytes();
      tensors_[std::string(t.name)] = {t.type, std::vector<std::uint64_t>(t.shape.begin(), t.shape.end()),
                                       std::vector<std::byte>(bytes.begin(), bytes.end())};
    }
  }

  // Element i of an I64 or F64 tensor.
  template <class T>
  T get(const std::string& name, std::size_t i) const {
    T v;
    std::memcpy(&v, tensors_.at(name).bytes.data() + i * sizeof(T), sizeof(T));
    return sw::from_little(v);
  }
  template <class T>
  edited_model& set(const std::string& name, std::size_t i, T v) {
    REQUIRE(tensors_.count(name));
    REQUIRE((i + 1) * sizeof(T) <= tensors_[name].bytes.size());
    v = sw::to_little(v);  // the file's byte order, whatever the host's
    std::memcpy(tensors_[name].bytes.data() + i * sizeof(T), &v, sizeof(T));
    return *this;
  }
  edited_model& reshape(const std::string& name, std::vector<std::uint64_t> shape) {
    tensors_.at(name).shape = std::move(shape);
    return *this;
  }
  edited_model& retype(const std::string& name, dtype t) {
    auto& e = tensors_.at(name);
    e.type = t;
    e.shape = {e.bytes.size() / sw::byte_width(t)};
    return *this;
  }
  edited_model& drop(const std::string& name) {
    REQUIRE(tensors_.erase(name) == 1);
    return *this;
  }
  edited_model& add(const std::string& name, std::vector<double> values) {
    tensors_[name] = {dtype::F64, {values.size()}, test_support::le_bytes(values)};
    return *this;
  }
  // Replaces the one occurrence of `from` in the description.
  edited_model& edit(const std::string& from, const std::string& to) {
    auto at = description_.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, from);
    REQUIRE_MESSAGE(description_.find(from, at + 1) == std::string::npos, from);
    description_.replace(at, from.size(), to);
    return *this;
  }
  edited_model& describe(std::string text) {
    description_ = std::move(text);
    return *this;
  }
  edited_model& rename_prefix(const std::string& from, const std::string& to) {
    std::map<std::string, entry> renamed;
    for (auto& [name, t] : tensors_)
      renamed[name.starts_with(from) ? to + name.substr(from.size()) : name] = std::move(t);
    tensors_ = std::move(renamed);
    return *this;
  }
  const std::string& description() const { return description_; }
  std::size_t tensor_elements(const std::string& name) const { return tensors_.at(name).bytes.size() / 8; }

  sw::result<classic::model> load() {
    sw::writer w;
    for (auto& [name, t] : tensors_) REQUIRE(w.add(name, t.type, t.shape, t.bytes));
    w.set_metadata(std::string(classic::description_key), description_);
    image_ = w.serialize().value();
    auto file = sw::reader::from_buffer(image_, {}, "edited.safetensors");
    if (!file) return std::move(file).error_value();
    return classic::load_model(*file);
  }

 private:
  struct entry {
    dtype type;
    std::vector<std::uint64_t> shape;
    std::vector<std::byte> bytes;
  };
  sw::reader file_;
  std::string description_;
  std::map<std::string, entry> tensors_;
  std::vector<std::byte> image_;
};

// The edited model is refused with `code`, and the message names `what`.
void check_refused(edited_model& m, errc code, const std::string& what) {
  auto r = m.load();
  REQUIRE_FALSE(r.has_value());
  INFO(r.error_value().message);
  CHECK(r.code() == code);
  CHECK(r.error_value().message.find(what) != std::string::npos);
  CHECK(r.error_value().message.find("edited.safetensors") != std::string::npos);
}

}  // namespace

TEST_CASE("C5: every fixture predicts what scikit-learn predicted") {
  const auto names = fixture_names();
  REQUIRE(names.size() >= 45);
  std::string table = "\n| fixture | kind | max abs difference |\n|---|---|---|\n";
  for (const auto& name : names) {
    INFO(name);
    auto m = classic::load_model(fixture(name));
    INFO((m ? std::string() : m.error_value().message));
    REQUIRE(m.has_value());
    auto x = read_npy(classic_dir() / (name + ".X.npy"));
    REQUIRE(x.has_value());
    REQUIRE(x->shape.size() == 2);
    const auto rows = static_cast<std::size_t>(x->shape[0]);
    REQUIRE(x->shape[1] == m->n_features());
    double worst = 0;
    if (auto expected = read_npy(classic_dir() / (name + ".transform.npy"))) {
      CHECK(m->kind() == classic::model_kind::transformer);
      worst = std::max(worst, max_abs_difference(m->transform(x->values, rows), expected->values));
    }
    if (auto expected = read_npy(classic_dir() / (name + ".predict.npy"))) {
      auto got = m->predict(x->values, rows);
      if (m->kind() == classic::model_kind::classifier) {
        CHECK(expected->descr == "<i8");
        CHECK(got == expected->values);  // labels equal
        auto labels = m->predict_labels(x->values, rows);
        for (std::size_t r = 0; r < rows; ++r)
          CHECK(labels[r] == std::to_string(static_cast<std::int64_t>(expected->values[r])));
      } else {
        CHECK(m->kind() == classic::model_kind::regressor);
        worst = std::max(worst, max_abs_difference(got, expected->values));
      }
    }
    if (auto expected = read_npy(classic_dir() / (name + ".proba.npy"))) {
      REQUIRE(expected->shape[1] == m->classes().size());
      worst = std::max(worst, max_abs_difference(m->predict_proba(x->values, rows), expected->values));
    }
    CHECK(worst <= 1e-9);
    char line[200];
    std::snprintf(line, sizeof line, "| %s | %s | %.3g |\n", name.c_str(),
                  m->kind() == classic::model_kind::classifier   ? "classifier"
                  : m->kind() == classic::model_kind::regressor  ? "regressor"
                                                                 : "transformer",
                  worst);
    table += line;
  }
  MESSAGE(table);
}

TEST_CASE("C5: a batch predicts what its rows predict one at a time") {
  for (const std::string name : {"random_forest_wine", "gradient_boosting_digits", "pipeline_standard_logistic_digits",
                                 "pipeline_minmax_forest_diabetes"}) {
    INFO(name);
    auto m = classic::load_model(fixture(name)).value();
    auto x = read_npy(classic_dir() / (name + ".X.npy")).value();
    const auto rows = static_cast<std::size_t>(x.shape[0]);
    const std::size_t F = m.n_features();
    const bool classifier = m.kind() == classic::model_kind::classifier;
    auto batch = classifier ? m.predict_proba(x.values, rows) : m.predict(x.values, rows);
    const std::size_t width = batch.size() / rows;
    for (std::size_t r = 0; r < rows; ++r) {
      std::span<const double> row(x.values.data() + r * F, F);
      auto one = classifier ? m.predict_proba(row, 1) : m.predict(row, 1);
      CHECK(std::equal(one.begin(), one.end(), batch.begin() + static_cast<std::ptrdiff_t>(r * width)));
    }
  }
}

TEST_CASE("the model: kind, widths, labels, and its arrays viewed in the mapping") {
  auto forest = classic::load_model(fixture("random_forest_iris")).value();
  CHECK(forest.kind() == classic::model_kind::classifier);
  CHECK(forest.type() == "RandomForestClassifier");
  CHECK(forest.sklearn_version() == "1.2.1");
  CHECK(forest.n_features() == 4);
  CHECK(forest.n_outputs() == 1);
  CHECK(forest.classes().size() == 3);
  CHECK(forest.classes()[2] == "2");
  CHECK(forest.class_numbers()[1] == 1.0);
  const auto& trees = std::get<classic::forest_classifier>(forest.steps().last()).forest;
  // Views of the mapping; a big-endian host reads swapped copies instead.
  CHECK(trees.threshold.is_copy() == sw::host_is_big_endian);
  CHECK(trees.children_left.is_copy() == sw::host_is_big_endian);
  CHECK(trees.value.is_copy() == sw::host_is_big_endian);

  auto pipe = classic::load_model(fixture("pipeline_standard_ridge_diabetes")).value();
  CHECK(pipe.kind() == classic::model_kind::regressor);
  CHECK(pipe.type() == "Pipeline");
  CHECK(pipe.steps().steps().size() == 2);
  CHECK(pipe.classes().empty());

  auto scaler = classic::load_model(fixture("standard_scaler_wine")).value();
  CHECK(scaler.kind() == classic::model_kind::transformer);
  CHECK(scaler.n_outputs() == 13);
}

TEST_CASE("a file image at an address not aligned for doubles is copied, and predicts the same") {
  auto bytes = test_support::read_bytes(fixture("gradient_boosting_wine"));
  std::vector<std::byte> shifted(bytes.size() + 1);
  std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
  auto file = sw::reader::from_buffer(std::span<const std::byte>(shifted).subspan(1)).value();
  auto m = classic::load_model(file).value();
  const auto& boosting = std::get<classic::gradient_boosting>(m.steps().last());
  CHECK(boosting.forest.threshold.is_copy());
  auto x = read_npy(classic_dir() / "gradient_boosting_wine.X.npy").value();
  auto expected = read_npy(classic_dir() / "gradient_boosting_wine.proba.npy").value();
  CHECK(max_abs_difference(m.predict_proba(x.values, 50), expected.values) <= 1e-9);
}

TEST_CASE("the caller's mistakes: a wrong kind of call, wrong sizes") {
  auto regressor = classic::load_model(fixture("ridge_diabetes")).value();
  std::vector<double> x(10 * 3), out(3);
  CHECK(regressor.predict_proba(x, 3, out).code() == errc::invalid_argument);
  CHECK(regressor.transform(x, 3, out).code() == errc::invalid_argument);
  CHECK(regressor.predict(x, 3, out).has_value());
  CHECK(regressor.predict(x, 2, out).code() == errc::invalid_argument);           // x holds 3 rows
  CHECK(regressor.predict(x, 3, std::span(out).first(2)).code() == errc::invalid_argument);
  CHECK(regressor.predict(x, std::numeric_limits<std::size_t>::max(), out).code() == errc::invalid_argument);
  auto scaler = classic::load_model(fixture("minmax_scaler_iris")).value();
  std::vector<double> row(4), transformed(4);
  CHECK(scaler.predict(row, 1, transformed).code() == errc::invalid_argument);
  CHECK_THROWS_AS(scaler.predict(std::vector<double>(4), 1), sw::exception);
  CHECK(classic::load_model(fixture("no_such_model")).code() == errc::io_error);
}

TEST_CASE("C4.4: a tree's children, features and thresholds") {
  // decision_tree_iris: one tree; node 0 is a split (node_offset [0, N]).
  SUBCASE("a child out of range") {
    edited_model m("decision_tree_iris");
    const auto N = m.tensor_elements("trees.children_left");
    m.set<std::int64_t>("trees.children_left", 0, static_cast<std::int64_t>(N) + 5);
    check_refused(m, errc::invalid_model, "trees.children_left");
  }
  SUBCASE("a negative child other than a leaf's -1") {
    edited_model m("decision_tree_iris");
    m.set<std::int64_t>("trees.children_right", 0, -7);
    check_refused(m, errc::invalid_model, "trees.children_right");
  }
  SUBCASE("one child -1, the other a node") {
    edited_model m("decision_tree_iris");
    m.set<std::int64_t>("trees.children_left", 0, -1);
    check_refused(m, errc::invalid_model, "trees.children_left");
  }
  SUBCASE("a cycle: a child at or before its parent") {
    edited_model m("decision_tree_iris");
    const auto at = m.get<std::int64_t>("trees.children_right", 0);  // a split below the root
    REQUIRE(m.get<std::int64_t>("trees.children_left", static_cast<std::size_t>(at)) != -1);
    m.set<std::int64_t>("trees.children_left", static_cast<std::size_t>(at), 0);
    check_refused(m, errc::invalid_model, "trees.children_left");
    edited_model self("decision_tree_iris");
    self.set<std::int64_t>("trees.children_left", static_cast<std::size_t>(at), at);
    check_refused(self, errc::invalid_model, "trees.children_left");
  }
  SUBCASE("a node reached twice") {
    edited_model m("decision_tree_iris");
    m.set<std::int64_t>("trees.children_right", 0, m.get<std::int64_t>("trees.children_left", 0));
    check_refused(m, errc::invalid_model, "already another node's child");
  }
  SUBCASE("a feature index at or past F, or negative at a split") {
    edited_model m("decision_tree_iris");
    m.set<std::int64_t>("trees.feature", 0, 4);
    check_refused(m, errc::invalid_model, "trees.feature");
    edited_model negative("decision_tree_iris");
    negative.set<std::int64_t>("trees.feature", 0, -2);
    check_refused(negative, errc::invalid_model, "trees.feature");
  }
  SUBCASE("a NaN or infinite threshold") {
    edited_model m("decision_tree_iris");
    m.set<double>("trees.threshold", 0, std::numeric_limits<double>::quiet_NaN());
    check_refused(m, errc::invalid_model, "trees.threshold");
    edited_model inf("decision_tree_iris");
    inf.set<double>("trees.threshold", 0, std::numeric_limits<double>::infinity());
    check_refused(inf, errc::invalid_model, "trees.threshold");
  }
  SUBCASE("a NaN leaf value (C4.5)") {
    edited_model m("random_forest_diabetes");
    m.set<double>("trees.value", 3, std::numeric_limits<double>::quiet_NaN());
    check_refused(m, errc::invalid_model, "trees.value");
  }
  SUBCASE("in the second tree of a forest, in a pipeline step") {
    edited_model m("pipeline_minmax_forest_iris");
    const auto second = static_cast<std::size_t>(m.get<std::int64_t>("steps.1.trees.node_offset", 1));
    m.set<std::int64_t>("steps.1.trees.children_left", second, 0);  // tree 1's root points back at itself
    check_refused(m, errc::invalid_model, "steps.1.trees.children_left");
  }
}

TEST_CASE("C3, C4.4: node_offset") {
  SUBCASE("not increasing") {
    edited_model m("random_forest_iris");
    m.set<std::int64_t>("trees.node_offset", 2, m.get<std::int64_t>("trees.node_offset", 1));
    check_refused(m, errc::invalid_model, "trees.node_offset");
  }
  SUBCASE("not starting at 0") {
    edited_model m("random_forest_iris");
    m.set<std::int64_t>("trees.node_offset", 0, 1);
    check_refused(m, errc::invalid_model, "trees.node_offset");
  }
  SUBCASE("not ending at N") {
    edited_model m("random_forest_iris");
    const auto T = m.tensor_elements("trees.node_offset") - 1;
    m.set<std::int64_t>("trees.node_offset", T, m.get<std::int64_t>("trees.node_offset", T) - 1);
    check_refused(m, errc::invalid_model, "trees.node_offset");
    edited_model past("random_forest_iris");
    past.set<std::int64_t>("trees.node_offset", T, std::numeric_limits<std::int64_t>::max());
    check_refused(past, errc::invalid_model, "trees.node_offset");
  }
  SUBCASE("its length is not n_trees + 1") {
    edited_model m("random_forest_iris");
    // n_trees 9 (and 9 depths): node_offset holds 11 entries, not 10.
    std::string d = m.description();
    const std::string key = "\"n_trees\":10,\"max_depth\":[";
    auto at = d.find(key);
    REQUIRE(at != std::string::npos);
    d.erase(at + key.size(), d.find(",", at + key.size()) + 1 - (at + key.size()));
    d.replace(at, key.size(), "\"n_trees\":9,\"max_depth\":[");
    const std::string states = "\"tree_random_state\":[209652396,";
    d.replace(d.find(states), states.size(), "\"tree_random_state\":[");
    m.describe(d);
    check_refused(m, errc::invalid_model, "trees.node_offset");
  }
}

TEST_CASE("C4.2: tensors missing, left over, of the wrong dtype or shape") {
  SUBCASE("missing") {
    edited_model m("random_forest_iris");
    m.drop("trees.impurity");
    check_refused(m, errc::invalid_model, "trees.impurity");
    edited_model scaler("standard_scaler_iris");
    scaler.drop("scale_");
    check_refused(scaler, errc::invalid_model, "scale_");
  }
  SUBCASE("left over") {
    edited_model m("logistic_regression_iris");
    m.add("extra_", {1.0, 2.0});
    check_refused(m, errc::invalid_model, "extra_");
  }
  SUBCASE("wrong dtype") {
    edited_model m("decision_tree_wine");
    m.retype("trees.threshold", dtype::F32);  // twice the elements, as F32
    check_refused(m, errc::invalid_model, "trees.threshold");
    edited_model ints("decision_tree_wine");
    ints.retype("trees.feature", dtype::F64);
    check_refused(ints, errc::invalid_model, "trees.feature");
  }
  SUBCASE("wrong shape") {
    edited_model m("logistic_regression_wine");  // coef_ [3, 13]
    m.reshape("coef_", {13, 3});
    check_refused(m, errc::invalid_model, "coef_");
    edited_model flat("linear_regression_diabetes");  // intercept_ []
    flat.reshape("intercept_", {1});
    check_refused(flat, errc::invalid_model, "intercept_");
  }
}

TEST_CASE("C4.3: sizes agree") {
  SUBCASE("classes of the wrong size for the value array") {
    edited_model m("decision_tree_iris");
    m.edit("\"classes\":[0,1,2]", "\"classes\":[0,1]");
    check_refused(m, errc::invalid_model, "trees.value");
    edited_model lr("logistic_regression_iris");
    lr.edit("\"classes\":[0,1,2]", "\"classes\":[0,1,2,3]");
    check_refused(lr, errc::invalid_model, "coef_");
  }
  SUBCASE("fewer than two classes, repeated or unsorted labels, mixed types") {
    for (const char* bad : {"[0]", "[0, 0, 2]", "[0, 2, 1]", "[0, \"1\", 2]", "[0, 1.5, 2]"}) {
      edited_model m("decision_tree_iris");
      m.edit("\"classes\":[0,1,2]", std::string("\"classes\":") + bad);
      check_refused(m, errc::invalid_model, "classes");
    }
  }
  SUBCASE("a per-feature array of the wrong width") {
    edited_model m("standard_scaler_iris");
    m.edit("\"n_features_in\":4", "\"n_features_in\":5");
    check_refused(m, errc::invalid_model, "mean_");
  }
  SUBCASE("a pipeline step whose input is not the previous step's output") {
    edited_model m("pipeline_standard_logistic_iris");
    std::string d = m.description();
    // The pipeline says 5 features; its first step takes 4.
    auto at = d.find("\"n_features_in\":4");
    d.replace(at, 17, "\"n_features_in\":5");
    m.describe(d);
    check_refused(m, errc::invalid_model, "n_features_in");
  }
  SUBCASE("a step before the last that is not a transformer") {
    // The forest first, then the scaler: each step's estimator, prefix and tensors moved.
    edited_model m("pipeline_minmax_forest_iris");
    std::string d = m.description();
    const auto scaler_at = d.find("{\"type\":\"MinMaxScaler\"");
    const auto scaler_end = d.find("}},{\"name\":\"model\"") + 1;
    const auto forest_at = d.find("{\"type\":\"RandomForestClassifier\"");
    const auto forest_end = d.size() - 4;  // the forest's object, then "}]}}"
    REQUIRE((scaler_at < scaler_end && scaler_end < forest_at));
    auto moved = [](std::string node, const std::string& from, const std::string& to) {
      node.replace(node.find(from), from.size(), to);
      return node;
    };
    const std::string scaler = moved(d.substr(scaler_at, scaler_end - scaler_at), "\"steps.0.\"", "\"steps.1.\"");
    const std::string forest = moved(d.substr(forest_at, forest_end - forest_at), "\"steps.1.\"", "\"steps.0.\"");
    d = d.substr(0, scaler_at) + forest + d.substr(scaler_end, forest_at - scaler_end) + scaler + d.substr(forest_end);
    m.describe(d).rename_prefix("steps.0.", "steps.9.").rename_prefix("steps.1.", "steps.0.").rename_prefix("steps.9.", "steps.1.");
    check_refused(m, errc::invalid_model, "not a transformer");
  }
}

TEST_CASE("C4.5: non-finite numbers, a zero scale") {
  SUBCASE("NaN in coef_") {
    edited_model m("logistic_regression_breast_cancer");
    m.set<double>("coef_", 7, std::numeric_limits<double>::quiet_NaN());
    check_refused(m, errc::invalid_model, "coef_");
  }
  SUBCASE("infinite intercept") {
    edited_model m("ridge_diabetes");
    m.set<double>("intercept_", 0, -std::numeric_limits<double>::infinity());
    check_refused(m, errc::invalid_model, "intercept_");
  }
  SUBCASE("a zero scale_ in a StandardScaler") {
    edited_model m("standard_scaler_digits");
    m.set<double>("scale_", 5, 0.0);
    check_refused(m, errc::invalid_model, "scale_");
  }
  SUBCASE("NaN in a MinMaxScaler's min_") {
    edited_model m("minmax_scaler_wine");
    m.set<double>("min_", 0, std::numeric_limits<double>::quiet_NaN());
    check_refused(m, errc::invalid_model, "min_");
  }
}

TEST_CASE("C4.6: boosting's numbers stored twice agree") {
  SUBCASE("init_raw_prediction is not what init.class_prior_ gives") {
    edited_model m("gradient_boosting_iris");
    m.set<double>("init_raw_prediction", 1, m.get<double>("init_raw_prediction", 1) + 1e-6);
    check_refused(m, errc::invalid_model, "init_raw_prediction");
  }
  SUBCASE("init_raw_prediction is not init.constant_") {
    edited_model m("gradient_boosting_diabetes");
    m.set<double>("init.constant_", 0, 1.0);
    check_refused(m, errc::invalid_model, "init_raw_prediction");
  }
  SUBCASE("learning_rate differs from params.learning_rate") {
    edited_model m("gradient_boosting_breast_cancer");
    m.edit("\"trees_per_stage\":1,\"learning_rate\":0.1", "\"trees_per_stage\":1,\"learning_rate\":0.2");
    check_refused(m, errc::invalid_model, "learning_rate");
  }
}

TEST_CASE("C4.1: the description") {
  SUBCASE("malformed JSON") {
    for (const char* text : {"{not json", "", "[1, 2]", "{\"format\": \"safeweights.sklearn\"}", "null",
                             "{\"format\": \"safeweights.sklearn\", \"format\": \"x\"}"}) {
      edited_model m("ridge_diabetes");
      m.describe(text);
      check_refused(m, errc::invalid_model, "safeweights.sklearn");
    }
  }
  SUBCASE("no description") {
    auto bytes = test_support::read_bytes(test_support::conformance_dir() / "valid" / "metadata.safetensors");
    auto file = sw::reader::from_buffer(bytes, {}, "plain.safetensors").value();
    auto r = classic::load_model(file);
    CHECK(r.code() == errc::invalid_model);
  }
  SUBCASE("a field of the wrong type, or missing") {
    edited_model wrong_type("ridge_diabetes");
    wrong_type.edit("\"n_features_in\":10", "\"n_features_in\":\"10\"");
    check_refused(wrong_type, errc::invalid_model, "n_features_in");
    edited_model zero("ridge_diabetes");
    zero.edit("\"n_features_in\":10", "\"n_features_in\":0");
    check_refused(zero, errc::invalid_model, "n_features_in");
    edited_model names("ridge_diabetes");
    names.edit("\"feature_names_in\":null", "\"feature_names_in\":[\"a\"]");
    check_refused(names, errc::invalid_model, "feature_names_in");
    edited_model prefix("pipeline_standard_ridge_diabetes");
    prefix.edit("\"prefix\":\"steps.1.\"", "\"prefix\":\"steps.0.\"");
    check_refused(prefix, errc::invalid_model, "prefix");
    edited_model seen("minmax_scaler_wine");
    seen.edit("\"n_samples_seen\":178", "\"n_samples_seen\":0");
    check_refused(seen, errc::invalid_model, "n_samples_seen");
    edited_model version("ridge_diabetes");
    version.edit("\"format_version\":1", "\"format_version\":2");
    check_refused(version, errc::invalid_model, "format_version");
  }
  SUBCASE("a type off the allow-list") {
    edited_model m("ridge_diabetes");
    m.edit("\"type\":\"Ridge\"", "\"type\":\"SVC\"");
    check_refused(m, errc::unsupported_model, "SVC");
  }
  SUBCASE("an option off the allow-list") {
    edited_model loss("gradient_boosting_breast_cancer");
    loss.edit("\"loss\":\"log_loss\",\"trees_per_stage\"", "\"loss\":\"exponential\",\"trees_per_stage\"");
    loss.edit("\"loss\":\"log_loss\"", "\"loss\":\"exponential\"");
    check_refused(loss, errc::unsupported_model, "exponential");
    edited_model multi("logistic_regression_multinomial_iris");
    multi.edit("\"classes\":[0,1,2],\"multi_class\":\"multinomial\"", "\"classes\":[0,1,2],\"multi_class\":\"auto\"");
    check_refused(multi, errc::unsupported_model, "multi_class");
    edited_model init("gradient_boosting_diabetes");
    init.edit("\"init\":null", "\"init\":\"zero\"");
    check_refused(init, errc::unsupported_model, "init");
  }
  SUBCASE("pipelines nested too deep") {
    std::string node = R"({"type": "StandardScaler", "prefix": "P", "params": {"with_mean": true, "with_std": true},
                           "n_features_in": 4, "feature_names_in": null, "n_samples_seen": 150})";
    std::string prefix;
    for (int i = 0; i < 40; ++i) prefix += "steps.0.";
    for (int i = 40; i > 0; --i)
      node = R"({"type": "Pipeline", "prefix": "P", "params": {}, "n_features_in": 4, "feature_names_in": null,
                 "steps": [{"name": "s", "estimator": )" + node + "}]}";
    edited_model m("standard_scaler_iris");
    m.describe(R"({"format": "safeweights.sklearn", "format_version": 1, "sklearn_version": "1.2.1", "estimator": )" +
               node + "}");
    auto r = m.load();
    CHECK((r.code() == errc::unsupported_model || r.code() == errc::invalid_model));
  }
}

TEST_CASE("the fuzz target's hand-made seeds (fuzz/make_classic_seeds.py) are valid models") {
  const std::filesystem::path seeds = std::filesystem::path(SAFEWEIGHTS_SOURCE_ROOT) / "fuzz/corpus/classic_model";
  std::size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator(seeds)) {
    if (!e.path().filename().string().starts_with("seed-")) continue;
    INFO(e.path().string());
    auto m = classic::load_model(e.path().string());
    INFO((m ? std::string() : m.error_value().message));
    REQUIRE(m.has_value());
    std::vector<double> x(2 * m->n_features(), 0.75);
    if (m->kind() == classic::model_kind::classifier) {
      auto p = m->predict_proba(x, 2);
      CHECK(std::fabs(p[0] + p[1] + (p.size() > 4 ? p[2] : 0) - 1) < 1e-12);
      CHECK(m->predict_labels(x, 2).size() == 2);
    } else {
      CHECK(m->predict(x, 2).size() == 2 * m->n_outputs());
    }
    ++n;
  }
  CHECK(n == 5);
}

TEST_CASE("C4.4, C4.6: max_depth, tree_random_state, multi_class as scikit-learn resolves it") {
  SUBCASE("a max_depth not less than its tree's node count") {
    edited_model m("decision_tree_iris");
    m.edit("\"max_depth\":[5]", "\"max_depth\":[100000]");
    check_refused(m, errc::invalid_model, "max_depth");
  }
  SUBCASE("an integer beyond I64") {
    edited_model m("decision_tree_iris");
    m.edit("\"max_depth\":[5]", "\"max_depth\":[18446744073709551615]");
    check_refused(m, errc::invalid_model, "max_depth");
  }
  SUBCASE("tree_random_state of the wrong length or type") {
    edited_model m("random_forest_iris");
    m.edit("\"tree_random_state\":[209652396,", "\"tree_random_state\":[");
    check_refused(m, errc::invalid_model, "tree_random_state");
    edited_model text("random_forest_iris");
    text.edit("\"tree_random_state\":[209652396,", "\"tree_random_state\":[\"x\",");
    check_refused(text, errc::invalid_model, "tree_random_state");
  }
  SUBCASE("multi_class disagrees with params.multi_class") {
    edited_model m("logistic_regression_ovr_wine");  // params.multi_class "ovr"
    m.edit("\"multi_class\":\"ovr\"}", "\"multi_class\":\"multinomial\"}");
    check_refused(m, errc::invalid_model, "multi_class");
    edited_model automatic("logistic_regression_wine");  // "auto" with lbfgs and K = 3: multinomial
    automatic.edit("\"multi_class\":\"multinomial\"}", "\"multi_class\":\"ovr\"}");
    check_refused(automatic, errc::invalid_model, "multi_class");
  }
}
