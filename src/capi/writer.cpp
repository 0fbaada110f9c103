// Writing through the C API: tensors (copied, or borrowed), metadata, and an
// atomic write of the file.
#include "handles.hpp"

using namespace safeweights;
using capi::fail;
using capi::guarded;
using capi::null_argument;
using capi::status;

extern "C" {

SAFEWEIGHTS_API int safeweights_writer_new(safeweights_writer** out, safeweights_error** err) {
  if (!out) return null_argument(err, "safeweights_writer_new", "out");
  return guarded(err, [&] {
    *out = new safeweights_writer{};
    return 0;
  });
}

SAFEWEIGHTS_API void safeweights_writer_free(safeweights_writer* writer) { delete writer; }

SAFEWEIGHTS_API int safeweights_writer_add_tensor(safeweights_writer* writer, const char* name, size_t name_len,
                                                  int type, size_t ndim, const uint64_t* shape, const void* data,
                                                  size_t size, unsigned flags, safeweights_error** err) {
  constexpr const char* function = "safeweights_writer_add_tensor";
  if (!writer) return null_argument(err, function, "writer");
  if (!name) return null_argument(err, function, "name");
  if (!shape && ndim) return null_argument(err, function, "shape");
  if (!data && size) return null_argument(err, function, "data");
  return guarded(err, [&] {
    std::string n(capi::caller_string(name, name_len));
    if (flags & ~SAFEWEIGHTS_ADD_BORROW)
      return fail(err, errc::invalid_argument,
                  "tensor " + quote_name(n) + ": " + function + ": unknown flags " + std::to_string(flags));
    if (type < 0 || static_cast<std::size_t>(type) >= dtype_count)
      return fail(err, errc::unknown_dtype, "tensor " + quote_name(n) + ": unknown dtype " + std::to_string(type));
    std::vector<std::uint64_t> dims(shape, shape + ndim);
    std::span<const std::byte> bytes(static_cast<const std::byte*>(data), size);
    // Copied only once the size is known to be the shape's: a mismatch is
    // refused by add() below, from the caller's bytes, before any copy.
    auto elements = element_count(dims);
    std::uint64_t bits = 0;
    const bool size_matches = elements && checked_mul(*elements, bit_width(static_cast<dtype>(type)), bits) &&
                              bits % 8 == 0 && bits / 8 == size;
    const bool copy = !(flags & SAFEWEIGHTS_ADD_BORROW) && size != 0 && size_matches;
    if (copy) bytes = writer->copies.emplace_back(bytes.begin(), bytes.end());
    auto r = writer->writer.add(std::move(n), static_cast<dtype>(type), std::move(dims), bytes);
    if (!r && copy) writer->copies.pop_back();  // the one just made: the writer did not take it
    return status(r, err);
  });
}

SAFEWEIGHTS_API int safeweights_writer_add_metadata(safeweights_writer* writer, const char* key, size_t key_len,
                                                    const char* value, size_t value_len, safeweights_error** err) {
  constexpr const char* function = "safeweights_writer_add_metadata";
  if (!writer) return null_argument(err, function, "writer");
  if (!key) return null_argument(err, function, "key");
  if (!value) return null_argument(err, function, "value");
  return guarded(err, [&] {
    writer->writer.enable_metadata();
    writer->writer.set_metadata(std::string(capi::caller_string(key, key_len)),
                                std::string(capi::caller_string(value, value_len)));
    return 0;
  });
}

SAFEWEIGHTS_API int safeweights_writer_write_file(const safeweights_writer* writer, const char* path, unsigned flags,
                                                  safeweights_error** err) {
  constexpr const char* function = "safeweights_writer_write_file";
  if (!writer) return null_argument(err, function, "writer");
  if (!path) return null_argument(err, function, "path");
  return guarded(err, [&] {
    if (flags & ~SAFEWEIGHTS_WRITE_ALIGN_DATA)
      return fail(err, make_error(errc::invalid_argument, std::string(function) + ": unknown flags " +
                                                              std::to_string(flags))
                           .in(path));
    write_options o;
    o.align_data = (flags & SAFEWEIGHTS_WRITE_ALIGN_DATA) != 0;
    return status(writer->writer.write_file(path, o), err);
  });
}

}  // extern "C"
