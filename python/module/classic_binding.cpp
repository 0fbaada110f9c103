// safeweights._core.check_classic_model: the rules of spec/CLASSIC.md C4,
// checked by the C++ core, so that Python's safeweights.sklearn.load and
// C++'s classic::load_model refuse the same files for the same reasons.
#include <pybind11/pybind11.h>

#include <span>
#include <string>
#include <string_view>

#include "errors.hpp"
#include "safeweights/classic/model_rules.hpp"
#include "safeweights/io/reader.hpp"

namespace py = pybind11;
namespace sw = safeweights;

namespace safeweights_py {
namespace {

// Raises invalid_model / unsupported_model (or the reader's error) for a file
// image that breaks a rule; otherwise returns what it holds:
// {"type", "kind", "n_features", "n_outputs", "n_classes"}. The image, not a
// path: load() checks the very bytes it then rebuilds from (a file could change
// between a check by path and a second read).
py::dict check_classic_model(const py::bytes& image, const std::string& label) {
  sw::classic::pipeline steps;
  std::string type;
  std::string_view bytes = image;
  {
    py::gil_scoped_release unlocked;
    auto file = unwrap(sw::reader::from_buffer(std::as_bytes(std::span(bytes.data(), bytes.size())), {}, label));
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
  m.def("check_classic_model", &check_classic_model, py::arg("image"), py::arg("label"),
        "Checks a scikit-learn model file's bytes (label: its name in messages) against spec/CLASSIC.md's rules (C4); raises InvalidModel or "
        "UnsupportedModel naming the tensor or the field, else returns {type, kind, n_features, n_outputs, n_classes}.");
}

}  // namespace safeweights_py
