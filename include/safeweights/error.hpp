// One error enum for the whole library, an error value carrying context, and
// result<T>: the non-throwing core returns it, `.value()` is the throwing layer.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// Every variant is documented in spec/FORMAT.md with the rule that raises it.
enum class errc : std::uint8_t {
  ok = 0,
  io_error,                    // open/stat/read/map/write failed (errno text in the message)
  header_too_small,            // fewer than 8 bytes: no length prefix
  header_too_large,            // length prefix over read_options::max_header_bytes
  header_length_exceeds_file,  // 8 + length prefix is past the end of the file
  header_invalid_utf8,         // header bytes are not UTF-8
  header_invalid_json,         // syntax error, nesting too deep, bad escape, text after the object
  header_not_object,           // the JSON value is not an object
  invalid_tensor_entry,        // entry not an object, a field missing, repeated or of the wrong type
  unknown_dtype,               // dtype string is not one we know
  invalid_shape,               // shape is not an array of integers in [0, 2^64)
  invalid_data_offsets,        // data_offsets is not an array of exactly two such integers
  duplicate_key,               // a tensor name, __metadata__, or a metadata key appears twice
  invalid_metadata,            // __metadata__ is not an object (or null) of string values
  offsets_end_before_begin,    // data_offsets [b, e] with e < b
  offsets_not_contiguous,      // a gap or an overlap between tensors in offset order
  size_overflow,               // product of dimensions, or times bits, overflows 64 bits
  subbyte_misaligned,          // elements x bits is not a whole number of bytes
  size_mismatch,               // data_offsets span differs from elements x bits / 8
  data_truncated,              // the file ends before the last tensor does
  trailing_bytes,              // bytes after the last tensor (see allow_trailing_bytes)
  too_many_tensors,            // more entries than read_options::max_tensors
  rank_too_large,              // more dimensions than read_options::max_rank
  tensor_not_found,            // no tensor of that name
  dtype_mismatch,              // typed access with an element type that is not the tensor's
  misaligned_view,             // typed view on an address not aligned for the type: copy instead
  invalid_argument,            // caller's mistake: bad name, shape/bytes disagree, buffer too small
  stream_failed,               // a writer's chunk source failed or ended early
  write_failed,                // writing, syncing or renaming the output failed
  digest_mismatch,             // bytes do not hash to the SHA-256 recorded for them (seal, signature)
  not_sealed,                  // the file has no seal (__metadata__ key safeweights.seal)
  invalid_seal,                // the seal is malformed or disagrees with the header
  invalid_key,                 // a key or certificate file is unreadable, not PEM, or not a supported key of the right kind
  invalid_signature,           // a signature (Sigstore bundle), its statement or a trust root is malformed
  wrong_key,                   // the signature was made with another key than the one given
  signature_mismatch,          // the signature does not verify with the signer's key: the statement was altered
  state_dict_mismatch,         // load_state_dict: missing/unexpected keys, shape or dtype mismatches (the whole list)
  load_cancelled,              // load_state_dict: the progress callback asked to stop; the module is unchanged
  invalid_shard_index,         // model.safetensors.index.json: malformed, or disagrees with its shards
  invalid_bool,                // a BOOL tensor read as bool holds a byte other than 0 or 1
  file_changed,                // the file shrank or was cut short while being read (another process changed it)
  untrusted_signer,            // the signer's certificate, identity, issuer or transparency-log entry is not trusted
  out_of_memory,               // C API only: an allocation failed (the C++ API throws std::bad_alloc)
  unexpected_exception,        // C API only: any other C++ exception reached the C boundary (a bug)
  byte_order,                  // a zero-copy typed view of little-endian file bytes on a big-endian host: typed() swaps
  invalid_model,               // a model file (classic/) breaks its rules: a tree index out of range, a cycle, NaN, sizes
  unsupported_model,           // a model file names an estimator type (or option) outside the allow-list
  model_not_found,             // registry: no model, version or alias of that name
  registry_failed,             // registry: the database is missing, not ours, locked past the timeout, or failed
};

inline constexpr std::size_t errc_count = static_cast<std::size_t>(errc::registry_failed) + 1;

