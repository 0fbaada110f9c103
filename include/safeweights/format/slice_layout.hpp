// Where the bytes of a slice of a tensor lie: a range [begin, end) along one
// dimension of a row-major tensor is `runs` equal runs of bytes, `stride`
// apart. Rows of a [out, in] matrix are one run; columns are one run per row.
// Pure arithmetic on the header, checked: no file is touched here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "safeweights/error.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/format/tensor_info.hpp"
#include "safeweights/util/checked.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// Elements [begin, end) along dimension `dim`; every other dimension whole.
struct slice_spec {
  std::size_t dim = 0;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

struct slice_layout {
  std::vector<std::uint64_t> shape;  // the slice's own shape
  std::uint64_t elements = 0;
  std::uint64_t offset = 0;     // bytes from the tensor's first byte to the first run
  std::uint64_t run_bytes = 0;  // bytes in each run
  std::uint64_t stride = 0;     // bytes from one run's start to the next one's
  std::uint64_t runs = 0;       // 0 for an empty slice

  std::uint64_t bytes() const noexcept { return runs * run_bytes; }
  bool contiguous() const noexcept { return runs <= 1; }
};

inline result<slice_layout> plan_slice(const tensor_info& t, slice_spec s) {
  auto who = [&t] { return "tensor " + quote_name(t.name); };
  const std::size_t rank = t.shape.size();
  if (s.dim >= rank)
    return make_error(errc::invalid_argument, who() + ": cannot slice dimension " + std::to_string(s.dim) + " of a " +
                                                  std::to_string(rank) + "-dimensional tensor");
  const std::uint64_t extent = t.shape[s.dim];
  if (s.begin > s.end || s.end > extent)
    return make_error(errc::invalid_argument, who() + ": slice [" + std::to_string(s.begin) + ", " +
                                                  std::to_string(s.end) + ") of dimension " + std::to_string(s.dim) +
                                                  " is outside [0, " + std::to_string(extent) + ")");
  // Sub-products of a valid shape can still overflow when another dimension is 0.
  auto overflow = [&] { return make_error(errc::size_overflow, who() + ": slice size overflows 64 bits"); };
  std::uint64_t outer = 1, inner_bits = bit_width(t.type);
  for (std::size_t d = 0; d < s.dim; ++d)
    if (!checked_mul(outer, t.shape[d], outer)) return overflow();
  for (std::size_t d = s.dim + 1; d < rank; ++d)
    if (!checked_mul(inner_bits, t.shape[d], inner_bits)) return overflow();
  std::uint64_t run_bits = 0, stride_bits = 0, offset_bits = 0;
  if (!checked_mul(s.end - s.begin, inner_bits, run_bits) ||
      !checked_mul(extent, inner_bits, stride_bits) ||
      !checked_mul(s.begin, inner_bits, offset_bits))
    return overflow();
  if (run_bits % 8 || stride_bits % 8 || offset_bits % 8)
    return make_error(errc::subbyte_misaligned, who() + ": a slice of " + std::string(dtype_name(t.type)) +
                                                    " along dimension " + std::to_string(s.dim) +
                                                    " does not start and end on whole bytes");
  slice_layout out;
  out.shape.assign(t.shape.begin(), t.shape.end());
  out.shape[s.dim] = s.end - s.begin;
  auto count = element_count(out.shape);
  if (!count) return overflow();
  out.elements = *count;
  out.offset = offset_bits / 8;
  out.run_bytes = run_bits / 8;
  out.stride = stride_bits / 8;
  out.runs = out.run_bytes == 0 || outer == 0 ? 0 : outer;
  // Whole rows back to back are one run.
  if (out.runs > 1 && out.run_bytes == out.stride) {
    out.run_bytes *= out.runs;  // <= the tensor's size: cannot overflow
    out.runs = 1;
  }
  if (out.runs <= 1) out.stride = out.run_bytes;
  return out;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
