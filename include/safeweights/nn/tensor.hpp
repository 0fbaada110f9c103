// The nn layer's n-dimensional array: a dtype, a shape and its bytes, either
// owned (64-byte aligned) or borrowed read-only from someone else's memory
// (a file's mapping: that is how loaded weights cost no copy).
//
// Copies are cheap and share the bytes until one of them is written:
// mutable_data() first gives a tensor its own bytes when they are borrowed
// or shared (copy on write), so a copy behaves as a value and a mapping is
// never written to. (Not for writing one tensor from several threads.)
#pragma once

#include "safeweights/io/platform.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "safeweights/error.hpp"
#include "safeweights/format/elements.hpp"
#include "safeweights/io/aligned_buffer.hpp"
#include "safeweights/kernels/convert.hpp"
#include "safeweights/kernels/matrix_ref.hpp"
#include "safeweights/util/checked.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

using shape_type = std::vector<std::size_t>;

namespace internal {

// One read-only mapping of zero pages, shared by every large tensor::zeros:
// reading it costs no memory (the kernel maps its zero page), and building a
// model of large zero tensors costs no system call per tensor. Grown (a new
// mapping) when a larger tensor asks; the old one lives while tensors use it.
struct zero_region {
  const std::byte* data = nullptr;
  std::size_t size = 0;
  zero_region(const zero_region&) = delete;
  zero_region& operator=(const zero_region&) = delete;
  zero_region(const std::byte* d, std::size_t n) : data(d), size(n) {}
  ~zero_region() { platform::unmap_pages(const_cast<std::byte*>(data), size); }
};

inline std::shared_ptr<const zero_region> zero_bytes(std::size_t n) {
  static std::mutex lock;
  static std::shared_ptr<const zero_region> current;
  std::lock_guard<std::mutex> guard(lock);
  if (!current || current->size < n) {
    std::size_t size = std::max<std::size_t>(n, std::size_t{256} << 20);
    void* p = platform::map_pages(size, platform::page_access::read_only);
    if (!p) return nullptr;
    current = std::make_shared<const zero_region>(static_cast<const std::byte*>(p), size);
  }
  return current;
}

}  // namespace internal

