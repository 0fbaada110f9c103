// safeweights._core.Reader: one open file, as the Python modules see it.
// Everything a file says is checked by the core's reader; this layer only
// turns its tensors into NumPy arrays (views or copies) and releases the GIL
// around every read and copy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "errors.hpp"
#include "safeweights/format/dtype.hpp"
#include "safeweights/io/aligned_buffer.hpp"
#include "safeweights/io/reader.hpp"

namespace py = pybind11;
namespace sw = safeweights;

namespace safeweights_py {
namespace {

// How arrays come from the file: views of a private copy-on-write mapping
// (writable; the default), views of a shared read-only mapping, or copies
// read with pread.
enum class access { copy_on_write, shared_read_only, pread };

access parse_access(const std::string& backend, bool readonly) {
  if (backend == "pread") return access::pread;
  if (backend != "mmap") fail(sw::errc::invalid_argument, "backend must be \"mmap\" or \"pread\", not \"" + backend + "\"");
  return readonly ? access::shared_read_only : access::copy_on_write;
}

sw::read_options options_for(access how) {
  sw::read_options o;
  o.mode = how == access::pread ? sw::io_mode::pread : sw::io_mode::mmap;
  o.copy_on_write = how == access::copy_on_write;
  return o;
}

// What arrays keep alive: the reader (its mapping) and, for bytes handed in
// from Python, the private copy it reads.
struct open_file {
  std::shared_ptr<sw::aligned_buffer> owned;
  sw::reader reader;
  access how;
};

class py_reader {
 public:
  static py_reader open(const std::string& path, const std::string& backend, bool readonly) {
    const access how = parse_access(backend, readonly);
    std::shared_ptr<open_file> f;
    {
      py::gil_scoped_release unlocked;
      f = std::make_shared<open_file>(open_file{nullptr, unwrap(sw::reader::open(path, options_for(how))), how});
    }
    return py_reader(std::move(f));
  }

  // A descriptor the caller opened (a Python file object's): duplicated, so
  // the caller's stays theirs to close.
  static py_reader open_fd(int fd, const std::string& label, const std::string& backend, bool readonly) {
    const access how = parse_access(backend, readonly);
    const int own = ::dup(fd);
    if (own < 0) fail(sw::errc::io_error, label + ": cannot duplicate descriptor " + std::to_string(fd) + ": " +
                                              std::strerror(errno));
    std::shared_ptr<open_file> f;
    {
      py::gil_scoped_release unlocked;
      auto file = sw::file_handle::adopt(own);
      if (!file) throw core_error(std::move(file).error_value().in(label));
      f = std::make_shared<open_file>(
          open_file{nullptr, unwrap(sw::reader::open(std::move(*file), label, options_for(how))), how});
    }
    return py_reader(std::move(f));
  }

  // The bytes of a whole file, copied once into memory this reader owns (the
  // caller's object may change or go away).
  static py_reader from_bytes(const py::buffer& data, const std::string& label) {
    py::buffer_info b = data.request();
    if (b.ndim != 1 || b.itemsize != 1)
      fail(sw::errc::invalid_argument, label + ": expected bytes, got a buffer of " + std::to_string(b.ndim) +
                                           " dimensions and items of " + std::to_string(b.itemsize) + " bytes");
    auto owned = std::make_shared<sw::aligned_buffer>(static_cast<std::size_t>(b.size));
    std::shared_ptr<open_file> f;
    {
      py::gil_scoped_release unlocked;
      if (b.size) std::memcpy(owned->data(), b.ptr, static_cast<std::size_t>(b.size));
      auto r = sw::reader::from_buffer(std::span<const std::byte>(owned->data(), owned->size()), {}, label);
      f = std::make_shared<open_file>(open_file{owned, unwrap(std::move(r)), access::copy_on_write});
    }
    return py_reader(std::move(f));
  }

  // Names in offset order (the file's order).
  py::list names() const {
    py::list out;
    for (const sw::tensor_info& t : file_->reader.tensors()) out.append(py::str(t.name.data(), t.name.size()));
    return out;
  }

