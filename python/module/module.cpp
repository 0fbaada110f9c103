// safeweights._core: the extension the Python package is built on. Each
// part registers itself; the Python modules (safeweights/*.py) are the face.
#include <pybind11/pybind11.h>

#include "errors.hpp"
#include "safeweights/version.hpp"

namespace py = pybind11;

namespace safeweights_py {
void register_reader(py::module_& m);
void register_writer(py::module_& m);
void register_integrity(py::module_& m);
void register_registry(py::module_& m);
void register_classic(py::module_& m);
}  // namespace safeweights_py

PYBIND11_MODULE(_core, m) {
  m.doc() = "safeweights' C++ core: reader, writer, integrity, the classic-model rules and the model registry, with the GIL released around I/O";
  safeweights_py::register_errors(m);
  safeweights_py::register_reader(m);
  safeweights_py::register_writer(m);
  safeweights_py::register_integrity(m);
  safeweights_py::register_registry(m);
  safeweights_py::register_classic(m);
}
