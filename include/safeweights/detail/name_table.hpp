// An open-addressing hash table from a name to its index: one allocation for
// the whole header, no node per entry, O(1) lookup, duplicates detected on insert.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "safeweights/detail/big_allocator.hpp"
#include "safeweights/detail/name_hash.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

// Maps a name to a 32-bit value. `names(value)` must give back the name for
// a stored value, so the table keeps no copy of the strings. A slot is 8
// bytes (32 bits of hash as a tag, the value plus one) to keep the table in
// cache; an all-zero slot is empty, so a large table starts as untouched
// zero pages and costs only the pages that inserts reach.
class name_table {
 public:
  static constexpr std::uint32_t empty = 0xFFFFFFFFu;

  name_table() = default;
  name_table(name_table&& other) noexcept { swap(other); }
  name_table& operator=(name_table&& other) noexcept {
    name_table gone(std::move(*this));
    swap(other);
    return *this;
  }
  name_table(const name_table&) = delete;
  name_table& operator=(const name_table&) = delete;
  ~name_table() { release(); }

  // Room for `count` names without growing (load factor at most 5/8).
  void reserve(std::size_t count) {
    std::size_t cap = 16;
    while (cap * 5 < count * 8) cap *= 2;
    release();
    slots_ = static_cast<slot*>(allocate_big_zeroed(cap * sizeof(slot), alignof(slot)));
    capacity_ = cap;
    mask_ = cap - 1;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(cap));
    size_ = 0;
  }

  // Inserts `value` under `name`; returns the value already there, or `empty`.
  template <class NameOf>
  std::uint32_t insert(std::string_view name, std::uint32_t value, const NameOf& name_of) {
    return insert_hashed(name, hash_name(name), value, name_of);
  }

  // For bulk inserts: hash ahead and prefetch the slot, insert a few names
  // later, so that the cache misses of a table larger than the cache
  // overlap instead of queueing.
  // (GCC 12 dropped the __builtin_prefetch here once the caller was inlined
  // with this call under a branch, so on x86-64 the instruction is written
  // out. A read prefetch, as baseline x86-64 has no prefetchw; a null one is
  // harmless.)
  void prefetch(std::uint64_t h) const noexcept {
    const slot* s = capacity_ != 0 ? slots_ + home(h) : slots_;
#if defined(__x86_64__)
    asm volatile("prefetcht0 %0" : : "m"(*reinterpret_cast<const char*>(s)));
#else
    __builtin_prefetch(s);
#endif
  }

  // insert() with the name's hash_name() already known.
  template <class NameOf>
  std::uint32_t insert_hashed(std::string_view name, std::uint64_t h, std::uint32_t value, const NameOf& name_of) {
    if ((size_ + 1) * 8 > capacity_ * 5) grow(name_of);
    auto tag = static_cast<std::uint32_t>(h);
    for (std::size_t i = home(h);; i = (i + 1) & mask_) {
      slot& s = slots_[i];
      if (s.stored == 0) {
        s = slot{tag, value + 1};
        ++size_;
        return empty;
      }
      if (s.tag == tag && name_of(s.stored - 1) == name) return s.stored - 1;
    }
  }

  template <class NameOf>
  std::uint32_t find(std::string_view name, const NameOf& name_of) const noexcept {
    if (capacity_ == 0) return empty;
    std::uint64_t h = hash_name(name);
    auto tag = static_cast<std::uint32_t>(h);
    for (std::size_t i = home(h);; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.stored == 0) return empty;
      if (s.tag == tag && name_of(s.stored - 1) == name) return s.stored - 1;
    }
  }

  // Values are indices that callers may renumber (after sorting by offset).
  template <class F>
  void remap(const F& new_value) {
    for (std::size_t i = 0; i < capacity_; ++i)
      if (slots_[i].stored != 0) slots_[i].stored = new_value(slots_[i].stored - 1) + 1;
  }

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct slot {
    std::uint32_t tag;
    std::uint32_t stored;  // value + 1; 0 marks an empty slot
  };

  void swap(name_table& o) noexcept {
    std::swap(slots_, o.slots_);
    std::swap(capacity_, o.capacity_);
    std::swap(mask_, o.mask_);
    std::swap(shift_, o.shift_);
    std::swap(size_, o.size_);
  }
  void release() noexcept {
    free_big(slots_, capacity_ * sizeof(slot), alignof(slot));
    slots_ = nullptr;
    capacity_ = 0;
  }

  // The slot keeps only a tag, so growing hashes each name again; callers
  // that know their count up front reserve and never grow.
  template <class NameOf>
  void grow(const NameOf& name_of) {
    name_table old(std::move(*this));
    reserve(old.capacity_ == 0 ? 8 : old.capacity_);
    for (std::size_t k = 0; k < old.capacity_; ++k) {
      const slot& s = old.slots_[k];
      if (s.stored == 0) continue;
      std::uint64_t h = hash_name(name_of(s.stored - 1));
      for (std::size_t i = home(h);; i = (i + 1) & mask_) {
        if (slots_[i].stored == 0) {
          slots_[i] = s;
          ++size_;
          break;
        }
      }
    }
  }

  // A name's first slot comes from the hash's top bits.
  std::size_t home(std::uint64_t h) const noexcept { return static_cast<std::size_t>(h >> shift_); }

  slot* slots_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t mask_ = 0;
  unsigned shift_ = 64;
  std::size_t size_ = 0;
};

// Inserts names 0, 1, 2... as they arrive, for a table sized up front. In a
// table larger than `EagerUpToSlots` slots (larger than the cache) each name
// enters `Lag` names after it arrived, its slot prefetched on arrival, so the
// cache misses of random inserts overlap instead of queueing; a smaller table
// takes each name at once. `name_of(k)` gives back the k-th name.
template <std::uint32_t Lag, std::size_t EagerUpToSlots>
class lagged_inserter {
 public:
  template <class NameOf>
  [[gnu::always_inline]] void add(name_table& table, std::string_view name, std::uint32_t k, const NameOf& name_of) {
    std::uint64_t h = hash_name(name);
    if (table.capacity() <= EagerUpToSlots) {
      insert(table, name, h, k, name_of);
      inserted_ = k + 1;
      return;
    }
    if (k - inserted_ == Lag) insert_next(table, name_of);
    table.prefetch(h);
    hashes_[k % Lag] = h;
  }
  // Inserts the names still waiting, up to `count`; after this first_repeat() is final.
  template <class NameOf>
  void flush(name_table& table, std::uint32_t count, const NameOf& name_of) {
    while (inserted_ < count) insert_next(table, name_of);
  }
  // The first name, in arrival order, that repeats an earlier one; name_table::empty if none so far.
  std::uint32_t first_repeat() const noexcept { return repeat_; }

 private:
  template <class NameOf>
  void insert_next(name_table& table, const NameOf& name_of) {
    std::uint32_t k = inserted_++;
    insert(table, name_of(k), hashes_[k % Lag], k, name_of);
  }
  template <class NameOf>
  void insert(name_table& table, std::string_view name, std::uint64_t h, std::uint32_t k, const NameOf& name_of) {
    if (table.insert_hashed(name, h, k, name_of) != name_table::empty && repeat_ == name_table::empty) repeat_ = k;
  }

  std::uint64_t hashes_[Lag] = {};
  std::uint32_t inserted_ = 0;
  std::uint32_t repeat_ = name_table::empty;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
