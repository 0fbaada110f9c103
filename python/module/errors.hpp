// The core's errors in Python: every binding turns a failed result into a
// core_error, which the translator raises as the SafetensorError subclass
// of its code (safeweights/_errors.py builds one class per errc name).
#pragma once

#include <pybind11/pybind11.h>

#include <exception>
#include <utility>

#include "safeweights/error.hpp"

namespace safeweights_py {

struct core_error : std::exception {
  explicit core_error(safeweights::error e) : err(std::move(e)) {}
  const char* what() const noexcept override { return err.message.c_str(); }
  safeweights::error err;
};

template <class T>
T unwrap(safeweights::result<T>&& r) {
  if (!r) throw core_error(std::move(r).error_value());
  return std::move(*r);
}

inline void unwrap(safeweights::result<void>&& r) {
  if (!r) throw core_error(std::move(r).error_value());
}

[[noreturn]] inline void fail(safeweights::errc code, std::string message) {
  throw core_error(safeweights::make_error(code, std::move(message)));
}

void register_errors(pybind11::module_& m);

}  // namespace safeweights_py
