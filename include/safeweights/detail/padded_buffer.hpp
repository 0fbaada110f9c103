// A byte buffer followed by zeroed padding, because simdjson may read up to
// SIMDJSON_PADDING bytes past the JSON. A mapped header is followed by tensor
// data that can be shorter than that, so the header is always copied here.
#pragma once

#include <cstring>
#include <memory>
#include <simdjson.h>

#include "safeweights/detail/big_allocator.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

struct padded_deleter {
  std::size_t size = 0;
  void operator()(char* p) const noexcept { free_big(p, size + simdjson::SIMDJSON_PADDING, 64); }
};

class padded_buffer {
 public:
  padded_buffer() = default;
  explicit padded_buffer(std::size_t size)
      : data_(static_cast<char*>(allocate_big(size + simdjson::SIMDJSON_PADDING, 64)), padded_deleter{size}), size_(size) {
    std::memset(data_.get() + size, 0, simdjson::SIMDJSON_PADDING);
  }
  char* data() noexcept { return data_.get(); }
  const char* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  simdjson::padded_string_view view() const noexcept {
    return simdjson::padded_string_view(data_.get(), size_, size_ + simdjson::SIMDJSON_PADDING);
  }

 private:
  std::unique_ptr<char, padded_deleter> data_;
  std::size_t size_ = 0;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
