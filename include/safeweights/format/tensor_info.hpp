// What the header says about one tensor.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "safeweights/format/dtype.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

struct tensor_info {
  std::string_view name;               // unescaped; may hold any UTF-8, even NUL
  dtype type = dtype::F32;
  std::span<const std::uint64_t> shape;  // empty for a scalar
  std::uint64_t begin = 0;             // data_offsets, relative to the data section
  std::uint64_t end = 0;
  std::uint64_t elements = 0;          // product of shape (checked at validation)

  // Bytes the tensor takes in the data section.
  std::uint64_t byte_size() const noexcept { return end - begin; }
};

struct metadata_entry {
  std::string_view key;
  std::string_view value;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
