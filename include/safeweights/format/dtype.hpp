// The element types of the format, their names and bit widths.
//
// The enumerators are declared in the reference implementation's order: the
// canonical writer sorts tensors by this rank, descending, so the order is
// part of the file format, not a matter of taste.
#pragma once

#include <array>
#include <complex>
#include <cstdint>
#include <optional>
#include <string_view>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

enum class dtype : std::uint8_t {
  BOOL,
  F4,
  F6_E2M3,
  F6_E3M2,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  F8_E8M0,
  F8_E4M3FNUZ,
  F8_E5M2FNUZ,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  C64,
  F64,
  I64,
  U64,
};

inline constexpr std::size_t dtype_count = static_cast<std::size_t>(dtype::U64) + 1;

struct dtype_traits {
  std::string_view name;
  unsigned bits;  // bits per element; 4 and 6 for the sub-byte float types
};

inline constexpr std::array<dtype_traits, dtype_count> dtype_table = {{
    {"BOOL", 8},        {"F4", 4},           {"F6_E2M3", 6},     {"F6_E3M2", 6},
    {"U8", 8},          {"I8", 8},           {"F8_E5M2", 8},     {"F8_E4M3", 8},
    {"F8_E8M0", 8},     {"F8_E4M3FNUZ", 8},  {"F8_E5M2FNUZ", 8}, {"I16", 16},
    {"U16", 16},        {"F16", 16},         {"BF16", 16},       {"I32", 32},
    {"U32", 32},        {"F32", 32},         {"C64", 64},        {"F64", 64},
    {"I64", 64},        {"U64", 64},
}};

// The name a header spells the dtype with ("F32").
constexpr std::string_view dtype_name(dtype t) noexcept {
  return dtype_table[static_cast<std::size_t>(t)].name;
}

// Bits per element: 8 to 64, 4 for F4, 6 for F6_*.
constexpr unsigned bit_width(dtype t) noexcept { return dtype_table[static_cast<std::size_t>(t)].bits; }

// Bytes per element, or 0 for the sub-byte types (F4, F6_*).
constexpr unsigned byte_width(dtype t) noexcept { return bit_width(t) % 8 == 0 ? bit_width(t) / 8 : 0; }

// The writer's sort key: higher rank is written first.
constexpr unsigned rank_of(dtype t) noexcept { return static_cast<unsigned>(t); }

// Exact, case-sensitive: "f32" is not a dtype.
constexpr std::optional<dtype> parse_dtype(std::string_view name) noexcept {
  for (std::size_t i = 0; i < dtype_count; ++i)
    if (dtype_table[i].name == name) return static_cast<dtype>(i);
  return std::nullopt;
}

// The dtype whose elements a C++ type holds, for typed views and the
// writer. Types with no C++ counterpart (F16, BF16, F8_*, F4, F6_*) are read
// with tensor_view::to_floats() or as bytes, and written from floats with
// writer::add(name, dtype::BF16, shape, floats).
namespace detail {
template <class T>
inline constexpr bool always_false_v = false;
}  // namespace detail
template <class T>
struct dtype_of {
  static_assert(detail::always_false_v<T>,
                "safeweights: no dtype holds this element type. The element types are bool, std::int8_t, "
                "std::uint8_t, std::int16_t, std::uint16_t, std::int32_t, std::uint32_t, std::int64_t, "
                "std::uint64_t, float, double and std::complex<float> (long long and unsigned long long are "
                "not std::int64_t and std::uint64_t on Linux: use the fixed-width types). For BF16 and F16 "
                "values use floats: tensor_view::to_floats(), writer::add(name, dtype::BF16, shape, floats).");
};
template <> struct dtype_of<bool> { static constexpr dtype value = dtype::BOOL; };
template <> struct dtype_of<std::uint8_t> { static constexpr dtype value = dtype::U8; };
template <> struct dtype_of<std::int8_t> { static constexpr dtype value = dtype::I8; };
template <> struct dtype_of<std::int16_t> { static constexpr dtype value = dtype::I16; };
template <> struct dtype_of<std::uint16_t> { static constexpr dtype value = dtype::U16; };
template <> struct dtype_of<std::int32_t> { static constexpr dtype value = dtype::I32; };
template <> struct dtype_of<std::uint32_t> { static constexpr dtype value = dtype::U32; };
template <> struct dtype_of<float> { static constexpr dtype value = dtype::F32; };
template <> struct dtype_of<std::complex<float>> { static constexpr dtype value = dtype::C64; };
template <> struct dtype_of<double> { static constexpr dtype value = dtype::F64; };
template <> struct dtype_of<std::int64_t> { static constexpr dtype value = dtype::I64; };
template <> struct dtype_of<std::uint64_t> { static constexpr dtype value = dtype::U64; };

template <class T>
inline constexpr dtype dtype_of_v = dtype_of<T>::value;

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