  // (name, dtype, shape) of every tensor, in offset order.
  py::list table() const {
    py::list out;
    for (const sw::tensor_info& t : file_->reader.tensors()) out.append(describe(t));
    return out;
  }

  py::tuple info(const std::string& name) const { return describe(find(name)); }

  py::object metadata() const {
    if (!file_->reader.has_metadata()) return py::none();
    py::dict out;
    for (const sw::metadata_entry& m : file_->reader.metadata())
      out[py::str(m.key.data(), m.key.size())] = py::str(m.value.data(), m.value.size());
    return out;
  }

  std::string source() const { return file_->reader.source(); }
  std::string backend() const { return file_->how == access::pread ? "pread" : "mmap"; }
  bool writable_views() const { return file_->how == access::copy_on_write; }
  std::uint64_t bytes_fetched() const { return file_->reader.bytes_fetched(); }

  // One tensor as an array of `type` (whose item size must be the tensor's
  // element size), or its bytes as flat U8 when `raw`.
  py::array tensor(const std::string& name, const py::dtype& type, bool raw) { return array_of(find(name), type, raw); }

  // Every tensor, in offset order; types[i] and raw[i] as for tensor(). With
  // `materialise`, the whole data section is read once (in parallel) into
  // memory the arrays share, so no byte of the file is touched afterwards.
  py::list tensors(const std::vector<py::dtype>& types, const std::vector<bool>& raw, bool materialise) {
    auto infos = file_->reader.tensors();
    if (types.size() != infos.size() || raw.size() != infos.size())
      fail(sw::errc::invalid_argument, "expected " + std::to_string(infos.size()) + " dtypes");
    py::list out;
    if (!materialise && file_->how != access::pread) {
      for (std::size_t i = 0; i < infos.size(); ++i) out.append(array_of(infos[i], types[i], raw[i]));
      return out;
    }
    auto buffer = std::make_shared<sw::aligned_buffer>(static_cast<std::size_t>(file_->reader.data_size()));
    {
      py::gil_scoped_release unlocked;
      unwrap(file_->reader.read_data(std::span<std::byte>(buffer->data(), buffer->size())));
    }
    py::capsule base = keep_alive(buffer);
    for (std::size_t i = 0; i < infos.size(); ++i) {
      check_item_size(infos[i], types[i], raw[i]);
      if (infos[i].byte_size() == 0) {
        out.append(owned_array(infos[i], types[i], raw[i]));
        continue;
      }
      const std::byte* at = buffer->data() + infos[i].begin;
      if (aligned(at, types[i]))
        out.append(view_array(infos[i], types[i], raw[i], at, base, true));
      else
        out.append(copy_of(infos[i], types[i], raw[i], at));
    }
    return out;
  }

