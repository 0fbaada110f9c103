// .npy preambles: a bounded parser for the header dict (one pass, no
// recursion, no allocation beyond the shape), and a writer of the preamble
// numpy.save writes.
//
// Why not xtensor's xnpy: xt::load_npy trusts the file. It allocates
// whatever the shape says without an overflow check, reads the data without
// noticing a short file, indexes an empty header (undefined behaviour), and
// runs std::regex, which recurses per character, on the descr.
#include "npy.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>

#include "safeweights/util/checked.hpp"
#include "safeweights/util/json_text.hpp"
#include "streams.hpp"

namespace safeweights_cli {
namespace {

constexpr std::string_view magic = "\x93NUMPY";
constexpr std::uint64_t max_header_bytes = std::uint64_t{1} << 20;  // NumPy itself stops at 10,000
constexpr std::size_t max_rank = 64;

sw::error bad(std::string message) { return sw::make_error(sw::errc::invalid_argument, std::move(message)); }

std::uint64_t le(std::span<const std::byte> b, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = (v << 8) | std::to_integer<std::uint64_t>(b[at + i]);
  return v;
}

// The Python literal of the header, read one token at a time.
class cursor {
 public:
  explicit cursor(std::string_view s) : s_(s) {}
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    skip_space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    skip_space();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool at_end() {
    skip_space();
    return i_ == s_.size();
  }
  // A quoted string without escapes ('<f4' or "<f4").
  std::optional<std::string_view> string() {
    skip_space();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) return std::nullopt;
    char quote = s_[i_];
    std::size_t end = s_.find(quote, i_ + 1);
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view v = s_.substr(i_ + 1, end - i_ - 1);
    if (v.find('\\') != std::string_view::npos) return std::nullopt;
    i_ = end + 1;
    return v;
  }
  std::string_view word() {
    skip_space();
    std::size_t start = i_;
    while (i_ < s_.size() && ((s_[i_] >= 'A' && s_[i_] <= 'Z') || (s_[i_] >= 'a' && s_[i_] <= 'z'))) ++i_;
    return s_.substr(start, i_ - start);
  }
  // A non-negative integer (a Python 2 'L' suffix allowed); nullopt if none or past 2^64.
  std::optional<std::uint64_t> integer() {
    skip_space();
    std::size_t start = i_;
    std::uint64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (!sw::checked_mul(v, 10, v) || !sw::checked_add(v, static_cast<unsigned>(s_[i_] - '0'), v))
        return std::nullopt;
      ++i_;
    }
    if (i_ == start) return std::nullopt;
    if (i_ < s_.size() && (s_[i_] == 'L' || s_[i_] == 'l')) ++i_;
    return v;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

sw::result<std::vector<std::uint64_t>> parse_shape(cursor& c) {
  std::vector<std::uint64_t> shape;
  if (!c.eat('(')) return bad("'shape' is not a tuple");
  if (c.eat(')')) return shape;
  for (;;) {
    auto d = c.integer();
    if (!d) return bad("'shape' holds something that is not a non-negative integer below 2^64");
    if (shape.size() == max_rank) return bad("'shape' has more than 64 dimensions");
    shape.push_back(*d);
    if (c.eat(',')) {
      if (c.eat(')')) return shape;
      continue;
    }
    if (c.eat(')')) {
      if (shape.size() == 1) return bad("'shape' is (n), a number, not the tuple (n,)");
      return shape;
    }
    return bad("'shape' is not a tuple of integers");
  }
}

// A descr such as '<f4' as our dtype, or why there is none.
sw::result<npy_array> parse_descr(std::string_view descr) {
  npy_array a;
  auto refuse = [&](std::string_view why) { return bad("dtype '" + printable(descr) + "': " + std::string(why)); };
  char order = '=';
  std::string_view rest = descr;
  if (!rest.empty() && (rest[0] == '<' || rest[0] == '>' || rest[0] == '|' || rest[0] == '=')) {
    order = rest[0];
    rest.remove_prefix(1);
  }
  if (rest.empty()) return refuse("not a NumPy type string");
  const char kind = rest[0];
  const std::string_view size_text = rest.substr(1);
  if (kind == 'O')
    return refuse("an object array: its elements are pickled Python objects, and reading them needs pickle, "
                  "which can run code; refused");
  if (kind == 'U' || kind == 'S' || kind == 'a') return refuse("a string array; safetensors has no string dtype");
  if (kind == 'V') return refuse("a void or structured array; safetensors has no record dtype");
  if (kind == 'M' || kind == 'm') return refuse("a datetime array; safetensors has no datetime dtype (view it as int64 first)");
  unsigned size = 0;
  if (size_text.empty()) return refuse("not a NumPy type string");
  for (char ch : size_text) {
    if (ch < '0' || ch > '9' || size > 1000) return refuse("not a NumPy type string");
    size = size * 10 + static_cast<unsigned>(ch - '0');
  }
  struct entry {
    char kind;
    unsigned size;
    sw::dtype type;
  };
  static constexpr entry table[] = {
      {'b', 1, sw::dtype::BOOL}, {'u', 1, sw::dtype::U8},  {'i', 1, sw::dtype::I8},  {'u', 2, sw::dtype::U16},
      {'i', 2, sw::dtype::I16},  {'u', 4, sw::dtype::U32}, {'i', 4, sw::dtype::I32}, {'u', 8, sw::dtype::U64},
      {'i', 8, sw::dtype::I64},  {'f', 2, sw::dtype::F16}, {'f', 4, sw::dtype::F32}, {'f', 8, sw::dtype::F64},
      {'c', 8, sw::dtype::C64},
  };
  const entry* e = std::find_if(std::begin(table), std::end(table), [&](const entry& x) { return x.kind == kind && x.size == size; });
  if (e == std::end(table)) {
    if (kind == 'c' && size == 16) return refuse("complex128 has no safetensors dtype (C64 is two float32)");
    if (kind == 'f' && size > 8) return refuse("long double has no safetensors dtype");
    return refuse("no safetensors dtype matches");
  }
  a.type = e->type;
  if (order == '>' && size > 1) a.swap_width = e->type == sw::dtype::C64 ? 4 : size;
  return a;
}

}  // namespace

bool has_npy_magic(std::span<const std::byte> first) {
  return first.size() >= magic.size() && std::memcmp(first.data(), magic.data(), magic.size()) == 0;
}

sw::result<std::uint64_t> npy_preamble_size(std::span<const std::byte> first) {
  if (!has_npy_magic(first)) return bad("not a .npy array: it does not start with \"\\x93NUMPY\"");
  if (first.size() < 10) return bad("truncated: the file ends inside the .npy preamble");
  unsigned major = std::to_integer<unsigned>(first[6]), minor = std::to_integer<unsigned>(first[7]);
  if (minor != 0 || major < 1 || major > 3)
    return bad(".npy format version " + std::to_string(major) + "." + std::to_string(minor) + " is unknown");
  std::size_t field = major == 1 ? 2 : 4;
  if (first.size() < 8 + field) return bad("truncated: the file ends inside the .npy preamble");
  std::uint64_t header = le(first, 8, field);
  if (header > max_header_bytes)
    return bad(".npy header of " + std::to_string(header) + " bytes is over the limit of 1 MiB");
  return 8 + field + header;
}

sw::result<npy_array> parse_npy_preamble(std::span<const std::byte> preamble) {
  auto size = npy_preamble_size(preamble.first(std::min(preamble.size(), npy_prefix_bytes)));
  if (!size) return std::move(size).error_value();
  if (preamble.size() < *size) return bad("truncated: the file ends inside the .npy header");
  std::size_t start = std::to_integer<unsigned>(preamble[6]) == 1 ? 10 : 12;
  std::string_view text(reinterpret_cast<const char*>(preamble.data()) + start, *size - start);

  cursor c(text);
  if (!c.eat('{')) return bad(".npy header is not a Python dict");
  std::optional<std::string_view> descr;
  std::optional<bool> fortran;
  std::optional<std::vector<std::uint64_t>> shape;
  if (!c.eat('}')) {
    for (;;) {
      auto key = c.string();
      if (!key || !c.eat(':')) return bad(".npy header is not a dict of quoted keys");
      if (*key == "descr") {
        if (descr) return bad(".npy header repeats 'descr'");
        if (c.peek('['))
          return bad("a structured array (its dtype is a list of fields); safetensors has no record dtype");
        descr = c.string();
        if (!descr) return bad(".npy header: 'descr' is not a type string");
      } else if (*key == "fortran_order") {
        if (fortran) return bad(".npy header repeats 'fortran_order'");
        std::string_view w = c.word();
        if (w != "True" && w != "False") return bad(".npy header: 'fortran_order' is not True or False");
        fortran = w == "True";
      } else if (*key == "shape") {
        if (shape) return bad(".npy header repeats 'shape'");
        auto s = parse_shape(c);
        if (!s) return std::move(s).error_value();
        shape = std::move(*s);
      } else {
        return bad(".npy header has an unknown key '" + printable(*key) + "'");
      }
      if (c.eat(',')) {
        if (c.eat('}')) break;
        continue;
      }
      if (c.eat('}')) break;
      return bad(".npy header is not a well-formed dict");
    }
  }
  if (!c.at_end()) return bad(".npy header has text after the dict");
  if (!descr || !fortran || !shape) return bad(".npy header lacks 'descr', 'fortran_order' or 'shape'");

  auto a = parse_descr(*descr);
  if (!a) return std::move(a).error_value();
  a->fortran_order = *fortran;
  a->shape = std::move(*shape);
  auto elements = sw::element_count(a->shape);
  if (!elements || !sw::checked_mul(*elements, sw::byte_width(a->type), a->data_bytes))
    return bad("the shape's size overflows 64 bits");
  a->elements = *elements;
  a->data_offset = *size;
  return a;
}

std::optional<std::string> npy_descr(sw::dtype t) {
  switch (t) {
    case sw::dtype::BOOL: return "|b1";
    case sw::dtype::U8: return "|u1";
    case sw::dtype::I8: return "|i1";
    case sw::dtype::U16: return "<u2";
    case sw::dtype::I16: return "<i2";
    case sw::dtype::U32: return "<u4";
    case sw::dtype::I32: return "<i4";
    case sw::dtype::U64: return "<u8";
    case sw::dtype::I64: return "<i8";
    case sw::dtype::F16: return "<f2";
    case sw::dtype::F32: return "<f4";
    case sw::dtype::F64: return "<f8";
    case sw::dtype::C64: return "<c8";
    default: return std::nullopt;
  }
}

std::string npy_preamble(sw::dtype t, std::span<const std::uint64_t> shape) {
  // The header as numpy.save writes it: the dict's repr, then spaces and a
  // newline up to a multiple of 64 bytes counted from the file's start
  // (numpy adds a full 64 when already aligned); version 2.0 only when the
  // header needs more than 16 bits of length.
  std::string dict = "{'descr': '" + std::string(npy_descr(t).value()) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) dict += ", ";
    sw::append_uint(dict, shape[i]);
  }
  if (shape.size() == 1) dict += ',';
  dict += "), }";
  auto padded = [&](std::size_t length_bytes) { return dict.size() + 1 + 64 - (8 + length_bytes + dict.size() + 1) % 64; };
  const bool version_2 = padded(2) > 0xFFFF;
  dict.append(padded(version_2 ? 4 : 2) - dict.size() - 1, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version_2 ? 2 : 1);
  out += '\0';
  for (std::size_t k = 0; k < (version_2 ? 4u : 2u); ++k) out += static_cast<char>((dict.size() >> (8 * k)) & 0xFF);
  return out + dict;
}

