// One tensor's bytes, handed out without copying. A view keeps alive whatever
// holds its bytes (the mapping, or an owned buffer), so it may outlive the
// reader that made it.
#pragma once

#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <type_traits>

#include "safeweights/detail/header_builder.hpp"
#include "safeweights/format/tensor_info.hpp"
#include "safeweights/io/aligned_buffer.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// Elements of T, either viewed in place or, when the bytes are not aligned
// for T, copied into aligned memory this object owns. Never a misaligned T*.
template <class T>
class typed_tensor {
 public:
  typed_tensor() = default;
  typed_tensor(std::span<const T> data, std::shared_ptr<const void> keep, bool copied)
      : data_(data), keep_(std::move(keep)), copied_(copied) {}
  // The elements, and whether they are an aligned copy rather than the file's bytes.
  std::span<const T> span() const noexcept { return data_; }
  const T* data() const noexcept { return data_.data(); }
  std::size_t size() const noexcept { return data_.size(); }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  bool is_copy() const noexcept { return copied_; }

 private:
  std::span<const T> data_;
  std::shared_ptr<const void> keep_;
  bool copied_ = false;
};

class tensor_view {
 public:
  tensor_view() = default;
  tensor_view(const tensor_info* info, std::span<const std::byte> bytes, std::shared_ptr<const void> keep)
      : info_(info), bytes_(bytes), keep_(std::move(keep)) {}

  // What the header says about the tensor, and its raw little-endian bytes.
  const tensor_info& info() const noexcept { return *info_; }
  std::string_view name() const noexcept { return info_->name; }
  dtype type() const noexcept { return info_->type; }
  std::span<const std::uint64_t> shape() const noexcept { return info_->shape; }
  std::uint64_t elements() const noexcept { return info_->elements; }
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

  // Zero-copy typed view: fails with dtype_mismatch, or misaligned_view when
  // the bytes are not aligned for T (use typed() to get a copy instead). As
  // bool, every byte is checked first: one that is not 0 or 1 is not a bool
  // value in C++ (reading it is undefined), so it fails with invalid_bool;
  // bytes() still gives the raw values.
  template <class T>
  result<std::span<const T>> as() const {
    if (auto e = check_type<T>(); e.code != errc::ok) return e;
    if (reinterpret_cast<std::uintptr_t>(bytes_.data()) % alignof(T) != 0)
      return make_error(errc::misaligned_view, "tensor " + detail::quote_name(name()) + ": data is not aligned for " +
                                                   std::string(dtype_name(type())) + "; use typed() for a copy");
    return std::span<const T>(reinterpret_cast<const T*>(bytes_.data()), bytes_.size() / sizeof(T));
  }

  // Typed elements: a view when aligned, otherwise an aligned copy.
  template <class T>
  result<typed_tensor<T>> typed() const {
    if (auto e = check_type<T>(); e.code != errc::ok) return e;
    std::size_t n = bytes_.size() / sizeof(T);
    if (reinterpret_cast<std::uintptr_t>(bytes_.data()) % alignof(T) == 0)
      return typed_tensor<T>({reinterpret_cast<const T*>(bytes_.data()), n}, keep_, false);
    auto copy = std::make_shared<aligned_buffer>(bytes_.size());
    if (!bytes_.empty()) std::memcpy(copy->data(), bytes_.data(), bytes_.size());
    const T* p = reinterpret_cast<const T*>(copy->data());
    return typed_tensor<T>({p, n}, std::move(copy), true);
  }

 private:
  template <class T>
  error check_type() const {
    if (dtype_of_v<T> != type())
      return make_error(errc::dtype_mismatch, "tensor " + detail::quote_name(name()) + " is " +
                                                  std::string(dtype_name(type())) + ", not " +
                                                  std::string(dtype_name(dtype_of_v<T>)));
    if constexpr (std::is_same_v<T, bool>) return check_bool_bytes();
    return {};
  }

  error check_bool_bytes() const {
    for (std::size_t i = 0; i < bytes_.size(); ++i) {
      auto b = std::to_integer<unsigned>(bytes_[i]);
      if (b > 1)
        return make_error(errc::invalid_bool, "tensor " + detail::quote_name(name()) + ": BOOL element " +
                                                  std::to_string(i) + " is the byte " + std::to_string(b) +
                                                  ", not 0 or 1 (bytes() gives the raw values)");
    }
    return {};
  }

  const tensor_info* info_ = nullptr;
  std::span<const std::byte> bytes_;
  std::shared_ptr<const void> keep_;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