  // The elements [lo[d], lo[d] + step[d] * count[d]) by step[d] along every
  // dimension d (steps positive; the caller turns negative steps and integer
  // indices around), as a C-contiguous array. Only the rows selected are
  // fetched: along the innermost dimension that is not taken whole, the
  // span from the first selected element to the last.
  py::array slice(const std::string& name, const py::dtype& type, const std::vector<std::uint64_t>& lo,
                  const std::vector<std::uint64_t>& step, const std::vector<std::uint64_t>& count) {
    const sw::tensor_info& info = find(name);
    check_item_size(info, type, false);
    const std::size_t rank = info.shape.size();
    if (lo.size() != rank || step.size() != rank || count.size() != rank)
      fail(sw::errc::invalid_argument, "tensor " + sw::quote_name(info.name) + " has " + std::to_string(rank) +
                                           " dimensions; the slice gives " + std::to_string(lo.size()));
    for (std::size_t d = 0; d < rank; ++d) {
      const std::uint64_t extent = info.shape[d];
      const bool inside = step[d] > 0 && (count[d] == 0 ? lo[d] <= extent
                                                        : lo[d] < extent && count[d] - 1 <= (extent - 1 - lo[d]) / step[d]);
      if (!inside)
        fail(sw::errc::invalid_argument, "tensor " + sw::quote_name(info.name) + ": the slice of dimension " +
                                             std::to_string(d) + " is outside [0, " + std::to_string(info.shape[d]) + ")");
    }
    sw::tensor_info out_info = info;
    out_info.shape = count;
    py::array out = owned_array(out_info, type, false);
    if (out.nbytes() == 0) return out;
    const auto item = static_cast<std::uint64_t>(type.itemsize());
    // inner[d]: bytes between neighbours along dimension d.
    std::vector<std::uint64_t> inner(rank, item);
    for (std::size_t d = rank; d-- > 1;) inner[d - 1] = inner[d] * info.shape[d];
    std::size_t cut = rank;  // dimensions from `cut` on are taken whole
    while (cut > 0 && lo[cut - 1] == 0 && step[cut - 1] == 1 && count[cut - 1] == info.shape[cut - 1]) --cut;
    std::byte* dst = static_cast<std::byte*>(out.mutable_data());
    py::gil_scoped_release unlocked;
    if (cut == 0) {  // the whole tensor
      unwrap(file_->reader.read_ranges(std::vector<sw::byte_range>{{info.begin, info.byte_size(), dst}}));
      return out;
    }
    const std::size_t d = cut - 1;  // innermost dimension not taken whole
    const std::uint64_t out_run = count[d] * inner[d];
    const std::uint64_t span = ((count[d] - 1) * step[d] + 1) * inner[d];
    std::uint64_t runs = 1;
    for (std::size_t k = 0; k < d; ++k) runs *= count[k];
    // Runs in batches, so the list of ranges (and the scratch for stepped
    // runs) stays bounded whatever the slice.
    const std::uint64_t batch = std::max<std::uint64_t>(1, std::min<std::uint64_t>(
        65536, (step[d] == 1 ? ~std::uint64_t{0} : (std::uint64_t{64} << 20) / span)));
    std::vector<std::uint64_t> index(d, 0);
    std::vector<sw::byte_range> ranges;
    std::vector<std::byte> scratch;
    for (std::uint64_t first = 0; first < runs; first += batch) {
      const std::uint64_t n = std::min(batch, runs - first);
      ranges.clear();
      if (step[d] != 1) scratch.resize(static_cast<std::size_t>(n * span));
      for (std::uint64_t r = 0; r < n; ++r) {
        std::uint64_t src = info.begin + lo[d] * inner[d];
        for (std::size_t k = 0; k < d; ++k) src += (lo[k] + index[k] * step[k]) * inner[k];
        std::byte* to = step[d] == 1 ? dst + (first + r) * out_run : scratch.data() + r * span;
        ranges.push_back({src, step[d] == 1 ? out_run : span, to});
        for (std::size_t k = d; k-- > 0;) {  // the next run's index, row-major
          if (++index[k] < count[k]) break;
          index[k] = 0;
        }
      }
      unwrap(file_->reader.read_ranges(ranges));
      if (step[d] != 1)
        for (std::uint64_t r = 0; r < n; ++r)
          for (std::uint64_t e = 0; e < count[d]; ++e)
            std::memcpy(dst + (first + r) * out_run + e * inner[d], scratch.data() + r * span + e * step[d] * inner[d],
                        static_cast<std::size_t>(inner[d]));
    }
    return out;
  }

 private:
  explicit py_reader(std::shared_ptr<const open_file> f) : file_(std::move(f)) {}

  const sw::tensor_info& find(const std::string& name) const {
    const sw::tensor_info* t = file_->reader.find(name);
    if (!t)
      throw core_error(
          sw::make_error(sw::errc::tensor_not_found, "no tensor " + sw::quote_name(name)).in(file_->reader.source()));
    return *t;
  }

  static py::tuple describe(const sw::tensor_info& t) {
    py::tuple shape(t.shape.size());
    for (std::size_t i = 0; i < t.shape.size(); ++i) shape[i] = py::int_(t.shape[i]);
    const std::string_view type = sw::dtype_name(t.type);
    return py::make_tuple(py::str(t.name.data(), t.name.size()), py::str(type.data(), type.size()), shape);
  }

