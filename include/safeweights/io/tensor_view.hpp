// One tensor's bytes, handed out without copying.
//
// Lifetimes, all of them:
// - A tensor_view keeps alive whatever holds its bytes and its tensor_info
//   (the reader's mapping and header, a pread buffer, a slice's own copy), so
//   a view may outlive the reader that made it.
// - What a view hands out by reference (bytes(), as<T>(), name(), shape(),
//   info()) lives as long as that view. In io_mode::pread, and for slices,
//   the view is the only owner: a span taken from a temporary view would
//   dangle at the end of the statement. So on a temporary (an rvalue view)
//   those members are deleted, except as<T>(), which then returns an owning
//   typed_tensor<T> (still zero-copy): `auto w = r.tensor("w").value().as<float>().value();`
//   is safe in every mode, and `std::span<const float> w = <the same>;` does not compile.
// - A typed_tensor<T> keeps its elements alive; its span()/data() live as
//   long as it does, and are deleted on a temporary for the same reason.
// - result<tensor_view>'s `->` is deleted on a temporary result, which is
//   where `r.tensor("w")->as<float>()` would have left a dangling span.
#pragma once

#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "safeweights/format/byte_order.hpp"
#include "safeweights/format/elements.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/format/tensor_info.hpp"
#include "safeweights/io/aligned_buffer.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

template <class T>
class typed_tensor;
class tensor_view;
// Declared before the classes, whose own members already name their results.
namespace detail {
template <class T>
inline constexpr bool hands_out_views<typed_tensor<T>> = true;
template <>
inline constexpr bool hands_out_views<tensor_view> = true;
}  // namespace detail

// Elements of T, either viewed in place or, when the bytes are not aligned
// for T, copied into aligned memory this object owns. Never a misaligned T*.
template <class T>
class typed_tensor {
 public:
  typed_tensor() = default;
  typed_tensor(std::span<const T> data, std::shared_ptr<const void> keep, bool copied)
      : data_(data), keep_(std::move(keep)), copied_(copied) {}
  // The elements, and whether they are an aligned copy rather than the file's bytes.
  std::span<const T> span() const& noexcept { return data_; }
  const T* data() const& noexcept { return data_.data(); }
  operator std::span<const T>() const& noexcept { return data_; }
  const T* begin() const& noexcept { return data_.data(); }
  const T* end() const& noexcept { return data_.data() + data_.size(); }
  std::size_t size() const noexcept { return data_.size(); }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  bool is_copy() const noexcept { return copied_; }

  // A span or pointer of a temporary typed_tensor would dangle once it dies
  // (it may be the elements' only owner): keep the typed_tensor in a variable.
  std::span<const T> span() && = delete;
  const T* data() && = delete;
  operator std::span<const T>() && = delete;
  const T* begin() && = delete;
  const T* end() && = delete;

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
  // Bytes in `order`: std::endian::little for the file's own bytes (every
  // view but those of an eager load() on a big-endian host, which are swapped
  // to host order there).
  tensor_view(const tensor_info* info, std::span<const std::byte> bytes, std::shared_ptr<const void> keep,
              std::endian order)
      : info_(info), bytes_(bytes), keep_(std::move(keep)), host_order_(order == std::endian::native) {}

  // What the header says about the tensor, and its raw bytes: the file's
  // little-endian bytes, except in an eager load() on a big-endian host,
  // which holds host-order values (byte_order() says which).
  const tensor_info& info() const& noexcept { return *info_; }
  std::string_view name() const& noexcept { return info_->name; }
  dtype type() const noexcept { return info_->type; }
  std::span<const std::uint64_t> shape() const& noexcept { return info_->shape; }
  std::uint64_t elements() const noexcept { return info_->elements; }
  std::span<const std::byte> bytes() const& noexcept { return bytes_; }
  // The byte order of bytes()' multi-byte elements: little on every
  // little-endian host; big only for an eager load() on a big-endian host.
  std::endian byte_order() const noexcept {
    if constexpr (host_is_big_endian) return host_order_ ? std::endian::big : std::endian::little;
    return std::endian::little;
  }

  // On a temporary view these would dangle once it dies (it may own the
  // bytes, and a slice's shape, alone): keep the view in a variable, or use
  // as<T>(), which on a temporary returns an owning typed_tensor.
  const tensor_info& info() && = delete;
  std::string_view name() && = delete;
  std::span<const std::uint64_t> shape() && = delete;
  std::span<const std::byte> bytes() && = delete;

  // Zero-copy typed view: fails with dtype_mismatch, or misaligned_view when
  // the bytes are not aligned for T (use typed() to get a copy instead), or,
  // on a big-endian host, byte_order for a multi-byte T over the file's
  // little-endian bytes (typed() swaps into a copy; load() into its memory). As
  // bool, every byte is checked first: one that is not 0 or 1 is not a bool
  // value in C++ (reading it is undefined), so it fails with invalid_bool;
  // bytes() still gives the raw values.
  template <class T>
  result<std::span<const T>> as() const& {
    if (auto e = check_view<T>(); e.code != errc::ok) return e;
    return std::span<const T>(reinterpret_cast<const T*>(bytes_.data()), bytes_.size() / sizeof(T));
  }

  // The same on a temporary view: the elements with what keeps them alive
  // (no copy), since a bare span would outlive them.
  template <class T>
  result<typed_tensor<T>> as() && {
    if (auto e = check_view<T>(); e.code != errc::ok) return e;
    return typed_tensor<T>({reinterpret_cast<const T*>(bytes_.data()), bytes_.size() / sizeof(T)}, std::move(keep_),
                           false);
  }

