// A short run of known text (up to 8 x Words bytes) held as masked 8-byte
// words, so that "does the header continue with this text?" is a few loads
// and one test instead of a scan. The canonical scanner remembers the text
// of the last dtype, the last end offset and recent shapes this way: a
// checkpoint repeats them from tensor to tensor.
#pragma once

#include <cstddef>
#include <cstdint>

#include "safeweights/detail/unaligned_load.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

template <std::size_t Words>
struct masked_text {
  static constexpr std::size_t capacity = 8 * Words;
  std::uint64_t word[Words] = {};
  std::uint64_t mask[Words] = {};
  static constexpr std::size_t none = SIZE_MAX;  // a size no header reaches: matches nothing
  std::size_t size = none;

  // The low k bytes of a word set, for k = 0..8.
  static constexpr std::uint64_t low_bytes[9] = {0,
                                                 0xff,
                                                 0xffff,
                                                 0xffffff,
                                                 0xffffffff,
                                                 0xffffffffff,
                                                 0xffffffffffff,
                                                 0xffffffffffffff,
                                                 ~std::uint64_t{0}};

  // Holds the `n` (1..capacity) bytes at `text`, which has capacity readable bytes.
  void set(const char* text, std::size_t n) noexcept {
    for (std::size_t i = 0; i < Words; ++i) {
      std::size_t live = n > 8 * i ? n - 8 * i : 0;
      mask[i] = low_bytes[live < 8 ? live : 8];
      word[i] = load8(text + 8 * i) & mask[i];
    }
    size = n;
  }
  // Appends one byte (size < capacity).
  void push(char c) noexcept {
    std::size_t i = size / 8, shift = 8 * (size % 8);
    word[i] |= std::uint64_t{static_cast<unsigned char>(c)} << shift;
    mask[i] |= std::uint64_t{0xff} << shift;
    ++size;
  }
  // Whether the text at `p` starts with this text, all of it before `end`.
  // `p` must have capacity readable bytes; what lies past `end` decides nothing.
  bool matches(const char* p, const char* end) const noexcept {
    if (static_cast<std::size_t>(end - p) < size) return false;
    std::uint64_t diff = 0;
    for (std::size_t i = 0; i < Words; ++i) diff |= (load8(p + 8 * i) ^ word[i]) & mask[i];
    return diff == 0;
  }
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
