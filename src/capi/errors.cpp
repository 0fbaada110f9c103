// Error codes and error objects of the C API. The C codes are the values of
// safeweights::errc: checked here at compile time, value and name, for every errc.
#include <cstring>

#include "handles.hpp"

namespace safeweights::capi {
namespace {

struct c_code {
  int value;
  std::string_view name;
};
// Each C enumerator beside the name it must have (its spelling in lower case).
#define SAFEWEIGHTS_C_CODE(NAME) c_code{SAFEWEIGHTS_ERRC_##NAME, #NAME}
constexpr c_code c_codes[] = {
    SAFEWEIGHTS_C_CODE(OK), SAFEWEIGHTS_C_CODE(IO_ERROR), SAFEWEIGHTS_C_CODE(HEADER_TOO_SMALL),
    SAFEWEIGHTS_C_CODE(HEADER_TOO_LARGE), SAFEWEIGHTS_C_CODE(HEADER_LENGTH_EXCEEDS_FILE),
    SAFEWEIGHTS_C_CODE(HEADER_INVALID_UTF8), SAFEWEIGHTS_C_CODE(HEADER_INVALID_JSON),
    SAFEWEIGHTS_C_CODE(HEADER_NOT_OBJECT), SAFEWEIGHTS_C_CODE(INVALID_TENSOR_ENTRY),
    SAFEWEIGHTS_C_CODE(UNKNOWN_DTYPE), SAFEWEIGHTS_C_CODE(INVALID_SHAPE), SAFEWEIGHTS_C_CODE(INVALID_DATA_OFFSETS),
    SAFEWEIGHTS_C_CODE(DUPLICATE_KEY), SAFEWEIGHTS_C_CODE(INVALID_METADATA),
    SAFEWEIGHTS_C_CODE(OFFSETS_END_BEFORE_BEGIN), SAFEWEIGHTS_C_CODE(OFFSETS_NOT_CONTIGUOUS),
    SAFEWEIGHTS_C_CODE(SIZE_OVERFLOW), SAFEWEIGHTS_C_CODE(SUBBYTE_MISALIGNED), SAFEWEIGHTS_C_CODE(SIZE_MISMATCH),
    SAFEWEIGHTS_C_CODE(DATA_TRUNCATED), SAFEWEIGHTS_C_CODE(TRAILING_BYTES), SAFEWEIGHTS_C_CODE(TOO_MANY_TENSORS),
    SAFEWEIGHTS_C_CODE(RANK_TOO_LARGE), SAFEWEIGHTS_C_CODE(TENSOR_NOT_FOUND), SAFEWEIGHTS_C_CODE(DTYPE_MISMATCH),
    SAFEWEIGHTS_C_CODE(MISALIGNED_VIEW), SAFEWEIGHTS_C_CODE(INVALID_ARGUMENT), SAFEWEIGHTS_C_CODE(STREAM_FAILED),
    SAFEWEIGHTS_C_CODE(WRITE_FAILED), SAFEWEIGHTS_C_CODE(DIGEST_MISMATCH), SAFEWEIGHTS_C_CODE(NOT_SEALED),
    SAFEWEIGHTS_C_CODE(INVALID_SEAL), SAFEWEIGHTS_C_CODE(INVALID_KEY), SAFEWEIGHTS_C_CODE(INVALID_SIGNATURE),
    SAFEWEIGHTS_C_CODE(WRONG_KEY), SAFEWEIGHTS_C_CODE(SIGNATURE_MISMATCH), SAFEWEIGHTS_C_CODE(STATE_DICT_MISMATCH),
    SAFEWEIGHTS_C_CODE(LOAD_CANCELLED), SAFEWEIGHTS_C_CODE(INVALID_SHARD_INDEX), SAFEWEIGHTS_C_CODE(INVALID_BOOL),
    SAFEWEIGHTS_C_CODE(FILE_CHANGED), SAFEWEIGHTS_C_CODE(UNTRUSTED_SIGNER), SAFEWEIGHTS_C_CODE(OUT_OF_MEMORY),
    SAFEWEIGHTS_C_CODE(UNEXPECTED_EXCEPTION),
    SAFEWEIGHTS_C_CODE(BYTE_ORDER), SAFEWEIGHTS_C_CODE(INVALID_MODEL), SAFEWEIGHTS_C_CODE(UNSUPPORTED_MODEL),
    SAFEWEIGHTS_C_CODE(MODEL_NOT_FOUND), SAFEWEIGHTS_C_CODE(REGISTRY_FAILED),
};
#undef SAFEWEIGHTS_C_CODE

constexpr bool same_name_lowercase(std::string_view upper, std::string_view lower) {
  if (upper.size() != lower.size()) return false;
  for (std::size_t i = 0; i < upper.size(); ++i) {
    char c = upper[i] >= 'A' && upper[i] <= 'Z' ? static_cast<char>(upper[i] - 'A' + 'a') : upper[i];
    if (c != lower[i]) return false;
  }
  return true;
}

constexpr bool every_errc_has_its_c_code() {
  if (std::size(c_codes) != errc_count || SAFEWEIGHTS_ERRC_COUNT != errc_count) return false;
  for (std::size_t i = 0; i < errc_count; ++i)
    if (c_codes[i].value != static_cast<int>(i) || !same_name_lowercase(c_codes[i].name, errc_names[i]))
      return false;
  return true;
}
static_assert(every_errc_has_its_c_code(),
              "include/safeweights.h: every safeweights::errc needs SAFEWEIGHTS_ERRC_<NAME> with its value, in order");

static_assert(SAFEWEIGHTS_C_VERSION_MAJOR == SAFEWEIGHTS_VERSION_MAJOR &&
                  SAFEWEIGHTS_C_VERSION_MINOR == SAFEWEIGHTS_VERSION_MINOR &&
                  SAFEWEIGHTS_C_VERSION_PATCH == SAFEWEIGHTS_VERSION_PATCH,
              "include/safeweights.h: SAFEWEIGHTS_C_VERSION_* must be the library's version (version.hpp)");

// Handed out when the error object itself cannot be allocated; never freed.
safeweights_error* out_of_memory_error() noexcept {
  static safeweights_error e{static_cast<int>(errc::out_of_memory), ""};
  return &e;
}

}  // namespace

int fail(safeweights_error** err, errc code, std::string message) noexcept {
  const int c = static_cast<int>(code);
  if (!err || *err) return c;
  try {
    *err = new safeweights_error{c, std::move(message)};
  } catch (...) {
    *err = out_of_memory_error();
    return static_cast<int>(errc::out_of_memory);
  }
  return c;
}

int fail(safeweights_error** err, const error& e) noexcept {
  const int c = static_cast<int>(e.code);
  if (!err || *err) return c;
  try {
    return fail(err, e.code, e.message);
  } catch (...) {  // the copy of the message
    *err = out_of_memory_error();
    return static_cast<int>(errc::out_of_memory);
  }
}

std::string_view caller_string(const char* s, std::size_t len) noexcept {
  if (!s) return {};
  return len == SAFEWEIGHTS_NUL_TERMINATED ? std::string_view(s, std::strlen(s)) : std::string_view(s, len);
}

int null_argument(safeweights_error** err, const char* function, const char* parameter) noexcept {
  return guarded(err, [&] {
    return fail(err, errc::invalid_argument, std::string(function) + ": " + parameter + " is NULL");
  });
}

int check_buffer(safeweights_error** err, const std::string& what, std::uint64_t needed, std::size_t dst_size,
                 const std::string& file) noexcept {
  if (needed <= dst_size) return 0;
  return guarded(err, [&] {
    return fail(err, make_error(errc::invalid_argument, what + " is " + std::to_string(needed) +
                                                            " bytes, buffer is " + std::to_string(dst_size))
                         .in(file));
  });
}

}  // namespace safeweights::capi