  // Typed elements in host byte order: a view when aligned (and, on a
  // big-endian host, already in host order), otherwise an aligned copy, swapped
  // on a big-endian host.
  template <class T>
  result<typed_tensor<T>> typed() const {
    if (auto e = check_type<T>(); e.code != errc::ok) return e;
    std::size_t n = bytes_.size() / sizeof(T);
    const bool swap = needs_swap_to_host();
    if (!swap && reinterpret_cast<std::uintptr_t>(bytes_.data()) % alignof(T) == 0)
      return typed_tensor<T>({reinterpret_cast<const T*>(bytes_.data()), n}, keep_, false);
    auto copy = std::make_shared<aligned_buffer>(bytes_.size());
    if (!bytes_.empty()) std::memcpy(copy->data(), bytes_.data(), bytes_.size());
    if (swap) swap_elements(type(), {copy->data(), bytes_.size()});
    const T* p = reinterpret_cast<const T*>(copy->data());
    return typed_tensor<T>({p, n}, std::move(copy), true);
  }

  // The elements as float from any float dtype a float can hold: F32, F16,
  // BF16 and the F8 encodings exactly, F64 rounded to nearest. A copy, in
  // any mode; fails with dtype_mismatch for integers, BOOL, C64, F4 and F6.
  result<std::vector<float>> to_floats() const {
    const dtype t = type();
    const bool convertible = is_float_type(t) && t != dtype::C64 && byte_width(t) != 0;
    if (!convertible)
      return make_error(errc::dtype_mismatch, "tensor " + quote_name(info_->name) + " is " +
                                                  std::string(dtype_name(t)) +
                                                  ", not a float type to_floats() converts (F64, F32, F16, BF16, F8_*)");
    std::vector<float> out(static_cast<std::size_t>(info_->elements));
    const std::byte* p = bytes_.data();
    const bool swap = needs_swap_to_host();
    auto each = [&]<class Bits>(Bits, auto convert) {
      for (std::size_t i = 0; i < out.size(); ++i) {
        Bits v;
        std::memcpy(&v, p + i * sizeof(Bits), sizeof(Bits));
        if (swap) v = detail::swap_value(v);
        out[i] = convert(v);
      }
    };
    switch (t) {
      case dtype::F32:
        if (!out.empty()) std::memcpy(out.data(), p, out.size() * sizeof(float));
        if (swap) swap_elements(t, std::as_writable_bytes(std::span(out)));
        break;
      case dtype::F64: each(double{}, [](double v) { return static_cast<float>(v); }); break;
      case dtype::F16: each(std::uint16_t{}, f16_to_float); break;
      case dtype::BF16: each(std::uint16_t{}, bf16_to_float); break;
      default: each(std::uint8_t{}, [t](std::uint8_t v) { return f8_to_float(t, v); }); break;
    }
    return out;
  }

 private:
  // Whether bytes() must be swapped for host values: never on a little-endian host.
  bool needs_swap_to_host() const noexcept {
    if constexpr (host_is_big_endian) return !host_order_ && needs_swap(type());
    return false;
  }

  template <class T>
  error check_view() const {
    if (auto e = check_type<T>(); e.code != errc::ok) return e;
    if (needs_swap_to_host())
      return make_error(errc::byte_order, "tensor " + quote_name(info_->name) + ": " +
                                              std::string(dtype_name(type())) +
                                              " is little-endian on disk; this host is big-endian: use typed<T>() for "
                                              "a swapped copy (or load(), which swaps into its own memory)");
    if (reinterpret_cast<std::uintptr_t>(bytes_.data()) % alignof(T) != 0)
      return make_error(errc::misaligned_view, "tensor " + quote_name(info_->name) +
                                                   ": data is not aligned for " + std::string(dtype_name(type())) +
                                                   "; use typed() for a copy");
    return {};
  }

  template <class T>
  error check_type() const {
    if (dtype_of_v<T> != type())
      return make_error(errc::dtype_mismatch, "tensor " + quote_name(info_->name) + " is " +
                                                  std::string(dtype_name(type())) + ", not " +
                                                  std::string(dtype_name(dtype_of_v<T>)));
    if constexpr (std::is_same_v<T, bool>) return check_bool_bytes();
    return {};
  }

  error check_bool_bytes() const {
    for (std::size_t i = 0; i < bytes_.size(); ++i) {
      auto b = std::to_integer<unsigned>(bytes_[i]);
      if (b > 1)
        return make_error(errc::invalid_bool, "tensor " + quote_name(info_->name) + ": BOOL element " +
                                                  std::to_string(i) + " is the byte " + std::to_string(b) +
                                                  ", not 0 or 1 (bytes() gives the raw values)");
    }
    return {};
  }

  const tensor_info* info_ = nullptr;
  std::span<const std::byte> bytes_;
  std::shared_ptr<const void> keep_;
  // Whether bytes_ are already in host order (an eager load on a big-endian
  // host); on a little-endian host an empty member taking no room.
  struct no_flag {
    constexpr no_flag() noexcept = default;
    constexpr no_flag(bool) noexcept {}
    constexpr explicit operator bool() const noexcept { return false; }
  };
  [[no_unique_address]] std::conditional_t<host_is_big_endian, bool, no_flag> host_order_{};
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
