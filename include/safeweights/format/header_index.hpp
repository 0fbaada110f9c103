// The parsed, validated header: every tensor in offset order, O(1) lookup by
// name, and the __metadata__ map in file order. Views (names, shapes) point
// into storage this object owns or keeps alive (the header's text: see
// text_owner_), so it moves but does not copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "safeweights/detail/dim_arena.hpp"
#include "safeweights/detail/name_table.hpp"
#include "safeweights/format/tensor_info.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {
class index_builder;
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
  friend class detail::index_builder;

  // Puts tensors in (begin, end) order, keeping header order among equals.
  void sort_by_offsets() {
    auto& t = tensors_;
    auto before = [](const tensor_info& a, const tensor_info& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    };
    if (std::is_sorted(t.begin(), t.end(), before)) return;  // what every writer emits
    std::vector<std::uint32_t> order(t.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return before(t[a], t[b]); });
    detail::big_vector<tensor_info> sorted(t.size());
    std::vector<std::uint32_t> new_place(t.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) {
      sorted[i] = t[order[i]];
      new_place[order[i]] = i;
    }
    t = std::move(sorted);
    by_name_.remap([&](std::uint32_t old) { return new_place[old]; });
  }

  // What the header text lives in (names without escapes point into it):
  // the reader's mapping or buffer, a copy made by parse_header, or, for a
  // caller's buffer, nothing the index owns (reader::from_buffer says so).
  std::shared_ptr<const void> text_owner_;
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
