// Tensors copied into owned, 64-byte aligned memory by reader::load (eager mode).
// The memory holds host-order values: the file's bytes on a little-endian
// host; swapped element by element on a big-endian one, where as<T>() views
// them without a copy and tensor_view::byte_order() is big (issue 17).
#pragma once

#include <memory>
#include <vector>

#include "safeweights/io/tensor_view.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

class loaded_tensors;
namespace detail {
template <>
inline constexpr bool hands_out_views<loaded_tensors> = true;
}  // namespace detail

class loaded_tensors {
 public:
  // What the views keep alive: the reader's state (for names and shapes) and the bytes.
  struct storage {
    std::shared_ptr<const void> header_owner;
    aligned_buffer buffer;
  };

  loaded_tensors(std::shared_ptr<const storage> owner, std::vector<tensor_view> views)
      : owner_(std::move(owner)), views_(std::move(views)) {
    by_name_.reserve(views_.size());
    for (std::uint32_t i = 0; i < views_.size(); ++i)
      by_name_.insert(views_[i].name(), i, [this](std::uint32_t k) { return views_[k].name(); });
  }

  // The loaded tensors (views into the owned memory), their count, and the
  // bytes owned. The views keep the memory alive; the span and find()'s
  // pointer live as long as this object, so a temporary's are deleted.
  std::span<const tensor_view> tensors() const& noexcept { return views_; }
  std::span<const tensor_view> tensors() && = delete;
  std::size_t size() const noexcept { return views_.size(); }
  std::size_t bytes() const noexcept { return owner_->buffer.size(); }

  // A loaded tensor by name, or nullptr.
  const tensor_view* find(std::string_view name) && = delete;
  const tensor_view* find(std::string_view name) const& noexcept {
    std::uint32_t i = by_name_.find(name, [this](std::uint32_t k) { return views_[k].name(); });
    return i == detail::name_table::empty ? nullptr : &views_[i];
  }

 private:
  std::shared_ptr<const storage> owner_;
  std::vector<tensor_view> views_;
  detail::name_table by_name_;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
