// safeweights._core.write: tensors given as bytes-like objects (or, as the
// reference's TensorSpec allows, an address and a length) written by the
// core's writer, in the reference's byte layout, to bytes or atomically to a
// file. The GIL is released while bytes are copied and written.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "errors.hpp"
#include "safeweights/format/dtype.hpp"
#include "safeweights/io/writer.hpp"

namespace py = pybind11;
namespace sw = safeweights;

namespace safeweights_py {
namespace {

// Each entry is (name, dtype code, shape, data), data a C-contiguous buffer
// or a tuple (address, length) the caller keeps alive.
py::object write(const py::list& entries, const py::object& metadata, const std::optional<std::string>& path) {
  sw::writer w;
  std::vector<py::buffer_info> held;  // the buffers stay requested until the write is done
  held.reserve(entries.size());
  for (py::handle entry : entries) {
    auto item = entry.cast<py::tuple>();
    if (item.size() != 4) fail(sw::errc::invalid_argument, "each tensor is (name, dtype, shape, data)");
    auto name = item[0].cast<std::string>();
    auto code = item[1].cast<std::string>();
    auto type = sw::parse_dtype(code);
    if (!type) fail(sw::errc::unknown_dtype, "tensor " + sw::quote_name(name) + ": unknown dtype \"" + code + "\"");
    auto shape = item[2].cast<std::vector<std::uint64_t>>();
    std::span<const std::byte> bytes;
    if (py::isinstance<py::tuple>(item[3])) {
      auto where = item[3].cast<std::pair<std::uintptr_t, std::size_t>>();
      if (where.second && !where.first)
        fail(sw::errc::invalid_argument, "tensor " + sw::quote_name(name) + ": null data pointer");
      bytes = {reinterpret_cast<const std::byte*>(where.first), where.second};
    } else {
      py::buffer_info b = item[3].cast<py::buffer>().request();
      py::ssize_t expect = b.itemsize;
      bool c_order = true;
      for (py::ssize_t d = b.ndim; d-- > 0;) {
        if (b.shape[d] > 1 && b.strides[d] != expect) c_order = false;
        expect *= b.shape[d];
      }
      if (!c_order)
        fail(sw::errc::invalid_argument, "tensor " + sw::quote_name(name) + ": data is not C-contiguous");
      bytes = {static_cast<const std::byte*>(b.ptr), static_cast<std::size_t>(b.size * b.itemsize)};
      held.push_back(std::move(b));
    }
    unwrap(w.add(std::move(name), *type, std::move(shape), bytes));
  }
  if (!metadata.is_none()) {
    w.enable_metadata();
    for (auto kv : metadata.cast<py::dict>()) {
      if (!py::isinstance<py::str>(kv.first) || !py::isinstance<py::str>(kv.second))
        fail(sw::errc::invalid_metadata, "metadata keys and values must be str, got " +
                                             std::string(py::str(kv.first.get_type().attr("__name__"))) + ": " +
                                             std::string(py::str(kv.second.get_type().attr("__name__"))));
      w.set_metadata(kv.first.cast<std::string>(), kv.second.cast<std::string>());
    }
  }
  if (path) {
    {
      py::gil_scoped_release unlocked;
      unwrap(w.write_file(*path));
    }
    return py::none();
  }
  std::vector<std::byte> out;
  {
    py::gil_scoped_release unlocked;
    out = unwrap(w.serialize());
  }
  return py::bytes(reinterpret_cast<const char*>(out.data()), out.size());
}

}  // namespace

void register_writer(py::module_& m) {
  m.def("write", &write, py::arg("entries"), py::arg("metadata"), py::arg("path") = std::nullopt,
        "Writes tensors in the reference's layout: to a file atomically when `path` is given, else returns bytes.");
}

}  // namespace safeweights_py
