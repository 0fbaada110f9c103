// The one validation walk, as the reference does it: tensors in offset order,
// each starting where the previous ended, each span equal to its
// elements x bits / 8 with every product checked, the last ending exactly at
// the end of the data section.
#pragma once

#include <string>

#include "safeweights/detail/header_builder.hpp"
#include "safeweights/format/read_options.hpp"
#include "safeweights/util/checked.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

inline std::string offsets_text(const tensor_info& t) {
  return "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
}

// `data_bytes`: how many bytes follow the header in the file or buffer.
// A header whose tensors were walked as it was read (header_builder::walk)
// skips the walk here: each of them passed these same checks in this order.
inline result<void> validate(header_builder& b, std::uint64_t data_bytes, const read_options& options) {
  std::uint64_t cursor = b.walked() ? b.walked_end() : 0;
  if (!b.walked()) b.sort_by_offsets();
  for (tensor_info& t : b.walked() ? std::span<tensor_info>{} : b.tensors()) {
    auto who = [&t] { return "tensor " + quote_name(t.name); };  // built only on error
    if (t.end < t.begin)
      return make_error(errc::offsets_end_before_begin, who() + ": " + offsets_text(t) + " end before begin");
    if (t.begin != cursor)
      return make_error(errc::offsets_not_contiguous,
                        who() + ": " + offsets_text(t) + (t.begin > cursor ? " leave a gap" : " overlap") +
                            " after byte " + std::to_string(cursor));
    auto elements = element_count(t.shape);
    std::uint64_t bits = 0;
    if (!elements || !checked_mul(*elements, bit_width(t.type), bits))
      return make_error(errc::size_overflow, who() + ": element count x " + std::to_string(bit_width(t.type)) +
                                                 " bits overflows 64 bits");
    if (bits % 8 != 0)
      return make_error(errc::subbyte_misaligned, who() + ": " + std::to_string(*elements) + " elements of " +
                                                      std::string(dtype_name(t.type)) + " are " +
                                                      std::to_string(bits) + " bits, not whole bytes");
    if (bits / 8 != t.byte_size())
      return make_error(errc::size_mismatch, who() + ": " + offsets_text(t) + " span " +
                                                 std::to_string(t.byte_size()) + " bytes, shape and dtype need " +
                                                 std::to_string(bits / 8));
    t.elements = *elements;
    cursor = t.end;
  }
  if (cursor > data_bytes)
    return make_error(errc::data_truncated, "tensors need " + std::to_string(cursor) +
                                                " data bytes but the data section holds " +
                                                std::to_string(data_bytes));
  if (cursor < data_bytes && !options.allow_trailing_bytes)
    return make_error(errc::trailing_bytes, std::to_string(data_bytes - cursor) +
                                                " bytes after the last tensor (ends at data byte " +
                                                std::to_string(cursor) + ")");
  b.set_data_size(cursor);
  return {};
}

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