  void check_item_size(const sw::tensor_info& info, const py::dtype& type, bool raw) const {
    if (raw) return;
    if (static_cast<std::uint64_t>(type.itemsize()) * 8 != sw::bit_width(info.type))
      fail(sw::errc::dtype_mismatch, file_->reader.source() + ": tensor " + sw::quote_name(info.name) + " is " +
                                         std::string(sw::dtype_name(info.type)) + "; NumPy items of " +
                                         std::to_string(type.itemsize()) + " bytes cannot hold it");
  }

  static bool aligned(const std::byte* p, const py::dtype& type) {
    return reinterpret_cast<std::uintptr_t>(p) % static_cast<std::uintptr_t>(type.alignment()) == 0;
  }

  py::array copy_of(const sw::tensor_info& info, const py::dtype& type, bool raw, const std::byte* from) const {
    py::array a = owned_array(info, type, raw);
    auto bytes = array_bytes(a);
    py::gil_scoped_release unlocked;
    if (!bytes.empty()) std::memcpy(bytes.data(), from, bytes.size());
    return a;
  }

  py::array array_of(const sw::tensor_info& info, const py::dtype& type, bool raw) {
    check_item_size(info, type, raw);
    if (file_->how == access::pread) {
      py::array a = owned_array(info, type, raw);
      auto bytes = array_bytes(a);
      py::gil_scoped_release unlocked;
      unwrap(file_->reader.read_into(info, bytes));
      return a;
    }
    const std::byte* at = nullptr;
    bool writable = false;
    if (file_->owned) {  // bytes from Python: our own copy
      auto view = unwrap(file_->reader.tensor(info));
      at = view.bytes().data();
      writable = true;
    } else if (file_->how == access::copy_on_write) {
      at = unwrap(file_->reader.writable_bytes(info)).data();
      writable = true;
    } else {
      auto view = unwrap(file_->reader.tensor(info));
      at = view.bytes().data();
    }
    if (info.byte_size() == 0) return owned_array(info, type, raw);
    // An element not on its own alignment (a file with odd offsets) is copied:
    // torch and NumPy's fast loops expect aligned items.
    if (!aligned(at, type)) return copy_of(info, type, raw, at);
    if (!base_) base_ = keep_alive(std::shared_ptr<const open_file>(file_));
    return view_array(info, type, raw, at, base_, writable);
  }

  std::shared_ptr<const open_file> file_;
  py::object base_;  // the capsule every view shares, made on first use
};

}  // namespace

void register_reader(py::module_& m) {
  py::class_<py_reader>(m, "Reader", "An open safetensors file, checked by the core's validator.")
      .def_static("open", &py_reader::open, py::arg("path"), py::arg("backend") = "mmap", py::arg("readonly") = false)
      .def_static("open_fd", &py_reader::open_fd, py::arg("fd"), py::arg("label"), py::arg("backend") = "mmap",
                  py::arg("readonly") = false)
      .def_static("from_bytes", &py_reader::from_bytes, py::arg("data"), py::arg("label") = "<bytes>")
      .def("names", &py_reader::names)
      .def("table", &py_reader::table)
      .def("info", &py_reader::info, py::arg("name"))
      .def("metadata", &py_reader::metadata)
      .def_property_readonly("source", &py_reader::source)
      .def_property_readonly("backend", &py_reader::backend)
      .def_property_readonly("writable_views", &py_reader::writable_views)
      .def_property_readonly("bytes_fetched", &py_reader::bytes_fetched)
      .def("tensor", &py_reader::tensor, py::arg("name"), py::arg("dtype"), py::arg("raw") = false)
      .def("tensors", &py_reader::tensors, py::arg("dtypes"), py::arg("raw"), py::arg("materialise") = false)
      .def("slice", &py_reader::slice, py::arg("name"), py::arg("dtype"), py::arg("lo"), py::arg("step"),
           py::arg("count"));
}

}  // namespace safeweights_py
