// The one validation walk, as the reference does it: tensors in offset order,
// each checked by check_tensor (format/tensor_rules.hpp: no gap, no overlap,
// a span of exactly elements x bits / 8, every product checked), the last
// ending exactly at the end of the data section. A parser that sees tensors
// in offset order (every writer's order) may walk them as they arrive
// (running_walk); validate() then only checks the end.
#pragma once

#include <string>

#include "safeweights/format/header/index_builder.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/format/read_options.hpp"
#include "safeweights/format/tensor_rules.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

// The walk done as tensors arrive: start(), then step() on each finished
// tensor. Only success is recorded: a tensor out of order or breaking a rule
// stops it, and validate() then walks the sorted tensors and names the fault.
class running_walk {
 public:
  void start() noexcept { on_ = true; }
  [[gnu::always_inline]] void step(tensor_info& t) noexcept {
    tensor_size size;
    if (!on_ || check_tensor(t, end_, size) != tensor_fault::none) {
      on_ = false;
      return;
    }
    t.elements = size.elements;
    end_ = t.end;
  }
  // True when every tensor passed, in the order it came.
  bool complete() const noexcept { return on_; }
  std::uint64_t end() const noexcept { return end_; }

 private:
  bool on_ = false;
  std::uint64_t end_ = 0;
};

inline std::string offsets_text(const tensor_info& t) {
  return "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
}

inline error tensor_error(tensor_fault fault, const tensor_info& t, std::uint64_t cursor, const tensor_size& size) {
  std::string who = "tensor " + quote_name(t.name) + ": ";
  switch (fault) {
    case tensor_fault::end_before_begin:
      return make_error(error_code(fault), who + offsets_text(t) + " end before begin");
    case tensor_fault::not_contiguous:
      return make_error(error_code(fault), who + offsets_text(t) + (t.begin > cursor ? " leave a gap" : " overlap") +
                                               " after byte " + std::to_string(cursor));
    case tensor_fault::size_overflow:
      return make_error(error_code(fault),
                        who + "element count x " + std::to_string(bit_width(t.type)) + " bits overflows 64 bits");
    case tensor_fault::subbyte_misaligned:
      return make_error(error_code(fault), who + std::to_string(size.elements) + " elements of " +
                                               std::string(dtype_name(t.type)) + " are " + std::to_string(size.bits) +
                                               " bits, not whole bytes");
    case tensor_fault::size_mismatch:
      return make_error(error_code(fault), who + offsets_text(t) + " span " + std::to_string(t.byte_size()) +
                                               " bytes, shape and dtype need " + std::to_string(size.bits / 8));
    case tensor_fault::none:
      break;
  }
  return make_error(errc::invalid_argument, who + "breaks no rule");  // not called so
}

// `data_bytes`: how many bytes follow the header in the file or buffer.
inline result<void> validate(index_builder& b, std::uint64_t data_bytes, const read_options& options,
                             const running_walk& walked = {}) {
  std::uint64_t cursor = walked.complete() ? walked.end() : 0;
  if (!walked.complete()) {
    b.sort_by_offsets();
    for (tensor_info& t : b.tensors()) {
      tensor_size size;
      if (tensor_fault fault = check_tensor(t, cursor, size); fault != tensor_fault::none)
        return tensor_error(fault, t, cursor, size);
      t.elements = size.elements;
      cursor = t.end;
    }
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
