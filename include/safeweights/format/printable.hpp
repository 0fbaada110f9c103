// One function makes text from a file safe to show: tensor names, metadata,
// shard names and paths in messages and tables. A hostile name can neither
// send terminal escape sequences, break a line, nor reorder or hide what is
// shown, and two different names never print alike.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 when it is not
// well-formed (overlong, surrogate, past U+10FFFF, truncated).
inline std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  std::size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  if (n == 1) {
    cp = c;
    return 1;
  }
  char32_t v = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(i + k) & 0x3F);
  }
  static constexpr char32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < min_for_length[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  cp = v;
  return n;
}

namespace detail {

// Characters that are printable but invisible, or reorder the text around them.
inline bool is_invisible_format(char32_t cp) {
  return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2069) ||
         cp == 0xFEFF || cp == 0x00AD || cp == 0x061C;
}

}  // namespace detail

// Text made safe for one terminal line: control characters (C0, DEL, C1),
// backslashes, invisible format characters (zero-width and bidirectional
// controls, U+2028/2029, BOM, soft hyphen) and bytes that are not UTF-8 are
// escaped, so a hostile name can neither break a line nor reorder or hide
// what is shown, and two different names never print alike.
inline std::string printable(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    std::size_t n = decode_utf8(s, i, cp);
    if (n == 0) {  // not UTF-8: the raw byte
      auto c = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
      i += 1;
      continue;
    }
    if (cp == '\\') {
      out += "\\\\";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      out += "\\x";
      out += hex[cp >> 4];
      out += hex[cp & 15];
    } else if ((cp >= 0x80 && cp <= 0x9F) || detail::is_invisible_format(cp)) {
      out += "\\u{";
      for (int shift = 12; shift >= 0; shift -= 4) out += hex[(cp >> shift) & 15];
      out += '}';
    } else {
      out.append(s.data() + i, n);
    }
    i += n;
  }
  return out;
}

// A name from a file as messages show it: printable, cut after 200 bytes, in
// backquotes, so an empty or blank name is still seen.
inline std::string quote_name(std::string_view name) {
  std::string out = "`";
  out += printable(name.substr(0, 200));
  if (name.size() > 200) out += "...";
  out += '`';
  return out;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
