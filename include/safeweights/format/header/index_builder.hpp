// Fills a header_index while a parser walks the JSON: tensors in header
// order, their dims in one arena, names into the name table (late, through
// the lagged inserter, in a large table), unescaped strings copied into one
// arena sized by the header so that views never move. Parsers call it; the
// door (parse_header.hpp) finishes it.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "safeweights/detail/name_table.hpp"
#include "safeweights/format/dtype.hpp"
#include "safeweights/format/header/tuning.hpp"
#include "safeweights/format/header_index.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

class index_builder {
 private:
  // The name of tensor i, for the name table (which keeps no strings).
  struct tensor_names {
    const big_vector<tensor_info>& tensors;
    std::string_view operator()(std::uint32_t i) const noexcept { return tensors[i].name; }
  };
  tensor_names name_of() const noexcept { return {index_.tensors_}; }

 public:
  // Names without escapes point into `text`; the index keeps `text_owner`
  // (which keeps `text` alive) for as long as it lives.
  index_builder(std::string_view text, std::shared_ptr<const void> text_owner) : text_(text) {
    index_.text_owner_ = std::move(text_owner);
    size_for(text_.size());
  }

  // The header text being parsed.
  std::string_view text() const noexcept { return text_; }

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
  [[gnu::always_inline]] void begin_tensor(std::string_view name) {
    auto k = static_cast<std::uint32_t>(index_.tensors_.size());
    // Filled in place: a copy from the stack stalls on store forwarding.
    tensor_info& info = index_.tensors_.emplace_back();
    info.name = name;
    index_.dims_.begin_shape();
    info.shape = std::span<const std::uint64_t>(index_.dims_.shape_start(), 0);
    names_.add(index_.by_name_, name, k, name_of());
  }
  // Indexes the names still waiting; after this, repeated_name() is final.
  void index_names() { names_.flush(index_.by_name_, static_cast<std::uint32_t>(tensor_count()), name_of()); }
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
    if (!has_repeat()) return std::nullopt;
    return index_.tensors_[names_.first_repeat()].name;
  }
  bool has_repeat() const noexcept { return names_.first_repeat() != name_table::empty; }

  void set_has_metadata() { index_.has_metadata_ = true; }
  // Returns false on a repeated key. `key` and `value` must stay valid.
  bool add_metadata(std::string_view key, std::string_view value) {
    auto& m = index_.metadata_;
    m.push_back(metadata_entry{key, value});
    auto prior = index_.metadata_keys_.insert(m.back().key, static_cast<std::uint32_t>(m.size() - 1),
                                              [&m](std::uint32_t i) { return m[i].key; });
    return prior == name_table::empty;
  }

  // For the validation walk (format/validate.hpp).
  std::span<tensor_info> tensors() noexcept { return index_.tensors_; }
  void sort_by_offsets() { index_.sort_by_offsets(); }
  void set_data_size(std::uint64_t n) noexcept { index_.data_size_ = n; }

  header_index take() && { return std::move(index_); }

 private:

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
  lagged_inserter<header_tuning::name_lag, header_tuning::name_lag_above_slots> names_;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
