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

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cstring>

#include "safeweights/detail/masked_text.hpp"
#include "safeweights/detail/unaligned_load.hpp"
#include "safeweights/format/header/index_builder.hpp"
#include "safeweights/format/header/tuning.hpp"
#include "safeweights/format/read_options.hpp"
#include "safeweights/format/validate.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

class canonical_scanner {
 public:
  // The scanner reads at most this many bytes past the end of the text, and
  // what it finds there never decides anything (see the loads below): the
  // caller guarantees they are readable, whatever they hold.
  static constexpr std::size_t max_overread = 32;

  canonical_scanner(index_builder& b, const read_options& options)
      : p_(b.text().data()), end_(b.text().data() + b.text().size()), b_(b), options_(options) {
    walk_.start();
  }

  // True when the header is in the writers' form and `b` holds all of it;
  // false when the scanner gives up (never a verdict).
  bool run() {
    if (!scan()) return false;
    b_.index_names();
    return !b_.has_repeat();
  }
  // The validation walk done as tensors arrived, for validate().
  const running_walk& walk() const noexcept { return walk_; }

 private:
  bool scan() {
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

  // Every load (8 bytes of a number or a SWAR string step, 16 in string()
  // and in the remembered end and shape texts, 24 in the dtype's) starts
  // before end_, so it runs past it by less than 32
  // bytes (max_overread), which the caller guarantees are readable; what they hold
  // (padding, tensor data) never decides anything, because each scan checks
  // its result against end_.
  static constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  // A high bit set in the first byte of `w` below `n` (n <= 128); bytes after
  // that one may show false hits from the borrow, so callers use only the lowest.
  static std::uint64_t bytes_below(std::uint64_t w, unsigned char n) noexcept {
    return (w - ones * n) & ~w & highs;
  }

  // A string with no escape and no control character: its raw bytes are its
  // value. Scans 8 bytes at a time for '"', '\\' or a byte below 0x20.
  // With SSE2 (every x86-64) 16 bytes at a time, else 8 with SWAR.
  bool string(std::string_view& out) noexcept {
    if (!eat('"')) return false;
    const char* const start = p_;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1f);
    for (const char* p = start;; p += 16) {
      if (p >= end_) return false;
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                 _mm_cmpeq_epi8(_mm_max_epu8(v, control), control));  // v <= 0x1f
      auto hits = static_cast<unsigned>(_mm_movemask_epi8(hit));
      if (!hits) continue;
      const char* at = p + __builtin_ctz(hits);
#else
    for (const char* p = start;; p += 8) {
      if (p >= end_) return false;
      std::uint64_t w = load8(p);
      std::uint64_t hits = bytes_below(w ^ (ones * '"'), 1) | bytes_below(w ^ (ones * '\\'), 1) | bytes_below(w, 0x20);
      if (!hits) continue;
      const char* at = p + (__builtin_ctzll(hits) >> 3);
#endif
      if (at >= end_ || *at != '"') return false;  // an escape, a control byte, or the end
      out = std::string_view(start, static_cast<std::size_t>(at - start));
      p_ = at + 1;
      return true;
    }
  }

  // How many of the 8 bytes of `w` are digits before the first that is not;
  // `d` gets each byte minus '0' (valid up to that first non-digit).
  static unsigned leading_digits(std::uint64_t w, std::uint64_t& d) noexcept {
    d = w - ones * '0';
    // Not a digit: below '0' (the subtraction wraps, setting the high bit)
    // or at least '0' + 10 (low 7 bits + 118 reach the high bit).
    std::uint64_t not_digit = (d | ((d & ~highs) + ones * (128 - 10))) & highs;
    return not_digit ? static_cast<unsigned>(__builtin_ctzll(not_digit)) >> 3 : 8;
  }

  // The value of the first `count` (1..8) digits of `d`, most significant first.
  static std::uint64_t digits_value(std::uint64_t d, unsigned count) noexcept {
    std::uint64_t v = d << (8 * (8 - count));  // leading zero digits fill the low bytes
    v = (v * 10 + (v >> 8)) & 0x00ff00ff00ff00ffull;
    v = (v * 100 + (v >> 16)) & 0x0000ffff0000ffffull;
    return (v * 10000 + (v >> 32)) & 0x00000000ffffffffull;
  }

  // An unsigned integer in JSON syntax (no sign, no leading zero). Up to 15
  // digits are converted a word at a time.
  [[gnu::always_inline]] bool number(std::uint64_t& out) noexcept {
    static constexpr std::uint64_t pow10[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
    const char* const start = p_;
    std::uint64_t d;
    unsigned count = leading_digits(load8(start), d);
    if (count == 0 || (count > 1 && *start == '0')) return false;
    if (count < 8) {
      out = digits_value(d, count);
      p_ = start + count;
      return p_ < end_;
    }
    std::uint64_t d2;
    unsigned more = leading_digits(load8(start + 8), d2);
    if (more == 8) return long_number(out);
    out = digits_value(d, 8) * pow10[more] + (more ? digits_value(d2, more) : 0);
    p_ = start + 8 + more;
    return p_ < end_;
  }

  // 16 digits or more, digit by digit, with a check on the 20th; the first
  // is known to be a digit other than a leading zero.
  bool long_number(std::uint64_t& out) noexcept {
    const char* p = p_;
    const char* const stop = end_ - p > 19 ? p + 19 : end_;
    std::uint64_t v = 0;
    for (unsigned digit; p < stop && (digit = static_cast<unsigned char>(*p) - unsigned{'0'}) < 10; ++p)
      v = v * 10 + digit;
    if (unsigned digit; p < end_ && (digit = static_cast<unsigned char>(*p) - unsigned{'0'}) < 10) {
      if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, digit, &v)) return false;
      ++p;
      if (p < end_ && static_cast<unsigned>(static_cast<unsigned char>(*p) - unsigned{'0'}) < 10) return false;
    }
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

