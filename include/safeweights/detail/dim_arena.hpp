// Storage for every tensor's dimensions, in blocks that never move once
// allocated: a shape can point into it while the header is still being read,
// so no second pass fixes pointers up.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "safeweights/detail/big_allocator.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

class dim_arena {
 public:
  dim_arena() = default;
  // `block_dims`: dims per block; one block should hold a typical header.
  explicit dim_arena(std::size_t block_dims) : block_dims_(block_dims < 64 ? 64 : block_dims) {}
  dim_arena(dim_arena&& other) noexcept { swap(other); }
  dim_arena& operator=(dim_arena&& other) noexcept {
    dim_arena gone(std::move(*this));
    swap(other);
    return *this;
  }
  dim_arena(const dim_arena&) = delete;
  dim_arena& operator=(const dim_arena&) = delete;
  ~dim_arena() {
    for (const block& b : blocks_) free_big(b.data, b.dims * sizeof(std::uint64_t), alignof(std::uint64_t));
  }

  // Starts a shape; its dims follow with push().
  void begin_shape() noexcept { run_ = cur_; }

  // Appends a dim to the shape begun last and returns where that shape now
  // starts: a shape that fills its block moves whole into a new one.
  std::uint64_t* push(std::uint64_t d) {
    if (cur_ == end_) spill();
    *cur_++ = d;
    return run_;
  }

  // Where the shape begun last starts (valid for a rank-0 shape too).
  const std::uint64_t* shape_start() const noexcept { return run_; }

 private:
  struct block {
    std::uint64_t* data;
    std::size_t dims;
  };

  void spill() {
    std::size_t rank = static_cast<std::size_t>(cur_ - run_);
    std::size_t dims = block_dims_ > 2 * rank ? block_dims_ : 2 * rank;
    blocks_.reserve(blocks_.size() + 1);  // so the push below cannot throw and leak
    auto* data = static_cast<std::uint64_t*>(allocate_big(dims * sizeof(std::uint64_t), alignof(std::uint64_t)));
    if (rank) std::memcpy(data, run_, rank * sizeof(std::uint64_t));
    blocks_.push_back(block{data, dims});
    run_ = data;
    cur_ = data + rank;
    end_ = data + dims;
  }

  void swap(dim_arena& o) noexcept {
    std::swap(blocks_, o.blocks_);
    std::swap(block_dims_, o.block_dims_);
    std::swap(run_, o.run_);
    std::swap(cur_, o.cur_);
    std::swap(end_, o.end_);
  }

  std::vector<block> blocks_;
  std::size_t block_dims_ = 64;
  std::uint64_t* run_ = nullptr;
  std::uint64_t* cur_ = nullptr;
  std::uint64_t* end_ = nullptr;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
