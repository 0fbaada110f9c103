// A fast path for headers in the exact form writers emit: compact JSON, keys
// in the order dtype, shape, data_offsets, strings without escapes, numbers
// without signs, fractions or leading zeros, only spaces after the object.
// It accepts that form or gives up; it never reports an error. Anything it
// gives up on (escapes, white space, unusual order, a duplicate, an unknown
// dtype, any mistake) goes to the simdjson On Demand parser, which is the
// authority on every verdict and every message. A differential test checks
// that the two agree on everything the fast path accepts.
//
// Why: simdjson's On Demand kernel is chosen at compile time, and a baseline
// x86-64 build gets its scalar fallback, which spends ~100 ns per tensor on
// these token-dense headers. The header's UTF-8 is still checked by simdjson
// (validate_utf8 dispatches to the best kernel at run time).
#pragma once

#include <simdjson.h>

#include <cstring>

#include "safeweights/detail/header_builder.hpp"
#include "safeweights/format/read_options.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

class canonical_scanner {
 public:
  canonical_scanner(header_builder& b, const read_options& options)
      : p_(b.json().data()), end_(b.json().data() + b.json().size()), b_(b), options_(options) {}

  bool run() {
    if (!simdjson::validate_utf8(p_, static_cast<std::size_t>(end_ - p_))) return false;
    if (!eat('{')) return false;
    if (peek() == '}') return close_object();
    if (starts_with("\"__metadata__\":{")) {
      p_ += 16;
      if (!metadata()) return false;
      if (peek() == '}') return close_object();
      if (!eat(',')) return false;
    }
    for (;;) {
      if (!tensor()) return false;
      if (peek() == '}') return close_object();
      if (!eat(',')) return false;
    }
  }

 private:
  char peek() const noexcept { return p_ < end_ ? *p_ : '\0'; }
  bool eat(char c) noexcept {
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  // Literals are compile-time constants: the comparisons inline to a few loads.
  template <std::size_t N>
  bool starts_with(const char (&lit)[N]) const noexcept {
    return static_cast<std::size_t>(end_ - p_) >= N - 1 && std::memcmp(p_, lit, N - 1) == 0;
  }
  template <std::size_t N>
  bool eat_literal(const char (&lit)[N]) noexcept {
    if (!starts_with(lit)) return false;
    p_ += N - 1;
    return true;
  }

  bool close_object() noexcept {
    ++p_;
    while (p_ < end_ && *p_ == ' ') ++p_;
    return p_ == end_;
  }

  // A string with no escape and no control character: its raw bytes are its value.
  bool string(std::string_view& out) noexcept {
    if (!eat('"')) return false;
    const char* p = p_;
    const char* const start = p;
    for (; p < end_; ++p) {
      auto c = static_cast<unsigned char>(*p);
      if (c == '"') {
        out = std::string_view(start, static_cast<std::size_t>(p - start));
        p_ = p + 1;
        return true;
      }
      if (c == '\\' || c < 0x20) return false;
    }
    return false;
  }

  // Up to 19 digits cannot overflow; a 20th is checked. Works on a local
  // cursor so the compiler keeps it in a register.
  bool number(std::uint64_t& out) noexcept {
    const char* p = p_;
    const char* const start = p;
    const char* const stop = end_ - p > 19 ? p + 19 : end_;
    std::uint64_t v = 0;
    for (unsigned d; p < stop && (d = static_cast<unsigned char>(*p) - unsigned{'0'}) < 10; ++p) v = v * 10 + d;
    if (unsigned d; p < end_ && (d = static_cast<unsigned char>(*p) - unsigned{'0'}) < 10) {
      if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, d, &v)) return false;
      ++p;
      if (p < end_ && static_cast<unsigned>(static_cast<unsigned char>(*p) - unsigned{'0'}) < 10) return false;
    }
    if (p == start || (p - start > 1 && *start == '0')) return false;
    p_ = p;
    out = v;
    return true;
  }

  bool metadata() {
    b_.set_has_metadata();
    if (eat('}')) return true;
    for (;;) {
      std::string_view key, value;
      if (!string(key) || !eat(':') || !string(value)) return false;
      if (!b_.add_metadata(key, value)) return false;
      if (eat('}')) return true;
      if (!eat(',')) return false;
    }
  }

  bool tensor() {
    std::string_view name, type_name;
    if (!string(name) || name == "__metadata__") return false;
    if (b_.tensor_count() >= options_.max_tensors) return false;
    if (!eat_literal(":{\"dtype\":") || !string(type_name)) return false;
    // Files hold long runs of one dtype: try the last one before the table.
    if (last_type_name_.empty() || type_name != last_type_name_) {
      auto type = parse_dtype(type_name);
      if (!type) return false;
      last_type_ = *type;
      last_type_name_ = type_name;
    }
    b_.begin_tensor(name);
    tensor_info& t = b_.current();
    t.type = last_type_;
    if (!eat_literal(",\"shape\":[")) return false;
    if (!eat(']')) {
      for (;;) {
        std::uint64_t d;
        if (!number(d) || b_.current_rank() >= options_.max_rank) return false;
        b_.add_dim(d);
        if (eat(']')) break;
        if (!eat(',')) return false;
      }
    }
    return eat_literal(",\"data_offsets\":[") && number(t.begin) && eat(',') && number(t.end) && eat_literal("]}");
  }

  const char* p_;
  const char* end_;
  header_builder& b_;
  const read_options& options_;
  std::string_view last_type_name_;
  dtype last_type_ = dtype::F32;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
