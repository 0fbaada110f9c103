// Sizes on the command line, read as Hugging Face reads `max_shard_size`:
// huggingface_hub's parse_size_to_int takes a number (fractions allowed)
// followed by KB, MB, GB or TB in any case, powers of 1000 ("5GB" is
// 5,000,000,000 bytes, "1.5GB" 1,500,000,000, the product truncated); the
// binary units KiB, MiB, GiB and TiB of transformers' older parser are
// accepted too, and a bare integer is a byte count (as an `int` is to HF).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace safeweights_cli {

inline std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;

  auto upper = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; };
  auto ends_with = [&](std::string_view unit) {
    if (text.size() < unit.size()) return false;
    for (std::size_t i = 0; i < unit.size(); ++i)
      if (upper(text[text.size() - unit.size() + i]) != unit[i]) return false;
    return true;
  };
  struct unit {
    std::string_view name;
    double multiplier;
  };
  static constexpr unit units[] = {{"KIB", 0x1p10}, {"MIB", 0x1p20}, {"GIB", 0x1p30}, {"TIB", 0x1p40},
                                   {"KB", 1e3},     {"MB", 1e6},     {"GB", 1e9},     {"TB", 1e12}};
  for (const unit& u : units) {
    if (!ends_with(u.name)) continue;
    std::string_view number = text.substr(0, text.size() - u.name.size());
    while (!number.empty() && is_space(number.back())) number.remove_suffix(1);
    double value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size() || !std::isfinite(value))
      return std::nullopt;
    double bytes = std::trunc(value * u.multiplier);
    if (bytes < 1 || bytes >= 0x1p64) return std::nullopt;
    return static_cast<std::uint64_t>(bytes);
  }
  std::uint64_t bytes = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bytes);
  if (ec != std::errc() || end != text.data() + text.size() || bytes == 0) return std::nullopt;
  return bytes;
}

// "497.8 MB": a byte count for people, in powers of 1000 like the sizes above.
inline std::string human_size(std::uint64_t bytes) {
  static constexpr std::string_view units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double v = static_cast<double>(bytes);
  std::size_t u = 0;
  while (v >= 1000 && u + 1 < std::size(units)) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  auto r = u == 0 ? std::to_chars(buf, buf + sizeof buf, bytes)
                  : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 1);
  return std::string(buf, r.ptr) + " " + std::string(units[u]);
}

}  // namespace safeweights_cli
