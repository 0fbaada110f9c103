// Fills a header_index while the JSON is walked: copies unescaped strings into
// one arena sized by the header (so views never move), records tensors in
// header order, and detects repeated keys on insert.
#pragma once

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "safeweights/detail/padded_buffer.hpp"
#include "safeweights/error.hpp"
#include "safeweights/format/header_index.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

// A name as it appears in a message: `name`, with control characters escaped.
inline std::string quote_name(std::string_view name) {
  std::string out = "`";
  for (unsigned char c : name.substr(0, 200)) {
    if (c < 0x20 || c == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (name.size() > 200) out += "...";
  out += '`';
  return out;
}

class header_builder {
 public:
  // `json` is the header being parsed; the index keeps it, so names that
  // need no unescaping can point straight into it.
  explicit header_builder(padded_buffer&& json) {
    index_.header_size_ = json.size();
    index_.json_ = std::move(json);
    // The smallest entry takes 48 bytes of JSON: reserving for that many
    // costs address space only, and saves every reallocation.
    index_.tensors_.reserve(index_.json_.size() / 48 + 1);
  }

  const padded_buffer& json() const noexcept { return index_.json_; }

  // Copies an unescaped string into the arena; the arena is sized by the
  // header, and unescaping never lengthens a JSON string, so it never moves.
  std::string_view keep(std::string_view s) {
    if (index_.strings_.capacity() == 0) index_.strings_.reserve(index_.json_.size());
    std::size_t at = index_.strings_.size();
    index_.strings_.insert(index_.strings_.end(), s.begin(), s.end());
    return std::string_view(index_.strings_.data() + at, s.size());
  }

  std::size_t tensor_count() const noexcept { return index_.tensors_.size(); }

  // Starts a tensor; its dims follow with add_dim. `name` must stay valid
  // (a slice of json() or a string from keep()).
  void begin_tensor(std::string_view name) {
    tensor_info info;
    info.name = name;
    dim_start_.push_back(index_.dims_.size());
    index_.tensors_.push_back(info);
  }
  tensor_info& current() { return index_.tensors_.back(); }
  void add_dim(std::uint64_t d) { index_.dims_.push_back(d); }
  std::size_t current_rank() const noexcept { return index_.dims_.size() - dim_start_.back(); }

  void set_has_metadata() { index_.has_metadata_ = true; }
  // Returns false on a repeated key. `key` and `value` must stay valid.
  bool add_metadata(std::string_view key, std::string_view value) {
    auto& m = index_.metadata_;
    m.push_back(metadata_entry{key, value});
    auto prior = index_.metadata_keys_.insert(m.back().key, static_cast<std::uint32_t>(m.size() - 1),
                                              [&m](std::uint32_t i) { return m[i].key; });
    return prior == name_table::empty;
  }

  // Indexes the names, once, at their final count. Returns the first name
  // (in header order) that repeats an earlier one, if any.
  std::optional<std::string_view> index_names() {
    auto& t = index_.tensors_;
    std::uint32_t repeat = index_.by_name_.bulk_insert(static_cast<std::uint32_t>(t.size()),
                                                        [&t](std::uint32_t k) { return t[k].name; });
    if (repeat == name_table::empty) return std::nullopt;
    return t[repeat].name;
  }

  // Points every shape into the dims arena, which no longer grows.
  void finish_shapes() {
    auto& t = index_.tensors_;
    for (std::size_t i = 0; i < t.size(); ++i) {
      std::size_t start = dim_start_[i];
      std::size_t stop = i + 1 < t.size() ? dim_start_[i + 1] : index_.dims_.size();
      t[i].shape = std::span<const std::uint64_t>(index_.dims_.data() + start, stop - start);
    }
    dim_start_.clear();
    dim_start_.shrink_to_fit();
  }

  // Puts tensors in (begin, end) order, keeping header order among equals.
  void sort_by_offsets() {
    auto& t = index_.tensors_;
    auto before = [](const tensor_info& a, const tensor_info& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    };
    if (std::is_sorted(t.begin(), t.end(), before)) return;  // what every writer emits
    std::vector<std::uint32_t> order(t.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return before(t[a], t[b]); });
    big_vector<tensor_info> sorted(t.size());
    std::vector<std::uint32_t> new_place(t.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) {
      sorted[i] = t[order[i]];
      new_place[order[i]] = i;
    }
    t = std::move(sorted);
    index_.by_name_.remap([&](std::uint32_t old) { return new_place[old]; });
  }

  std::span<tensor_info> tensors() noexcept { return index_.tensors_; }
  void set_data_size(std::uint64_t n) noexcept { index_.data_size_ = n; }

  header_index take() && { return std::move(index_); }
  padded_buffer take_json() && { return std::move(index_.json_); }

 private:
  header_index index_;
  std::vector<std::size_t> dim_start_;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
