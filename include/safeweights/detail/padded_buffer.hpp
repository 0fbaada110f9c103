// A byte buffer followed by padding, because simdjson may read up to
// SIMDJSON_PADDING bytes past the JSON, and its number parser stops only
// at a byte that is not a digit: a fresh buffer zeroes the padding.
#pragma once

#include <cstring>
#include <memory>
#include <simdjson.h>

#include "safeweights/detail/big_allocator.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

struct padded_deleter {
  std::size_t bytes = 0;  // all of the allocation
  void operator()(char* p) const noexcept { free_big(p, bytes, 64); }
};

class padded_buffer {
 public:
  padded_buffer() = default;
  // `size` bytes (and padding) at data(), after `lead` bytes at data() - lead
  // that the caller may fill too: a reader puts the length prefix there and
  // reads prefix and header with one call.
  explicit padded_buffer(std::size_t size, std::size_t lead = 0)
      : data_(static_cast<char*>(allocate_big(lead + size + simdjson::SIMDJSON_PADDING, 64)),
              padded_deleter{lead + size + simdjson::SIMDJSON_PADDING}),
        lead_(lead),
        size_(size) {
    std::memset(data() + size, 0, simdjson::SIMDJSON_PADDING);
  }
  char* data() noexcept { return data_.get() + lead_; }
  const char* data() const noexcept { return data_.get() + lead_; }
  std::size_t size() const noexcept { return size_; }
  // Keeps the first `n` bytes (n <= size()); what follows them stays
  // readable and counts as padding.
  void shrink(std::size_t n) noexcept { size_ = n < size_ ? n : size_; }
  // Bytes readable after the first size(): the padding, at least SIMDJSON_PADDING.
  std::size_t readable_after() const noexcept { return data_.get_deleter().bytes - lead_ - size_; }
  simdjson::padded_string_view view() const noexcept {
    return simdjson::padded_string_view(data(), size_, data_.get_deleter().bytes - lead_);
  }

 private:
  std::unique_ptr<char, padded_deleter> data_;
  std::size_t lead_ = 0;
  std::size_t size_ = 0;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
