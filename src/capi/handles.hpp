// What the opaque handles of safeweights.h are, and the one guard every
// exported function runs its body in: no exception crosses the C boundary,
// and a failure becomes a status code plus, when asked for, an error object.
#pragma once

#include <safeweights.h>

#include <deque>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "safeweights/safeweights.hpp"

struct safeweights_error {
  int code;
  std::string message;
};

struct safeweights_reader {
  safeweights::reader reader;
  bool in_memory;  // tensors' bytes lie in a mapping or the caller's buffer
};

struct safeweights_writer {
  safeweights::writer writer;
  std::deque<std::vector<std::byte>> copies;  // bytes the writer copied (a deque: they never move)
};

namespace safeweights::capi {

// Sets *err (when err is given and *err is still empty) and returns the code.
int fail(safeweights_error** err, errc code, std::string message) noexcept;
int fail(safeweights_error** err, const error& e) noexcept;

// A result's status: 0, or its error reported through `err`.
template <class R>
int status(R&& r, safeweights_error** err) noexcept {
  return r ? 0 : fail(err, r.error_value());
}

// Runs `body` (which returns an int status); any exception becomes
// out_of_memory (std::bad_alloc, std::length_error) or unexpected_exception.
template <class Body>
int guarded(safeweights_error** err, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(err, errc::out_of_memory, "out of memory");
  } catch (const std::length_error& e) {
    return fail(err, errc::out_of_memory, std::string("out of memory: ") + e.what());
  } catch (const std::exception& e) {
    return fail(err, errc::unexpected_exception, std::string("unexpected C++ exception: ") + e.what());
  } catch (...) {
    return fail(err, errc::unexpected_exception, "unexpected C++ exception");
  }
}

// A caller's string: `len` bytes, or up to the NUL with SAFEWEIGHTS_NUL_TERMINATED.
std::string_view caller_string(const char* s, std::size_t len) noexcept;

// The tensor a handle stands for, or nullptr when it is not one of this reader's.
const tensor_info* tensor_of(const safeweights_reader* r, const safeweights_tensor* t) noexcept;

// invalid_argument naming the function and the parameter that is NULL.
int null_argument(safeweights_error** err, const char* function, const char* parameter) noexcept;

// 0 when `needed` bytes (of `what`, e.g. "tensor `w`") fit in the caller's
// `dst_size`; else invalid_argument saying both sizes, in `file`.
int check_buffer(safeweights_error** err, const std::string& what, std::uint64_t needed, std::size_t dst_size,
                 const std::string& file) noexcept;

}  // namespace safeweights::capi
