// NumPy arrays over the core's memory: a view whose base object keeps that
// memory alive, or a fresh NumPy-owned array to copy into. Every shape a
// file declares passes through here, so NumPy's own limits (32 dimensions,
// sizes in ssize_t) become the core's invalid_argument, naming the tensor.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "errors.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/format/tensor_info.hpp"

namespace safeweights_py {

// A capsule owning a copy of `owner` (a shared_ptr): the base object of views.
template <class Owner>
pybind11::capsule keep_alive(Owner owner) {
  auto* held = new Owner(std::move(owner));
  return pybind11::capsule(held, [](void* p) { delete static_cast<Owner*>(p); });
}

// NumPy's shape for a tensor: its header shape, or its bytes as a flat U8
// array when `raw`.
inline std::vector<pybind11::ssize_t> numpy_shape(const safeweights::tensor_info& info, bool raw) {
  constexpr std::size_t numpy_max_dims = 32;
  const auto max = static_cast<std::uint64_t>(PTRDIFF_MAX);
  if (raw) return {static_cast<pybind11::ssize_t>(info.byte_size())};
  if (info.shape.size() > numpy_max_dims)
    fail(safeweights::errc::invalid_argument, "tensor " + safeweights::quote_name(info.name) + " has " +
                                                  std::to_string(info.shape.size()) +
                                                  " dimensions; NumPy arrays hold at most 32");
  std::vector<pybind11::ssize_t> shape;
  shape.reserve(info.shape.size());
  for (std::uint64_t d : info.shape) {
    if (d > max)
      fail(safeweights::errc::invalid_argument, "tensor " + safeweights::quote_name(info.name) + ": dimension " +
                                                    std::to_string(d) + " is too large for a NumPy array");
    shape.push_back(static_cast<pybind11::ssize_t>(d));
  }
  return shape;
}

// Builds the array, turning NumPy's refusal (a shape whose size overflows,
// say) into the core's error for this tensor.
template <class Make>
pybind11::array make_array(const safeweights::tensor_info& info, Make make) {
  try {
    return make();
  } catch (pybind11::error_already_set& e) {
    std::string why = e.what();
    fail(safeweights::errc::invalid_argument,
         "tensor " + safeweights::quote_name(info.name) + ": NumPy cannot hold it: " + why);
  }
}

// A view of `data` with base `base`; read-only unless `writable`.
inline pybind11::array view_array(const safeweights::tensor_info& info, const pybind11::dtype& type, bool raw,
                                  const std::byte* data, pybind11::handle base, bool writable) {
  auto shape = numpy_shape(info, raw);
  return make_array(info, [&] {
    // NumPy takes a non-const pointer; a view of read-only memory is marked read-only below.
    pybind11::array a(type, shape, static_cast<const void*>(data), base);
    if (!writable) a.attr("setflags")(pybind11::arg("write") = false);
    return a;
  });
}

// A fresh array NumPy owns, to copy a tensor into.
inline pybind11::array owned_array(const safeweights::tensor_info& info, const pybind11::dtype& type, bool raw) {
  auto shape = numpy_shape(info, raw);
  return make_array(info, [&] { return pybind11::array(type, shape); });
}

inline std::span<std::byte> array_bytes(pybind11::array& a) {
  return {static_cast<std::byte*>(a.mutable_data()), static_cast<std::size_t>(a.nbytes())};
}

}  // namespace safeweights_py
