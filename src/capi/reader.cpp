// Reading through the C API: open (file, buffer, pread), tensors by index and
// by name, their info, data and copies, slices, and __metadata__.
#include <cstring>
#include <limits>

#include "handles.hpp"

using namespace safeweights;
using capi::check_buffer;
using capi::fail;
using capi::guarded;
using capi::null_argument;
using capi::status;

static_assert(SAFEWEIGHTS_DTYPE_COUNT == dtype_count);
static_assert(SAFEWEIGHTS_DTYPE_BOOL == static_cast<int>(dtype::BOOL) &&
              SAFEWEIGHTS_DTYPE_F4 == static_cast<int>(dtype::F4) &&
              SAFEWEIGHTS_DTYPE_F6_E2M3 == static_cast<int>(dtype::F6_E2M3) &&
              SAFEWEIGHTS_DTYPE_F6_E3M2 == static_cast<int>(dtype::F6_E3M2) &&
              SAFEWEIGHTS_DTYPE_U8 == static_cast<int>(dtype::U8) && SAFEWEIGHTS_DTYPE_I8 == static_cast<int>(dtype::I8) &&
              SAFEWEIGHTS_DTYPE_F8_E5M2 == static_cast<int>(dtype::F8_E5M2) &&
              SAFEWEIGHTS_DTYPE_F8_E4M3 == static_cast<int>(dtype::F8_E4M3) &&
              SAFEWEIGHTS_DTYPE_F8_E8M0 == static_cast<int>(dtype::F8_E8M0) &&
              SAFEWEIGHTS_DTYPE_F8_E4M3FNUZ == static_cast<int>(dtype::F8_E4M3FNUZ) &&
              SAFEWEIGHTS_DTYPE_F8_E5M2FNUZ == static_cast<int>(dtype::F8_E5M2FNUZ) &&
              SAFEWEIGHTS_DTYPE_I16 == static_cast<int>(dtype::I16) &&
              SAFEWEIGHTS_DTYPE_U16 == static_cast<int>(dtype::U16) &&
              SAFEWEIGHTS_DTYPE_F16 == static_cast<int>(dtype::F16) &&
              SAFEWEIGHTS_DTYPE_BF16 == static_cast<int>(dtype::BF16) &&
              SAFEWEIGHTS_DTYPE_I32 == static_cast<int>(dtype::I32) &&
              SAFEWEIGHTS_DTYPE_U32 == static_cast<int>(dtype::U32) &&
              SAFEWEIGHTS_DTYPE_F32 == static_cast<int>(dtype::F32) &&
              SAFEWEIGHTS_DTYPE_C64 == static_cast<int>(dtype::C64) &&
              SAFEWEIGHTS_DTYPE_F64 == static_cast<int>(dtype::F64) &&
              SAFEWEIGHTS_DTYPE_I64 == static_cast<int>(dtype::I64) &&
              SAFEWEIGHTS_DTYPE_U64 == static_cast<int>(dtype::U64),
              "include/safeweights.h: SAFEWEIGHTS_DTYPE_* must have the values of safeweights::dtype");

const tensor_info* capi::tensor_of(const safeweights_reader* r, const safeweights_tensor* t) noexcept {
  auto* info = reinterpret_cast<const tensor_info*>(t);
  std::span<const tensor_info> all = r->reader.tensors();
  // Compared as addresses (std::less gives a total order over pointers).
  if (all.empty() || std::less<const tensor_info*>()(info, all.data()) ||
      !std::less<const tensor_info*>()(info, all.data() + all.size()))
    return nullptr;
  return info;
}

namespace {

constexpr unsigned known_open_flags =
    SAFEWEIGHTS_OPEN_PREAD | SAFEWEIGHTS_OPEN_ALLOW_TRAILING_BYTES | SAFEWEIGHTS_OPEN_RANDOM_ACCESS;

int bad_flags(safeweights_error** err, const char* function, unsigned flags) {
  return fail(err, errc::invalid_argument, std::string(function) + ": unknown flags " + std::to_string(flags));
}

read_options options_of(unsigned flags) {
  read_options o;
  o.mode = (flags & SAFEWEIGHTS_OPEN_PREAD) ? io_mode::pread : io_mode::mmap;
  o.allow_trailing_bytes = (flags & SAFEWEIGHTS_OPEN_ALLOW_TRAILING_BYTES) != 0;
  o.random_access = (flags & SAFEWEIGHTS_OPEN_RANDOM_ACCESS) != 0;
  return o;
}

int hand_out(result<reader>&& r, bool in_memory, safeweights_reader** out, safeweights_error** err) {
  if (!r) return fail(err, r.error_value());
  *out = new safeweights_reader{std::move(*r), in_memory};
  return 0;
}

const tensor_info* info_of(const safeweights_reader* r, const safeweights_tensor* t) noexcept {
  return capi::tensor_of(r, t);
}

const safeweights_tensor* handle_of(const tensor_info* info) noexcept {
  return reinterpret_cast<const safeweights_tensor*>(info);
}

int not_this_readers(safeweights_error** err, const char* function) {
  return fail(err, errc::invalid_argument, std::string(function) + ": the tensor is not one of this reader's");
}

// A reader's and a tensor's arguments checked, or the status of the failure.
#define SAFEWEIGHTS_CHECK_TENSOR(FUNCTION)                                   \
  if (!reader) return null_argument(err, FUNCTION, "reader");             \
  if (!tensor) return null_argument(err, FUNCTION, "tensor");             \
  const tensor_info* info = info_of(reader, tensor);                      \
  if (!info) return guarded(err, [&] { return not_this_readers(err, FUNCTION); })

}  // namespace