// "[2, 3]"
inline std::string shape_text(std::span<const std::size_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

class tensor {
 public:
  tensor() = default;

  // Zeros. Large ones borrow a shared read-only mapping of zero pages (no
  // memory, no system call); the first write gives them fresh zeroed memory.
  static tensor zeros(dtype type, shape_type shape) {
    tensor t;
    t.type_ = type;
    t.shape_ = std::move(shape);
    t.numel_ = checked_numel(t.shape_);
    std::uint64_t bytes = 0;
    if (byte_width(type) && safeweights::checked_mul(t.numel_, byte_width(type), bytes) &&
        bytes >= aligned_buffer::huge_threshold) {
      if (auto region = internal::zero_bytes(static_cast<std::size_t>(bytes))) {
        t.data_ = const_cast<std::byte*>(region->data);
        t.nbytes_ = static_cast<std::size_t>(bytes);
        t.owner_ = std::move(region);
        t.borrowed_ = t.zero_ = true;
        return t;
      }
    }
    t = empty(type, std::move(t.shape_));
    if (t.nbytes() < aligned_buffer::huge_threshold && t.nbytes()) std::memset(t.data_, 0, t.nbytes());
    return t;
  }

  // Owned, uninitialised memory (zero-filled when large, as above).
  static tensor empty(dtype type, shape_type shape) {
    tensor t;
    t.type_ = type;
    t.shape_ = std::move(shape);
    t.numel_ = checked_numel(t.shape_);
    std::uint64_t bytes = 0;
    if (byte_width(type) == 0 || !safeweights::checked_mul(t.numel_, byte_width(type), bytes))
      throw exception(make_error(errc::size_overflow, "tensor of shape " + shape_text(t.shape_) + " and dtype " +
                                                          std::string(dtype_name(type)) + " is too large"));
    auto buffer = std::make_shared<aligned_buffer>(static_cast<std::size_t>(bytes));
    t.data_ = buffer->data();
    t.nbytes_ = static_cast<std::size_t>(bytes);
    t.owner_ = std::move(buffer);
    return t;
  }

  // Float values copied into a new F32 tensor.
  static tensor from_floats(std::span<const float> values, shape_type shape) {
    tensor t = empty(dtype::F32, std::move(shape));
    if (t.numel() != values.size())
      throw exception(make_error(errc::invalid_argument, std::to_string(values.size()) + " values for shape " +
                                                             shape_text(t.shape())));
    if (!values.empty()) std::memcpy(t.data_, values.data(), values.size_bytes());
    return t;
  }

  // Someone else's bytes, read-only, kept alive by `owner`; `bytes` must
  // hold exactly numel x width bytes.
  static tensor borrowed(dtype type, shape_type shape, std::span<const std::byte> bytes,
                         std::shared_ptr<const void> owner) {
    tensor t;
    t.type_ = type;
    t.shape_ = std::move(shape);
    t.numel_ = checked_numel(t.shape_);
    t.data_ = const_cast<std::byte*>(bytes.data());
    t.nbytes_ = bytes.size();
    t.owner_ = std::move(owner);
    t.borrowed_ = true;
    return t;
  }

  dtype type() const noexcept { return type_; }
  const shape_type& shape() const noexcept { return shape_; }
  std::size_t rank() const noexcept { return shape_.size(); }
  std::size_t dim(std::size_t i) const noexcept { return shape_[i]; }
  std::size_t numel() const noexcept { return numel_; }
  std::size_t nbytes() const noexcept { return nbytes_; }
  bool defined() const noexcept { return owner_ != nullptr || nbytes_ != 0; }
  // True when the bytes are borrowed (e.g. a view into a file's mapping).
  bool is_borrowed() const noexcept { return borrowed_; }
  // Whether two tensors share their bytes.
  bool shares_memory_with(const tensor& o) const noexcept { return data_ && data_ == o.data_; }

  std::span<const std::byte> bytes() const noexcept { return {data_, nbytes_}; }
  const std::byte* data() const noexcept { return data_; }

  // The bytes for writing; borrowed or shared bytes are copied into owned memory first.
  std::byte* mutable_data() {
    if (borrowed_ || owner_.use_count() > 1) {
      auto buffer = std::make_shared<aligned_buffer>(nbytes_);  // large: fresh zero pages already
      if (nbytes_ && !(zero_ && nbytes_ >= aligned_buffer::huge_threshold)) std::memcpy(buffer->data(), data_, nbytes_);
      zero_ = false;
      data_ = buffer->data();
      owner_ = std::move(buffer);
      borrowed_ = false;
    }
    return data_;
  }

  // The elements of an F32 tensor.
  const float* f32() const {
    require(dtype::F32);
    return reinterpret_cast<const float*>(data_);
  }
  float* mutable_f32() {
    require(dtype::F32);
    return reinterpret_cast<float*>(mutable_data());
  }
  std::span<const float> floats() const { return {f32(), numel_}; }

  // The same bytes under another shape with as many elements.
  tensor reshaped(shape_type shape) const {
    tensor t = *this;
    t.shape_ = std::move(shape);
    t.numel_ = checked_numel(t.shape_);
    if (t.numel_ != numel_)
      throw exception(make_error(errc::invalid_argument, "cannot reshape " + shape_text(shape_) + " to " +
                                                             shape_text(t.shape_)));
    return t;
  }

  // A copy in another dtype: any converts_to_f32() dtype to F32, BF16 or F16.
  tensor to(dtype target) const {
    if (!kernels::is_compute_type(target) || !kernels::converts_to_f32(type_))
      throw exception(make_error(errc::dtype_mismatch, "cannot convert " + std::string(dtype_name(type_)) + " to " +
                                                           std::string(dtype_name(target))));
    tensor t = empty(target, shape_);
    kernels::convert(type_, data_, target, t.data_, numel_);
    return t;
  }

  // For the kernels: the elements as a vector, or (rank 2) a matrix.
  kernels::vector_ref vector() const noexcept { return {data_, type_, numel_}; }
  kernels::matrix_ref matrix() const noexcept {
    return {data_, type_, rank() >= 1 ? shape_[0] : 1, rank() >= 2 ? numel_ / (shape_[0] ? shape_[0] : 1) : numel_};
  }

 private:
  static std::size_t checked_numel(const shape_type& shape) {
    std::uint64_t n = 1;
    for (std::size_t d : shape)
      if (!safeweights::checked_mul(n, d, n))
        throw exception(make_error(errc::size_overflow, "shape " + shape_text(shape) + " overflows"));
    return static_cast<std::size_t>(n);
  }
  void require(dtype t) const {
    if (type_ != t)
      throw exception(make_error(errc::dtype_mismatch, "tensor is " + std::string(dtype_name(type_)) + ", not " +
                                                           std::string(dtype_name(t))));
  }

  dtype type_ = dtype::F32;
  shape_type shape_;
  std::size_t numel_ = 0;
  std::byte* data_ = nullptr;
  std::size_t nbytes_ = 0;
  std::shared_ptr<const void> owner_;
  bool borrowed_ = false;
  bool zero_ = false;  // borrowing internal::zero_region
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