sw::chunk_source byteswap_source(sw::chunk_source in, unsigned width) {
  return [in = std::move(in), width](std::span<std::byte> dst) mutable -> std::size_t {
    std::size_t want = dst.size() / width * width;
    if (want == 0 || !fill(in, dst.first(want))) return 0;
    for (std::size_t at = 0; at < want; at += width) std::reverse(dst.data() + at, dst.data() + at + width);
    return want;
  };
}

sw::chunk_source fortran_to_c_source(std::span<const std::byte> data, std::vector<std::uint64_t> shape,
                                     unsigned width, progress* bar) {
  struct state {
    std::span<const std::byte> data;
    std::vector<std::uint64_t> shape, stride, index;  // stride in elements, column-major
    std::uint64_t offset = 0, left = 0;                 // offset of the element at `index`
  };
  auto s = std::make_shared<state>();
  s->data = data;
  s->shape = std::move(shape);
  s->stride.resize(s->shape.size());
  s->index.assign(s->shape.size(), 0);
  std::uint64_t step = 1;
  for (std::size_t k = 0; k < s->shape.size(); ++k) {
    s->stride[k] = step;
    step *= s->shape[k];  // the product was checked when the header was parsed
  }
  s->left = step;
  return [s, width, bar](std::span<std::byte> dst) -> std::size_t {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(dst.size() / width, s->left));
    for (std::size_t i = 0; i < n; ++i) {
      std::memcpy(dst.data() + i * width, s->data.data() + s->offset * width, width);
      // Next index in C order: the last dimension moves fastest.
      for (std::size_t k = s->shape.size(); k-- > 0;) {
        s->offset += s->stride[k];
        if (++s->index[k] < s->shape[k]) break;
        s->offset -= s->stride[k] * s->shape[k];
        s->index[k] = 0;
      }
    }
    s->left -= n;
    if (bar) bar->add(n * width);
    return n * width;
  };
}

}  // namespace safeweights_cli