extern "C" {

SAFEWEIGHTS_API int safeweights_open_file(const char* path, unsigned flags, safeweights_reader** out,
                                          safeweights_error** err) {
  if (!path) return null_argument(err, "safeweights_open_file", "path");
  if (!out) return null_argument(err, "safeweights_open_file", "out");
  return guarded(err, [&] {
    if (flags & ~known_open_flags) return bad_flags(err, "safeweights_open_file", flags);
    const read_options o = options_of(flags);
    return hand_out(reader::open(path, o), o.mode == io_mode::mmap, out, err);
  });
}

SAFEWEIGHTS_API int safeweights_open_buffer(const void* data, size_t size, const char* label, unsigned flags,
                                            safeweights_reader** out, safeweights_error** err) {
  if (!data && size) return null_argument(err, "safeweights_open_buffer", "data");
  if (!out) return null_argument(err, "safeweights_open_buffer", "out");
  return guarded(err, [&] {
    if (flags & ~(known_open_flags & ~SAFEWEIGHTS_OPEN_PREAD)) return bad_flags(err, "safeweights_open_buffer", flags);
    std::span<const std::byte> bytes(static_cast<const std::byte*>(data), size);
    return hand_out(reader::from_buffer(bytes, options_of(flags), label ? label : "<buffer>"), true, out, err);
  });
}

SAFEWEIGHTS_API void safeweights_reader_free(safeweights_reader* reader) { delete reader; }

SAFEWEIGHTS_API size_t safeweights_tensor_count(const safeweights_reader* reader) {
  return reader ? reader->reader.tensors().size() : 0;
}

SAFEWEIGHTS_API int safeweights_tensor_at(const safeweights_reader* reader, size_t index,
                                          const safeweights_tensor** out, safeweights_error** err) {
  if (!reader) return null_argument(err, "safeweights_tensor_at", "reader");
  if (!out) return null_argument(err, "safeweights_tensor_at", "out");
  return guarded(err, [&] {
    std::span<const tensor_info> all = reader->reader.tensors();
    if (index >= all.size())
      return fail(err, make_error(errc::invalid_argument, "tensor index " + std::to_string(index) + " is past the " +
                                                              std::to_string(all.size()) + " tensors")
                           .in(reader->reader.source()));
    *out = handle_of(&all[index]);
    return 0;
  });
}

SAFEWEIGHTS_API int safeweights_tensor_by_name(const safeweights_reader* reader, const char* name, size_t name_len,
                                               const safeweights_tensor** out, safeweights_error** err) {
  if (!reader) return null_argument(err, "safeweights_tensor_by_name", "reader");
  if (!name) return null_argument(err, "safeweights_tensor_by_name", "name");
  if (!out) return null_argument(err, "safeweights_tensor_by_name", "out");
  return guarded(err, [&] {
    std::string_view n = capi::caller_string(name, name_len);
    const tensor_info* info = reader->reader.find(n);
    if (!info)  // the core's own message: tensor() of a missing name
      return status(reader->reader.tensor(n), err);
    *out = handle_of(info);
    return 0;
  });
}

SAFEWEIGHTS_API int safeweights_tensor_get_info(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                            safeweights_tensor_info* out, safeweights_error** err) {
  SAFEWEIGHTS_CHECK_TENSOR("safeweights_tensor_get_info");
  if (!out) return null_argument(err, "safeweights_tensor_get_info", "out");
  return guarded(err, [&] {
    safeweights_tensor_info i{};
    i.name = info->name.data();
    i.name_len = info->name.size();
    i.dtype = static_cast<int>(info->type);
    i.ndim = info->shape.size();
    i.shape = info->shape.empty() ? nullptr : info->shape.data();
    i.elements = info->elements;
    i.byte_size = info->byte_size();
    i.data_offset = info->begin;
    i.index = static_cast<size_t>(info - reader->reader.tensors().data());
    i.data = nullptr;
    if (reader->in_memory && info->byte_size() != 0) {
      auto view = reader->reader.tensor(*info);
      if (!view) return fail(err, view.error_value());
      i.data = view->bytes().data();
    }
    *out = i;
    return 0;
  });
}

SAFEWEIGHTS_API int safeweights_tensor_data(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                            const void** data, safeweights_error** err) {
  SAFEWEIGHTS_CHECK_TENSOR("safeweights_tensor_data");
  if (!data) return null_argument(err, "safeweights_tensor_data", "data");
  return guarded(err, [&] {
    if (!reader->in_memory)
      return fail(err, make_error(errc::invalid_argument,
                                  "tensor " + quote_name(info->name) +
                                      ": no data pointer in a reader opened with SAFEWEIGHTS_OPEN_PREAD "
                                      "(copy it with safeweights_tensor_copy)")
                           .in(reader->reader.source()));
    if (info->byte_size() == 0) {
      *data = nullptr;
      return 0;
    }
    auto view = reader->reader.tensor(*info);
    if (!view) return fail(err, view.error_value());
    *data = view->bytes().data();
    return 0;
  });
}

SAFEWEIGHTS_API int safeweights_tensor_copy(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                            void* dst, size_t dst_size, safeweights_error** err) {
  SAFEWEIGHTS_CHECK_TENSOR("safeweights_tensor_copy");
  if (!dst && dst_size) return null_argument(err, "safeweights_tensor_copy", "dst");
  return guarded(err, [&] {
    const std::uint64_t size = info->byte_size();
    if (int s = check_buffer(err, "tensor " + quote_name(info->name), size, dst_size, reader->reader.source())) return s;
    // size <= dst_size: fits in size_t.
    return status(reader->reader.read_into(
                      *info, std::span<std::byte>(static_cast<std::byte*>(dst), static_cast<std::size_t>(size))),
                  err);
  });
}

SAFEWEIGHTS_API int safeweights_slice_size(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                           size_t dim, uint64_t begin, uint64_t end, uint64_t* bytes,
                                           safeweights_error** err) {
  SAFEWEIGHTS_CHECK_TENSOR("safeweights_slice_size");
  if (!bytes) return null_argument(err, "safeweights_slice_size", "bytes");
  return guarded(err, [&] {
    auto layout = plan_slice(*info, slice_spec{dim, begin, end});
    if (!layout) return fail(err, std::move(layout).error_value().in(reader->reader.source()));
    *bytes = layout->bytes();
    return 0;
  });
}

SAFEWEIGHTS_API int safeweights_slice_copy(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                           size_t dim, uint64_t begin, uint64_t end, void* dst, size_t dst_size,
                                           safeweights_error** err) {
  SAFEWEIGHTS_CHECK_TENSOR("safeweights_slice_copy");
  if (!dst && dst_size) return null_argument(err, "safeweights_slice_copy", "dst");
  return guarded(err, [&] {
    const slice_spec spec{dim, begin, end};
    auto layout = plan_slice(*info, spec);
    if (!layout) return fail(err, std::move(layout).error_value().in(reader->reader.source()));
    const std::uint64_t size = layout->bytes();
    if (int s = check_buffer(err, "slice of tensor " + quote_name(info->name), size, dst_size,
                             reader->reader.source()))
      return s;
    return status(reader->reader.read_slice(
                      *info, spec, std::span<std::byte>(static_cast<std::byte*>(dst), static_cast<std::size_t>(size))),
                  err);
  });
}

SAFEWEIGHTS_API int safeweights_has_metadata(const safeweights_reader* reader) {
  return reader && reader->reader.has_metadata() ? 1 : 0;
}

SAFEWEIGHTS_API size_t safeweights_metadata_count(const safeweights_reader* reader) {
  return reader ? reader->reader.metadata().size() : 0;
}

SAFEWEIGHTS_API int safeweights_metadata_at(const safeweights_reader* reader, size_t index, const char** key,
                                            size_t* key_len, const char** value, size_t* value_len,
                                            safeweights_error** err) {
  if (!reader) return null_argument(err, "safeweights_metadata_at", "reader");
  return guarded(err, [&] {
    std::span<const metadata_entry> all = reader->reader.metadata();
    if (index >= all.size())
      return fail(err, make_error(errc::invalid_argument, "metadata index " + std::to_string(index) +
                                                              " is past the " + std::to_string(all.size()) + " keys")
                           .in(reader->reader.source()));
    const metadata_entry& m = all[index];
    if (key) *key = m.key.data();
    if (key_len) *key_len = m.key.size();
    if (value) *value = m.value.data();
    if (value_len) *value_len = m.value.size();
    return 0;
  });
}

SAFEWEIGHTS_API int safeweights_metadata_get(const safeweights_reader* reader, const char* key, size_t key_len,
                                             const char** value, size_t* value_len, safeweights_error** err) {
  if (!reader) return null_argument(err, "safeweights_metadata_get", "reader");
  if (!key) return null_argument(err, "safeweights_metadata_get", "key");
  if (!value) return null_argument(err, "safeweights_metadata_get", "value");
  return guarded(err, [&] {
    auto v = reader->reader.metadata_value(capi::caller_string(key, key_len));
    *value = v ? (v->data() ? v->data() : "") : nullptr;
    if (value_len) *value_len = v ? v->size() : 0;
    return 0;
  });
}

}  // extern "C"
