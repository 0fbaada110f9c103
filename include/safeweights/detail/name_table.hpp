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
  // The last 0-7 bytes, with fixed-size loads (a variable memcpy is a call).
  std::uint64_t tail = 0;
  if (n >= 4) {
    std::uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    tail = lo | (std::uint64_t{hi} << 32);
  } else if (n > 0) {
    tail = static_cast<unsigned char>(p[0]) | (std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
           (std::uint64_t{static_cast<unsigned char>(p[n - 1])} << 16);
  }
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
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(cap));
    size_ = 0;
  }

  // Inserts `value` under `name`; returns the value already there, or `empty`.
  template <class NameOf>
  std::uint32_t insert(std::string_view name, std::uint32_t value, const NameOf& name_of) {
    return insert_hashed(name, hash_name(name), value, name_of);
  }

  // For bulk inserts: hash ahead, prefetch the slot, insert later, so the
  // cache misses of a large table overlap instead of queueing.
  void prefetch(std::uint64_t h) const noexcept {
    if (!slots_.empty()) __builtin_prefetch(&slots_[home(h)]);
  }

  // Inserts values 0..n-1 (name_of(k) for each), grouped by the top bits of
  // their hash so that each group's slots sit together in cache: random
  // inserts into a table larger than the cache stall on every one. Returns a
  // value whose name repeats an earlier value's, or `empty`.
  template <class NameOf>
  std::uint32_t bulk_insert(std::uint32_t n, const NameOf& name_of) {
    reserve(n);
    big_vector<std::uint64_t> hashes(n);
    for (std::uint32_t k = 0; k < n; ++k) hashes[k] = hash_name(name_of(k));
    constexpr unsigned group_bits = 8;
    unsigned table_bits = 64 - shift_;
    unsigned bits = table_bits < group_bits ? table_bits : group_bits;
    std::uint32_t counts[(1u << group_bits) + 1] = {};
    for (std::uint64_t h : hashes) ++counts[(h >> (64 - bits)) + 1];
    for (unsigned g = 0; g < (1u << bits); ++g) counts[g + 1] += counts[g];
    struct pending {
      std::uint64_t hash;
      std::uint32_t value;
    };
    big_vector<pending> order(n);
    for (std::uint32_t k = 0; k < n; ++k) order[counts[hashes[k] >> (64 - bits)]++] = pending{hashes[k], k};
    for (const pending& p : order) {
      // Names are read only when tags collide: touching each one here would
      // be a random access into the tensor list, the very miss avoided above.
      auto tag = static_cast<std::uint32_t>(p.hash);
      for (std::size_t i = home(p.hash);; i = (i + 1) & mask_) {
        slot& s = slots_[i];
        if (s.value == empty) {
          s = slot{tag, p.value};
          ++size_;
          break;
        }
        if (s.tag == tag && name_of(s.value) == name_of(p.value)) return p.value;
      }
    }
    return empty;
  }

  template <class NameOf>
  std::uint32_t insert_hashed(std::string_view name, std::uint64_t h, std::uint32_t value, const NameOf& name_of) {
    if ((size_ + 1) * 8 > slots_.size() * 5) grow(name_of);
    auto tag = static_cast<std::uint32_t>(h);
    for (std::size_t i = home(h);; i = (i + 1) & mask_) {
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
    auto tag = static_cast<std::uint32_t>(h);
    for (std::size_t i = home(h);; i = (i + 1) & mask_) {
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
      for (std::size_t i = home(h);; i = (i + 1) & mask_) {
        if (slots_[i].value == empty) {
          slots_[i] = s;
          ++size_;
          break;
        }
      }
    }
  }

  big_vector<slot> slots_;
  // A name's first slot comes from the hash's top bits, so names sorted by
  // hash fill the table front to back (see bulk_insert).
  std::size_t home(std::uint64_t h) const noexcept { return static_cast<std::size_t>(h >> shift_); }

  std::size_t mask_ = 0;
  unsigned shift_ = 64;
  std::size_t size_ = 0;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
