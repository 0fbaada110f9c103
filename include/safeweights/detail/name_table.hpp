// An open-addressing hash table from a name to its index: one allocation for
// the whole header, no node per entry, O(1) lookup, duplicates detected on insert.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "safeweights/detail/big_allocator.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

inline std::uint64_t hash_name(std::string_view s) noexcept {
  // 8 bytes at a time, multiply-xorshift mixing; quality is ample for names.
  constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
  std::uint64_t h = 0x243F6A8885A308D3ull ^ (s.size() * k);
  const char* p = s.data();
  std::size_t n = s.size();
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * k;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  h = (h ^ tail) * k;
  h ^= h >> 32;
  return h;
}

// Maps a name to a 32-bit value. `names(value)` must give back the name for
// a stored value, so the table keeps no copy of the strings. A slot is 8
// bytes (32 bits of hash as a tag, the value) to keep the table in cache.
class name_table {
 public:
  static constexpr std::uint32_t empty = 0xFFFFFFFFu;

  void reserve(std::size_t count) {
    std::size_t cap = 16;
    while (cap * 5 < count * 8) cap *= 2;  // load factor at most 5/8
    slots_.assign(cap, slot{0, empty});
    mask_ = cap - 1;
    size_ = 0;
  }

  // Inserts `value` under `name`; returns the value already there, or `empty`.
  template <class NameOf>
  std::uint32_t insert(std::string_view name, std::uint32_t value, const NameOf& name_of) {
    if ((size_ + 1) * 8 > slots_.size() * 5) grow(name_of);
    std::uint64_t h = hash_name(name);
    auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      slot& s = slots_[i];
      if (s.value == empty) {
        s = slot{tag, value};
        ++size_;
        return empty;
      }
      if (s.tag == tag && name_of(s.value) == name) return s.value;
    }
  }

  template <class NameOf>
  std::uint32_t find(std::string_view name, const NameOf& name_of) const noexcept {
    if (slots_.empty()) return empty;
    std::uint64_t h = hash_name(name);
    auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.value == empty) return empty;
      if (s.tag == tag && name_of(s.value) == name) return s.value;
    }
  }

  // Values are indices that callers may renumber (after sorting by offset).
  template <class F>
  void remap(const F& new_value) {
    for (slot& s : slots_)
      if (s.value != empty) s.value = new_value(s.value);
  }

  std::size_t size() const noexcept { return size_; }

 private:
  struct slot {
    std::uint32_t tag;
    std::uint32_t value;
  };

  // The slot keeps only a tag, so growing hashes each name again; callers
  // that know their count up front (the header index) reserve and never grow.
  template <class NameOf>
  void grow(const NameOf& name_of) {
    big_vector<slot> old = std::move(slots_);
    reserve(old.empty() ? 8 : old.size());
    for (const slot& s : old) {
      if (s.value == empty) continue;
      std::uint64_t h = hash_name(name_of(s.value));
      for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
        if (slots_[i].value == empty) {
          slots_[i] = s;
          ++size_;
          break;
        }
      }
    }
  }

  big_vector<slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