  // Flattened: everything one entry needs is inlined here. Left to itself
  // GCC kept std::vector::emplace_back out of line in some translation units
  // (bench-io's), and opening 10k tensors took 5-6% longer.
  [[gnu::flatten]] bool tensor() {
    std::string_view name;
    if (!string(name) || name == "__metadata__") return false;
    if (b_.tensor_count() >= options_.max_tensors) return false;
    if (!eat_literal(":{\"dtype\":")) return false;
    // Files hold long runs of one dtype: `"F32","shape":[` is compared at
    // once against the last dtype's text before any string is scanned.
    if (!last_dtype_.text.matches(p_, end_)) {
      std::string_view type_name;
      if (!string(type_name)) return false;
      auto type = parse_dtype(type_name);
      if (!type || !eat_literal(",\"shape\":[")) return false;
      last_dtype_.set(*type);
    } else {
      p_ += last_dtype_.text.size;
    }
    b_.begin_tensor(name);
    tensor_info& t = b_.current();
    t.type = last_dtype_.type;
    if (!eat(']') && !shape(t)) return false;  // `]` at once: a scalar
    if (!eat_literal(",\"data_offsets\":[")) return false;
    if (last_end_.text.matches(p_, end_)) {
      t.begin = last_end_.value;
      p_ += last_end_.text.size;
    } else if (!(number(t.begin) && eat(','))) {
      return false;
    }
    const char* const end_digits = p_;
    if (!number(t.end)) return false;
    last_end_.set(end_digits, static_cast<std::size_t>(p_ - end_digits), t.end);
    if (!eat_literal("]}")) return false;
    walk_.step(t);
    return true;
  }

  // The dims of a shape (not a scalar) and its closing `]`: a repeat of a
  // recent shape's text is taken whole, anything else parsed.
  [[gnu::always_inline]] bool shape(tensor_info& t) {
    if (const shape_memo::entry* seen = shapes_.find(p_, end_)) {
      b_.set_shape(seen->dims, seen->rank);
      p_ += seen->text.size;
      return true;
    }
    const char* const text = p_;
    for (;;) {
      std::uint64_t d;
      if (!number(d) || b_.current_rank() >= options_.max_rank) return false;
      b_.add_dim(d);
      if (eat(']')) break;
      if (!eat(',')) return false;
    }
    shapes_.remember(text, static_cast<std::size_t>(p_ - text), t.shape);
    return true;
  }

  // The text `"NAME","shape":[` of the last dtype.
  struct dtype_text {
    masked_text<3> text;  // at most 11 + 12 = 23 bytes
    dtype type = dtype::F32;

    void set(dtype t) noexcept {
      char buf[24] = {};
      std::string_view name = dtype_name(t);
      buf[0] = '"';
      std::memcpy(buf + 1, name.data(), name.size());
      std::memcpy(buf + 1 + name.size(), "\",\"shape\":[", 11);
      text.set(buf, name.size() + 12);
      type = t;
    }
  };

  // In offset order (every writer's) a tensor begins where the one before
  // it ended: the text `DIGITS,` of the last end offset, and its value.
  struct end_text {
    masked_text<2> text;
    std::uint64_t value = 0;

    end_text() noexcept {  // the first tensor begins at 0
      static constexpr char zero[masked_text<2>::capacity] = {'0'};
      set(zero, 1, 0);
    }
    // `count` digits at `digits` (16 readable bytes) whose value is `v`.
    void set(const char* digits, std::size_t count, std::uint64_t v) noexcept {
      if (count >= text.capacity) {
        text.size = text.none;
        return;
      }
      text.set(digits, count);
      text.push(',');
      value = v;
    }
  };

  // Checkpoints hold few distinct shapes, each many times over (every layer
  // repeats them). The text `768,2304]` of recent shapes, in a small table
  // indexed by the shape's first 8 bytes, with the dims parsed the first
  // time (they stay in the dim arena).
  struct shape_memo {
    struct entry {
      masked_text<2> text;
      const std::uint64_t* dims = nullptr;
      std::size_t rank = 0;
    };
    static constexpr std::size_t slots = header_tuning::remembered_shapes;
    static_assert(slots >= 2 && (slots & (slots - 1)) == 0, "a power of two");
    entry table[slots];

    static std::size_t slot_of(const char* text) noexcept {
      return static_cast<std::size_t>((load8(text) * 0x9E3779B97F4A7C15ull) >> (64 - std::countr_zero(slots)));
    }
    // `p` has 16 readable bytes.
    const entry* find(const char* p, const char* end) const noexcept {
      const entry& e = table[slot_of(p)];
      return e.text.matches(p, end) ? &e : nullptr;
    }
    // The shape text [text, text + n) (`]` included, 16 readable bytes) and its dims.
    void remember(const char* text, std::size_t n, std::span<const std::uint64_t> dims) noexcept {
      if (n > masked_text<2>::capacity) return;
      entry& e = table[slot_of(text)];
      e.text.set(text, n);
      e.dims = dims.data();
      e.rank = dims.size();
    }
  };

  const char* p_;
  const char* end_;
  index_builder& b_;
  const read_options& options_;
  running_walk walk_;
  dtype_text last_dtype_;
  end_text last_end_;
  shape_memo shapes_;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
