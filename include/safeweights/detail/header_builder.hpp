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
#include "safeweights/format/dtype.hpp"
#include "safeweights/format/header_index.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/util/checked.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

class header_builder {
 public:
  // Parses a copy of the header that the index keeps: names without escapes
  // point into it.
  explicit header_builder(padded_buffer&& json) : text_(json.data(), json.size()) {
    index_.json_ = std::move(json);
    size_for(text_.size());
  }
  // Parses header bytes the caller keeps alive for as long as the index (a
  // reader's mapping or buffer); names point into them.
  explicit header_builder(std::string_view borrowed) : text_(borrowed) { size_for(text_.size()); }

  // The header text being parsed, and the padded copy the index owns (empty when borrowed).
  std::string_view text() const noexcept { return text_; }
  const padded_buffer& json() const noexcept { return index_.json_; }

  // Copies an unescaped string into the arena; the arena is sized by the
  // header, and unescaping never lengthens a JSON string, so it never moves.
  std::string_view keep(std::string_view s) {
    if (index_.strings_.capacity() == 0) index_.strings_.reserve(text_.size());
    std::size_t at = index_.strings_.size();
    index_.strings_.insert(index_.strings_.end(), s.begin(), s.end());
    return std::string_view(index_.strings_.data() + at, s.size());
  }

  std::size_t tensor_count() const noexcept { return index_.tensors_.size(); }

  // Starts a tensor and indexes its name; its dims follow with add_dim.
  // `name` must stay valid (a slice of text() or a string from keep()).
  // In a table larger than the cache, names enter name_lag tensors late,
  // their slots prefetched now: random inserts would each wait on memory.
  [[gnu::always_inline]] void begin_tensor(std::string_view name) {
    auto k = static_cast<std::uint32_t>(index_.tensors_.size());
    // Filled in place: a copy from the stack stalls on store forwarding.
    tensor_info& info = index_.tensors_.emplace_back();
    info.name = name;
    index_.dims_.begin_shape();
    info.shape = std::span<const std::uint64_t>(index_.dims_.shape_start(), 0);
    std::uint64_t h = hash_name(name);
    if (index_.by_name_.capacity() <= lag_above_slots) {
      insert(name, h, k);
      indexed_ = k + 1;
      return;
    }
    if (k - indexed_ == name_lag) index_one();
    index_.by_name_.prefetch(h);
    hashes_[k % name_lag] = h;
  }
  // Indexes the names still waiting; after this, repeated_name() is final.
  void index_names() {
    while (indexed_ < index_.tensors_.size()) index_one();
  }
  tensor_info& current() { return index_.tensors_.back(); }
  void add_dim(std::uint64_t d) {
    tensor_info& t = current();
    t.shape = std::span<const std::uint64_t>(index_.dims_.push(d), t.shape.size() + 1);
  }
  // Gives the current tensor (no dims added) a shape stored earlier in the arena.
  void set_shape(const std::uint64_t* dims, std::size_t rank) noexcept { current().shape = {dims, rank}; }
  std::size_t current_rank() const noexcept { return index_.tensors_.back().shape.size(); }

  // The first name (in header order) that repeats an earlier one, if any,
  // among the names indexed so far.
  std::optional<std::string_view> repeated_name() const noexcept {
    if (repeat_ == no_repeat) return std::nullopt;
    return index_.tensors_[repeat_].name;
  }
  bool has_repeat() const noexcept { return repeat_ != no_repeat; }

  void set_has_metadata() { index_.has_metadata_ = true; }
  // Returns false on a repeated key. `key` and `value` must stay valid.
  bool add_metadata(std::string_view key, std::string_view value) {
    auto& m = index_.metadata_;
    m.push_back(metadata_entry{key, value});
    auto prior = index_.metadata_keys_.insert(m.back().key, static_cast<std::uint32_t>(m.size() - 1),
                                              [&m](std::uint32_t i) { return m[i].key; });
    return prior == name_table::empty;
  }

  // The validation walk done as tensors arrive, for a reader that sees them
  // in offset order (every writer's order): begin_walk(), then walk() on
  // each finished tensor. Only success is recorded; a tensor out of order
  // or wrong stops it, and validate() then walks the sorted list and names
  // the problem.
  void begin_walk() noexcept { walked_ = true; }
  void walk(tensor_info& t) noexcept {
    if (!walked_) return;
    std::uint64_t bits = 0;
    auto n = element_count(t.shape);
    if (t.begin != walked_end_ || t.end < t.begin || !n || !checked_mul(*n, bit_width(t.type), bits) ||
        bits % 8 != 0 || bits / 8 != t.end - t.begin) {
      walked_ = false;
      return;
    }
    t.elements = *n;
    walked_end_ = t.end;
  }
  bool walked() const noexcept { return walked_; }
  std::uint64_t walked_end() const noexcept { return walked_end_; }

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
  static constexpr std::uint32_t no_repeat = 0xFFFFFFFFu;
  static constexpr std::uint32_t name_lag = 8;
  static constexpr std::size_t lag_above_slots = std::size_t{1} << 15;  // a 256 KiB table

  void index_one() {
    std::uint32_t k = indexed_++;
    insert(index_.tensors_[k].name, hashes_[k % name_lag], k);
  }
  void insert(std::string_view name, std::uint64_t h, std::uint32_t k) {
    auto& t = index_.tensors_;
    if (index_.by_name_.insert_hashed(name, h, k, [&t](std::uint32_t i) { return t[i].name; }) != name_table::empty &&
        repeat_ == no_repeat)
      repeat_ = k;
  }

  // The smallest entry takes 48 bytes of JSON, so the header's size bounds
  // the count: reserving for that many costs address space only (large
  // arrays are mapped and touched page by page), and nothing ever grows.
  void size_for(std::size_t header_bytes) {
    index_.header_size_ = header_bytes;
    std::size_t most = header_bytes / 48 + 1;
    index_.tensors_.reserve(most);
    index_.by_name_.reserve(most);
    index_.dims_ = dim_arena(header_bytes / 16);
  }

  header_index index_;
  std::string_view text_;
  std::uint32_t repeat_ = no_repeat;
  std::uint32_t indexed_ = 0;  // tensors whose names are in the table
  std::uint64_t hashes_[name_lag] = {};
  bool walked_ = false;
  std::uint64_t walked_end_ = 0;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
