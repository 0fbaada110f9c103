// safeweights._core integrity functions: SHA-256 of a file and of each
// tensor, sealing, and checking a sealed file, all through the core (OpenSSL).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "errors.hpp"
#include "safeweights/integrity.hpp"

namespace py = pybind11;
namespace sw = safeweights;

namespace safeweights_py {
namespace {

std::string file_sha256(const std::string& path) {
  py::gil_scoped_release unlocked;
  auto d = unwrap(sw::digest_file(path));
  return sw::to_hex(d.sha256);
}

py::dict tensor_sha256(const std::string& path) {
  sw::reader r = unwrap(sw::reader::open(path));
  std::vector<sw::sha256_digest> digests;
  {
    py::gil_scoped_release unlocked;
    digests = unwrap(sw::digest_tensors(r));
  }
  py::dict out;
  auto infos = r.tensors();
  for (std::size_t i = 0; i < infos.size(); ++i)
    out[py::str(infos[i].name.data(), infos[i].name.size())] = sw::to_hex(digests[i]);
  return out;
}

void seal(const std::string& in, const std::string& out) {
  py::gil_scoped_release unlocked;
  unwrap(sw::seal_file(in, out));
}

// (tensors checked, [failure messages]); not_sealed is raised for a file without a seal.
py::tuple verify_seal(const std::string& path) {
  sw::seal_report report;
  {
    py::gil_scoped_release unlocked;
    auto sealed = unwrap(sw::sealed_reader::open(path));
    report = unwrap(sealed.verify_all());
  }
  py::list failures;
  for (const sw::error& e : report.failures) failures.append(e.message);
  return py::make_tuple(report.tensors, failures);
}

}  // namespace

void register_integrity(py::module_& m) {
  m.def("file_sha256", &file_sha256, py::arg("path"));
  m.def("tensor_sha256", &tensor_sha256, py::arg("path"));
  m.def("seal", &seal, py::arg("source"), py::arg("destination"));
  m.def("verify_seal", &verify_seal, py::arg("path"));
}

}  // namespace safeweights_py
