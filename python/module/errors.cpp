#include "errors.hpp"

#include <cerrno>
#include <cstring>
#include <string>

namespace py = pybind11;
namespace sw = safeweights;

namespace safeweights_py {

void register_errors(py::module_& m) {
  m.def("error_codes", [] {
    py::list names;
    for (std::string_view name : sw::errc_names) names.append(py::str(name.data(), name.size()));
    return names;
  }, "The core's error code names, in enum order (errc in safeweights/error.hpp).");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const core_error& e) {
      // A missing file is also Python's FileNotFoundError, as in the reference.
      const bool missing = e.err.code == sw::errc::io_error &&
                           e.err.message.find(std::strerror(ENOENT)) != std::string::npos;
      const std::string_view code = sw::to_string(e.err.code);
      py::object make = py::module_::import("safeweights._errors").attr("_error_for");
      py::object exc = make(py::str(code.data(), code.size()), py::str(e.err.message), missing);
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    }
  });
}

}  // namespace safeweights_py
