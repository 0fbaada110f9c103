// Per-thread working memory for the kernels (packed panels, converted
// rows): 64-byte aligned, grown on demand and kept for the next call.
#pragma once

#include <cstddef>
#include <new>

#include "safeweights/io/platform.hpp"  // SAFEWEIGHTS_THREAD_CACHED

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels::detail {

class scratch {
 public:
  scratch() = default;
  scratch(const scratch&) = delete;
  scratch& operator=(const scratch&) = delete;
  ~scratch() { release(); }

  // At least n floats; the contents are not kept across calls.
  float* floats(std::size_t n) {
    if (n > capacity_) {
      release();
      std::size_t grown = n < 2 * capacity_ ? 2 * capacity_ : n;
      data_ = static_cast<float*>(::operator new(grown * sizeof(float), std::align_val_t(64)));
      capacity_ = grown;
    }
    return data_;
  }

 private:
  void release() noexcept {
    if (data_) ::operator delete(data_, std::align_val_t(64));
    data_ = nullptr;
    capacity_ = 0;
  }
  float* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace kernels::detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
