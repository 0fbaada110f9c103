// safeweights._core.check_classic_model: the rules of spec/CLASSIC.md C4,
// checked by the C++ core, so that Python's safeweights.sklearn.load and
// C++'s classic::load_model refuse the same files for the same reasons.
#include <pybind11/pybind11.h>

#include <string>

#include "errors.hpp"
#include "safeweights/classic/model_rules.hpp"
#include "safeweights/io/reader.hpp"

namespace py = pybind11;
namespace sw = safeweights;

namespace safeweights_py {
namespace {

// Raises invalid_model / unsupported_model (or the reader's error) for a file
// that breaks a rule; otherwise returns what the file holds:
// {"type", "kind", "n_features", "n_outputs", "n_classes"}.
py::dict check_classic_model(const std::string& path) {
  sw::classic::pipeline steps;
  std::string type;
  {
    py::gil_scoped_release unlocked;
    auto file = unwrap(sw::reader::open(path));
    auto checked = unwrap(sw::classic::check_model(file));
    steps = std::move(checked.steps);
    type = checked.about.estimator.type;
  }
  static constexpr const char* kinds[] = {"classifier", "regressor", "transformer"};
  py::dict out;
  out["type"] = type;
  out["kind"] = kinds[static_cast<int>(steps.kind())];
  out["n_features"] = steps.n_features();
  out["n_outputs"] = steps.n_outputs();
  out["n_classes"] = steps.n_classes();
  return out;
}

}  // namespace

void register_classic(py::module_& m) {
  m.def("check_classic_model", &check_classic_model, py::arg("path"),
        "Checks a scikit-learn model file against spec/CLASSIC.md's rules (C4); raises InvalidModel or "
        "UnsupportedModel naming the tensor or the field, else returns {type, kind, n_features, n_outputs, n_classes}.");
}

}  // namespace safeweights_py
