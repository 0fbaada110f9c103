// `safeweights predict` through the real binary, on the scikit-learn
// fixtures of tests/data/classic: its text, --proba, --json and --output
// agree with what scikit-learn predicted; CSV input (header, blank lines,
// spaces) and its errors, naming line and column; models that break the
// rules, refused with exit 1.
#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli_support.hpp"

using cli_test::lines_of;
using cli_test::run;
using test_support::scratch_dir;

namespace {

std::string classic(const std::string& file) { return (test_support::data_dir() / "classic" / file).string(); }

// The values of a fixture's .npy file (little-endian f8 or i8, C order, version 1 preamble).
std::vector<double> npy_values(const std::string& path) {
  auto bytes = test_support::read_bytes(path);
  REQUIRE(bytes.size() > 10);
  const std::size_t header = static_cast<std::size_t>(bytes[8]) | static_cast<std::size_t>(bytes[9]) << 8;
  std::string text(reinterpret_cast<const char*>(bytes.data()) + 10, header);
  REQUIRE(text.find("'fortran_order': False") != std::string::npos);
  const bool ints = text.find("'<i8'") != std::string::npos;
  std::vector<double> out((bytes.size() - 10 - header) / 8);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (ints) {
      std::int64_t v = 0;
      std::memcpy(&v, bytes.data() + 10 + header + 8 * i, 8);
      out[i] = static_cast<double>(v);
    } else {
      std::memcpy(&out[i], bytes.data() + 10 + header + 8 * i, 8);
    }
  }
  return out;
}

std::vector<double> numbers_of(const std::string& text) {
  std::vector<double> out;
  for (const std::string& line : lines_of(text)) {
    std::size_t from = 0;
    for (;;) {
      std::size_t comma = line.find(',', from);
      out.push_back(std::strtod(line.substr(from, comma - from).c_str(), nullptr));
      if (comma == std::string::npos) break;
      from = comma + 1;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("predict: labels, probabilities, values and transforms as scikit-learn's") {
  struct one {
    const char* name;
    std::vector<std::string> flags;
    const char* expected;  // the fixture's .npy beside it
  };
  for (const one& c : {one{"random_forest_wine", {}, "predict"}, one{"gradient_boosting_digits", {"--proba"}, "proba"},
                       one{"pipeline_standard_ridge_diabetes", {}, "predict"},
                       one{"minmax_scaler_breast_cancer", {}, "transform"},
                       one{"logistic_regression_multinomial_digits", {"--proba"}, "proba"}}) {
    INFO(c.name);
    std::vector<std::string> args = {"predict"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    args.push_back(classic(std::string(c.name) + ".safetensors"));
    args.push_back(classic(std::string(c.name) + ".X.npy"));
    auto r = run(args);
    INFO(r.err);
    REQUIRE(r.status == 0);
    auto got = numbers_of(r.out);
    auto want = npy_values(classic(std::string(c.name) + "." + c.expected + ".npy"));
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(std::fabs(got[i] - want[i]) <= 1e-9);
    CHECK(lines_of(r.out).size() == 50);
  }
}

TEST_CASE("predict --json and --output") {
  auto r = run({"predict", "--json", classic("decision_tree_iris.safetensors"), classic("decision_tree_iris.X.npy")});
  REQUIRE(r.status == 0);
  simdjson::dom::parser parser;
  simdjson::padded_string text(r.out);
  simdjson::dom::element doc = parser.parse(text).value();
  CHECK(std::string_view(doc["model"].get_string().value()) == "DecisionTreeClassifier");
  CHECK(std::string_view(doc["kind"].get_string().value()) == "classifier");
  CHECK(doc["classes"].get_array().value().size() == 3);
  auto predictions = doc["predictions"].get_array().value();
  auto want = npy_values(classic("decision_tree_iris.predict.npy"));
  std::size_t i = 0;
  for (auto p : predictions) CHECK(static_cast<double>(p.get_int64().value()) == want[i++]);
  CHECK(i == 50);

  scratch_dir dir;
  const std::string out = (dir / "proba.npy").string();
  auto w = run({"predict", "--proba", "--output", out, classic("random_forest_digits.safetensors"),
                classic("random_forest_digits.X.npy")});
  INFO(w.err);
  REQUIRE(w.status == 0);
  CHECK(w.out == "wrote " + out + ": [50, 10] F64\n");
  auto got = npy_values(out);
  auto proba = npy_values(classic("random_forest_digits.proba.npy"));
  REQUIRE(got.size() == proba.size());
  for (std::size_t k = 0; k < got.size(); ++k) CHECK(std::fabs(got[k] - proba[k]) <= 1e-9);
  const std::string labels = (dir / "labels.npy").string();
  REQUIRE(run({"predict", "--output", labels, classic("random_forest_digits.safetensors"),
               classic("random_forest_digits.X.npy")})
              .status == 0);
  CHECK(npy_values(labels) == npy_values(classic("random_forest_digits.predict.npy")));
}

TEST_CASE("predict: CSV input, with a header, blank lines and spaces") {
  scratch_dir dir;
  const std::string csv = (dir / "iris.csv").string();
  test_support::write_text(csv, "sepal length,sepal width,petal length,petal width\n5.1,3.5,1.4,0.2\n\n 6.7, 3.0 ,5.2,+2.3\r\n");
  auto r = run({"predict", classic("random_forest_iris.safetensors"), csv});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out == "0\n2\n");
  auto p = run({"predict", "--proba", classic("logistic_regression_iris.safetensors"), csv});
  REQUIRE(p.status == 0);
  auto values = numbers_of(p.out);
  REQUIRE(values.size() == 6);
  CHECK(std::fabs(values[0] + values[1] + values[2] - 1) < 1e-12);
}

TEST_CASE("predict: errors name the file, line and column; bad models are refused") {
  scratch_dir dir;
  const std::string csv = (dir / "bad.csv").string();
  test_support::write_text(csv, "5.1,3.5,1.4,0.2\n6.7,3.0,abc,2.3\n");
  auto r = run({"predict", classic("random_forest_iris.safetensors"), csv});
  CHECK(r.status == 1);
  CHECK(r.err.find("bad.csv: line 2, column 3: `abc` is not a number") != std::string::npos);
  test_support::write_text(csv, "5.1,3.5,1.4\n");
  r = run({"predict", classic("random_forest_iris.safetensors"), csv});
  CHECK(r.status == 1);
  CHECK(r.err.find("bad.csv: line 1: 3 columns; the model takes 4 features") != std::string::npos);
  // .npy of the wrong width
  r = run({"predict", classic("random_forest_iris.safetensors"), classic("random_forest_wine.X.npy")});
  CHECK(r.status == 1);
  CHECK(r.err.find("the model takes 4 features") != std::string::npos);
  // not a model file
  r = run({"predict", cli_test::valid("metadata.safetensors").string(), csv});
  CHECK(r.status == 1);
  CHECK(r.err.find("safeweights.sklearn") != std::string::npos);
  // --proba of a regressor; usage errors
  CHECK(run({"predict", "--proba", classic("ridge_diabetes.safetensors"), classic("ridge_diabetes.X.npy")}).status == 1);
  CHECK(run({"predict", classic("ridge_diabetes.safetensors")}).status == 2);
  CHECK(run({"predict", "--nope", classic("ridge_diabetes.safetensors"), csv}).status == 2);
  auto help = run({"predict", "--help"});
  CHECK(help.status == 0);
  CHECK(help.out.starts_with("usage: safeweights predict"));
}
