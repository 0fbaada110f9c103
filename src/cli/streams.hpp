// Where the commands' output bytes come from: chunk sources (the writer's
// streaming interface) that copy a tensor's bytes or convert its elements on
// the way, counting progress, so no output tensor ever sits whole in memory.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "numeric.hpp"
#include "progress.hpp"
#include "safeweights/io/writer.hpp"

namespace safeweights_cli {

namespace sw = safeweights;

// Fills all of `dst` from `src`; false when the source stops early.
inline bool fill(sw::chunk_source& src, std::span<std::byte> dst) {
  while (!dst.empty()) {
    std::size_t got = src(dst);
    if (got == 0 || got > dst.size()) return false;
    dst = dst.subspan(got);
  }
  return true;
}

// The bytes of `bytes`, a chunk at a time, counted on `bar` (may be null).
inline sw::chunk_source span_source(std::span<const std::byte> bytes, progress* bar) {
  return [bytes, bar](std::span<std::byte> dst) mutable -> std::size_t {
    std::size_t n = std::min(dst.size(), bytes.size());
    if (n) std::memcpy(dst.data(), bytes.data(), n);
    bytes = bytes.subspan(n);
    if (bar) bar->add(n);
    return n;
  };
}

// The dtypes `--dtype` takes: bf16, f16, f32 (any case).
inline std::optional<sw::dtype> parse_cast_dtype(std::string_view s) {
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower == "bf16") return sw::dtype::BF16;
  if (lower == "f16") return sw::dtype::F16;
  if (lower == "f32") return sw::dtype::F32;
  return std::nullopt;
}

// The F4/F6 types are floats that nothing here unpacks, so they cannot be cast.
inline bool is_packed(sw::dtype t) { return sw::byte_width(t) == 0; }

// Float tensors are what --dtype casts; complex ones keep their type (a real
// dtype would drop the imaginary part), integers and BOOL too.
inline bool is_castable_float(sw::dtype t) { return sw::is_float_type(t) && t != sw::dtype::C64 && !is_packed(t); }

// `elements` elements of dtype `from`, read from `in`, as dtype `to` (F32,
// F16 or BF16): each goes through double to float (exact from every type
// but F64, which rounds once, as PyTorch's .to() does) and is then rounded
// to nearest even by the library's float_to_f16 / float_to_bf16.
inline sw::chunk_source cast_source(sw::chunk_source in, sw::dtype from, sw::dtype to, std::uint64_t elements) {
  struct state {
    sw::chunk_source in;
    sw::dtype from, to;
    std::uint64_t left;
    std::vector<std::byte> raw;
    std::vector<double> values;
  };
  auto s = std::make_shared<state>(
      state{std::move(in), from, to, elements, std::vector<std::byte>(block_scalars * sw::byte_width(from)),
            std::vector<double>(block_scalars)});
  return [s](std::span<std::byte> dst) -> std::size_t {
    const std::size_t in_width = sw::byte_width(s->from), out_width = sw::byte_width(s->to);
    std::size_t k = std::min<std::uint64_t>({dst.size() / out_width, s->left, block_scalars});
    if (k == 0 || !fill(s->in, std::span(s->raw.data(), k * in_width))) return 0;
    scalars_as_double(s->from, s->raw.data(), 0, k, s->values.data());
    std::byte* out = dst.data();
    for (std::size_t i = 0; i < k; ++i) {
      // The file's bytes: little-endian on every host (a swap on a big-endian one).
      float f = sw::to_little(static_cast<float>(s->values[i]));
      if (s->to == sw::dtype::F32) {
        std::memcpy(out + 4 * i, &f, 4);
      } else {
        const float v = static_cast<float>(s->values[i]);
        std::uint16_t h = sw::to_little(s->to == sw::dtype::BF16 ? sw::float_to_bf16(v) : sw::float_to_f16(v));
        std::memcpy(out + 2 * i, &h, 2);
      }
    }
    s->left -= k;
    return k * out_width;
  };
}

}  // namespace safeweights_cli