using namespace safeweights;

extern "C" {

SAFEWEIGHTS_API const char* safeweights_version(void) { return SAFEWEIGHTS_VERSION_STRING; }

SAFEWEIGHTS_API const char* safeweights_errc_name(int code) {
  // errc_names are literals: NUL-terminated.
  if (code < 0 || static_cast<std::size_t>(code) >= errc_count) return "unknown_error";
  return errc_names[static_cast<std::size_t>(code)].data();
}

SAFEWEIGHTS_API const char* safeweights_dtype_name(int type) {
  if (type < 0 || static_cast<std::size_t>(type) >= dtype_count) return nullptr;
  return dtype_table[static_cast<std::size_t>(type)].name.data();
}

SAFEWEIGHTS_API unsigned safeweights_dtype_bits(int type) {
  if (type < 0 || static_cast<std::size_t>(type) >= dtype_count) return 0;
  return dtype_table[static_cast<std::size_t>(type)].bits;
}

SAFEWEIGHTS_API int safeweights_error_code(const safeweights_error* err) { return err ? err->code : 0; }

SAFEWEIGHTS_API const char* safeweights_error_message(const safeweights_error* err) {
  if (!err) return "";
  if (err->message.empty() && err->code == static_cast<int>(errc::out_of_memory)) return "out of memory";
  return err->message.c_str();
}

SAFEWEIGHTS_API void safeweights_error_free(safeweights_error* err) {
  if (err && err != capi::out_of_memory_error()) delete err;
}

}  // extern "C"
