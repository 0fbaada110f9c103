// The parsed, validated header: every tensor in offset order, O(1) lookup by
// name, and the __metadata__ map in file order. Views (names, shapes) point
// into storage this object owns, so it moves but does not copy.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "safeweights/detail/dim_arena.hpp"
#include "safeweights/detail/name_table.hpp"
#include "safeweights/detail/padded_buffer.hpp"
#include "safeweights/format/tensor_info.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {
class header_builder;
}

class header_index {
 public:
  header_index() = default;
  header_index(header_index&&) noexcept = default;
  header_index& operator=(header_index&&) noexcept = default;
  header_index(const header_index&) = delete;
  header_index& operator=(const header_index&) = delete;

  // In offset order (the file's order); entries with equal offsets keep header order.
  std::span<const tensor_info> tensors() const noexcept { return tensors_; }
  // How many tensors; find() looks one up by name in O(1) (nullptr when absent).
  std::size_t size() const noexcept { return tensors_.size(); }

  const tensor_info* find(std::string_view name) const noexcept {
    std::uint32_t i = by_name_.find(name, [this](std::uint32_t k) { return tensors_[k].name; });
    return i == detail::name_table::empty ? nullptr : &tensors_[i];
  }

  // True when the header has a __metadata__ object (possibly empty); null counts as absent.
  bool has_metadata() const noexcept { return has_metadata_; }
  // The __metadata__ entries in file order, and one value by key.
  std::span<const metadata_entry> metadata() const noexcept { return metadata_; }
  std::optional<std::string_view> metadata_value(std::string_view key) const noexcept {
    std::uint32_t i = metadata_keys_.find(key, [this](std::uint32_t k) { return metadata_[k].key; });
    if (i == detail::name_table::empty) return std::nullopt;
    return metadata_[i].value;
  }

  // Bytes of JSON after the 8-byte length prefix.
  std::uint64_t header_size() const noexcept { return header_size_; }
  // Where the data section starts, from the start of the file.
  std::uint64_t data_offset() const noexcept { return 8 + header_size_; }
  // Bytes the tensors span: the end of the last one.
  std::uint64_t data_size() const noexcept { return data_size_; }

 private:
  friend class detail::header_builder;

  // The header itself, when the index owns a copy: names without escapes
  // point here, or into the caller's mapping or buffer when it is borrowed.
  detail::padded_buffer json_;
  std::vector<char> strings_;   // unescaped names, metadata keys and values
  detail::dim_arena dims_;
  detail::big_vector<tensor_info> tensors_;
  std::vector<metadata_entry> metadata_;
  bool has_metadata_ = false;
  detail::name_table by_name_;
  detail::name_table metadata_keys_;
  std::uint64_t header_size_ = 0;
  std::uint64_t data_size_ = 0;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
