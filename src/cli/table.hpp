// Output helpers shared by the commands that print numbers: aligned text
// tables (names may be wide or escaped) and JSON numbers.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "command.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights_cli {

// Rows of cells, the first row the heading; the first column is a name
// (already printable()), the others ASCII. Columns are padded to their
// widest cell, those marked in `right` right-aligned.
inline std::string format_table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
  if (rows.empty()) return {};
  const std::size_t columns = rows[0].size();
  std::vector<std::size_t> width(columns, 0);
  auto cell_width = [](std::size_t c, const std::string& s) { return c == 0 ? display_width(s) : s.size(); };
  for (const auto& row : rows)
    for (std::size_t c = 0; c < columns; ++c) width[c] = std::max(width[c], cell_width(c, row[c]));
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < columns; ++c) {
      std::size_t pad = width[c] - cell_width(c, row[c]);
      if (c) out += "  ";
      if (right[c]) out.append(pad, ' ');
      out += row[c];
      if (!right[c] && c + 1 < columns) out.append(pad, ' ');
    }
    out += '\n';
  }
  return out;
}

inline std::string uint_text(std::uint64_t v) {
  std::string s;
  safeweights::append_uint(s, v);
  return s;
}

// A number for people: 6 significant digits ("0.0123457", "1.5e+20", "inf", "nan").
inline std::string number_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 6);
  return std::string(buf, r.ptr);
}

// A JSON number: the shortest text that reads back as exactly `v`; null
// when `v` is not finite (JSON has no infinity or NaN).
inline void append_json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

inline std::string shape_text(std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k) s += ", ";
    safeweights::append_uint(s, shape[k]);
  }
  return s + "]";
}

inline void append_json_shape(std::string& out, std::span<const std::uint64_t> shape) { out += shape_text(shape); }

}  // namespace safeweights_cli
