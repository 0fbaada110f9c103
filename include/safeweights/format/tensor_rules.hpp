// The per-tensor rules of the validation walk (spec/FORMAT.md R16-R20), in
// one place: the full walk of validate() and the canonical scanner's walk as
// tensors arrive both call check_tensor. It decides; validate() words the
// message.
#pragma once

#include <cstdint>

#include "safeweights/error.hpp"
#include "safeweights/format/dtype.hpp"
#include "safeweights/format/tensor_info.hpp"
#include "safeweights/util/checked.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// The first rule a tensor breaks, in the order they are checked.
enum class tensor_fault : std::uint8_t {
  none,
  end_before_begin,    // R16
  not_contiguous,      // R17: a gap or an overlap after the tensor before
  size_overflow,       // R18: elements or elements x bits past 2^64
  subbyte_misaligned,  // R19: elements x bits not whole bytes
  size_mismatch,       // R20: end - begin is not elements x bits / 8
};

inline errc error_code(tensor_fault f) noexcept {
  switch (f) {
    case tensor_fault::end_before_begin: return errc::offsets_end_before_begin;
    case tensor_fault::not_contiguous: return errc::offsets_not_contiguous;
    case tensor_fault::size_overflow: return errc::size_overflow;
    case tensor_fault::subbyte_misaligned: return errc::subbyte_misaligned;
    case tensor_fault::size_mismatch: return errc::size_mismatch;
    case tensor_fault::none: break;
  }
  return errc::ok;
}

// What check_tensor computed on the way: the element count and its size in
// bits (each valid once the rule that computes it has passed).
struct tensor_size {
  std::uint64_t elements = 0;
  std::uint64_t bits = 0;
};

// `t`, in offset order, after tensors that end at `cursor` (0 for the first).
[[gnu::always_inline]] inline tensor_fault check_tensor(const tensor_info& t, std::uint64_t cursor,
                                                        tensor_size& size) noexcept {
  if (t.end < t.begin) return tensor_fault::end_before_begin;
  if (t.begin != cursor) return tensor_fault::not_contiguous;
  auto elements = element_count(t.shape);
  if (!elements || !checked_mul(*elements, bit_width(t.type), size.bits)) return tensor_fault::size_overflow;
  size.elements = *elements;
  if (size.bits % 8 != 0) return tensor_fault::subbyte_misaligned;
  if (size.bits / 8 != t.end - t.begin) return tensor_fault::size_mismatch;
  return tensor_fault::none;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