// Snake-case names, in enum order; a test checks the table against the enum.
inline constexpr std::array<std::string_view, errc_count> errc_names = {
    "ok",
    "io_error",
    "header_too_small",
    "header_too_large",
    "header_length_exceeds_file",
    "header_invalid_utf8",
    "header_invalid_json",
    "header_not_object",
    "invalid_tensor_entry",
    "unknown_dtype",
    "invalid_shape",
    "invalid_data_offsets",
    "duplicate_key",
    "invalid_metadata",
    "offsets_end_before_begin",
    "offsets_not_contiguous",
    "size_overflow",
    "subbyte_misaligned",
    "size_mismatch",
    "data_truncated",
    "trailing_bytes",
    "too_many_tensors",
    "rank_too_large",
    "tensor_not_found",
    "dtype_mismatch",
    "misaligned_view",
    "invalid_argument",
    "stream_failed",
    "write_failed",
    "digest_mismatch",
    "not_sealed",
    "invalid_seal",
    "invalid_key",
    "invalid_signature",
    "wrong_key",
    "signature_mismatch",
    "state_dict_mismatch",
    "load_cancelled",
    "invalid_shard_index",
    "invalid_bool",
    "file_changed",
    "untrusted_signer",
    "out_of_memory",
    "unexpected_exception",
    "byte_order",
    "invalid_model",
    "unsupported_model",
    "model_not_found",
    "registry_failed",
};

// The snake-case name of a code ("offsets_not_contiguous"); "unknown_error" for a value outside the enum.
constexpr std::string_view to_string(errc code) noexcept {
  auto index = static_cast<std::size_t>(code);
  return index < errc_count ? errc_names[index] : std::string_view("unknown_error");
}

// An error code plus a lowercase message naming the file, the tensor and the value.
struct error {
  errc code = errc::ok;
  std::string message;

  // Prefix the message with where it happened ("model.safetensors: ...").
  error& in(std::string_view where) {
    if (!where.empty()) message = std::string(where) + ": " + message;
    return *this;
  }
};

// An error with a code and its message.
inline error make_error(errc code, std::string message) { return error{code, std::move(message)}; }

// Thrown only by the convenience layer (`result::value()` and the `*_or_throw` helpers).
class exception : public std::runtime_error {
 public:
  explicit exception(error e) : std::runtime_error(e.message), code_(e.code) {}
  // The code of the error that was thrown.
  errc code() const noexcept { return code_; }

 private:
  errc code_;
};

namespace detail {
// True for types whose members hand out spans into memory the object may own
// alone (tensor_view, typed_tensor): `->` on a temporary result of one is
// deleted, since what it hands out would dangle at the end of the statement.
template <class T>
inline constexpr bool hands_out_views = false;
}  // namespace detail

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  result(error e) : state_(std::in_place_index<1>, std::move(e)) {}

  // Success or failure, the code (errc::ok on success), and the error (only on failure).
  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  errc code() const noexcept { return has_value() ? errc::ok : std::get<1>(state_).code; }
  const error& error_value() const& { return std::get<1>(state_); }
  error&& error_value() && { return std::get<1>(std::move(state_)); }

  // The throwing layer: the value, or a safeweights::exception.
  T& value() & { throw_if_error(); return std::get<0>(state_); }
  const T& value() const& { throw_if_error(); return std::get<0>(state_); }
  T&& value() && { throw_if_error(); return std::get<0>(std::move(state_)); }

  // Unchecked access to the value: only after has_value() is true.
  T& operator*() & { return std::get<0>(state_); }
  const T& operator*() const& { return std::get<0>(state_); }
  T&& operator*() && { return std::get<0>(std::move(state_)); }
  T* operator->() & { return &std::get<0>(state_); }
  const T* operator->() const& { return &std::get<0>(state_); }
  T* operator->() && requires(!detail::hands_out_views<T>) { return &std::get<0>(state_); }
  // `f()->x()` on a temporary result of a view type: keep the result, or use `.value()`.
  T* operator->() && requires detail::hands_out_views<T> = delete;

 private:
  void throw_if_error() const {
    if (!has_value()) throw exception(std::get<1>(state_));
  }
  std::variant<T, error> state_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(error e) : error_(std::move(e)) {}

  // As result<T>, with no value: value() only throws on failure.
  bool has_value() const noexcept { return error_.code == errc::ok; }
  explicit operator bool() const noexcept { return has_value(); }
  errc code() const noexcept { return error_.code; }
  const error& error_value() const& { return error_; }
  error&& error_value() && { return std::move(error_); }
  void value() const {
    if (!has_value()) throw exception(error_);
  }

 private:
  error error_;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
