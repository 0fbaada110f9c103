// Hugging Face's sharded-checkpoint index, `model.safetensors.index.json`:
//   {"metadata": {"total_parameters": N, "total_size": BYTES},
//    "weight_map": {"tensor name": "model-00001-of-00002.safetensors", ...}}
// written byte for byte as transformers writes it (Python's
// json.dumps(index, indent=2, sort_keys=True) + "\n", so non-ASCII is
// escaped as \uXXXX), and read back with simdjson.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "command.hpp"
#include "safeweights/error.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/io/file_handle.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights_cli {

inline constexpr std::string_view index_file_name = "model.safetensors.index.json";

// The shard file name HF gives shard `k` (from 1) of `n`.
inline std::string shard_file_name(std::size_t k, std::size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", k, n);
  return buf;
}

// A string as Python's json.dumps writes it with ensure_ascii (the default):
// `"` and `\` escaped, \b \f \n \r \t, every other character outside
// ' '..'~' as \uXXXX in lowercase hex (DEL too), astral ones as surrogate pairs.
inline void append_python_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  auto u_escape = [&](unsigned v) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += hex[(v >> shift) & 15];
  };
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    std::size_t n = decode_utf8(s, i, cp);
    if (n == 0) {  // not UTF-8 (a validated header never has this): the byte
      u_escape(static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    i += n;
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (cp >= 0x20 && cp <= 0x7e) {
      out += static_cast<char>(cp);
    } else if (cp <= 0xffff) {
      u_escape(static_cast<unsigned>(cp));
    } else {
      char32_t v = cp - 0x10000;
      u_escape(0xd800 + static_cast<unsigned>(v >> 10));
      u_escape(0xdc00 + static_cast<unsigned>(v & 0x3ff));
    }
  }
  out += '"';
}

// The index text; `weight_map` pairs (tensor name, shard file) in any order.
inline std::string hf_index_json(std::uint64_t total_parameters, std::uint64_t total_size,
                                 std::vector<std::pair<std::string_view, std::string_view>> weight_map) {
  std::sort(weight_map.begin(), weight_map.end());  // bytewise UTF-8 order is code point order, as Python sorts
  std::string out = "{\n  \"metadata\": {\n    \"total_parameters\": ";
  safeweights::append_uint(out, total_parameters);
  out += ",\n    \"total_size\": ";
  safeweights::append_uint(out, total_size);
  out += "\n  },\n  \"weight_map\": {";
  for (std::size_t i = 0; i < weight_map.size(); ++i) {
    out += i ? ",\n    " : "\n    ";
    append_python_json_string(out, weight_map[i].first);
    out += ": ";
    append_python_json_string(out, weight_map[i].second);
  }
  out += weight_map.empty() ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

struct hf_index {
  std::optional<std::uint64_t> total_size;
  std::vector<std::pair<std::string, std::string>> weight_map;  // in the file's order
};

// A shard name must be a plain file name beside the index: no directory part
// (an index from elsewhere must not make us read /etc/... or ../..).
inline bool is_plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

inline safeweights::result<hf_index> read_hf_index(const std::string& path) {
  using safeweights::errc;
  using safeweights::make_error;
  // The cap of nn::read_shard_index; read_small_file refuses FIFOs and directories unread.
  auto raw = safeweights::read_small_file(path, 100'000'000);
  if (!raw) return std::move(raw).error_value();
  simdjson::padded_string text(*raw);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto e = parser.parse(text).get(doc))
    return make_error(errc::header_invalid_json, path + ": not JSON: " + simdjson::error_message(e));
  simdjson::dom::object root;
  if (doc.get(root)) return make_error(errc::header_not_object, path + ": the index is not a JSON object");

  hf_index index;
  simdjson::dom::element meta;
  if (!root["metadata"].get(meta) && !meta.is_null()) {
    simdjson::dom::element size;
    if (meta.is_object() && !meta["total_size"].get(size)) {
      std::uint64_t n = 0;
      double d = 0;
      if (!size.get(n)) index.total_size = n;
      else if (!size.get(d) && d >= 0 && d < 0x1p64) index.total_size = static_cast<std::uint64_t>(d);
    }
  }
  simdjson::dom::object map;
  if (root["weight_map"].get(map))
    return make_error(errc::invalid_tensor_entry, path + ": no \"weight_map\" object");
  std::unordered_set<std::string_view> names;
  for (auto [name, file] : map) {
    std::string_view file_name;
    if (file.get(file_name))
      return make_error(errc::invalid_tensor_entry,
                        path + ": weight_map entry " + safeweights::quote_name(name) + " is not a string");
    if (!is_plain_file_name(file_name))
      return make_error(errc::invalid_argument, path + ": shard " + safeweights::quote_name(file_name) +
                                                    " is not a plain file name beside the index");
    if (!names.insert(name).second)
      return make_error(errc::duplicate_key,
                        path + ": tensor " + safeweights::quote_name(name) + " appears twice in weight_map");
    index.weight_map.emplace_back(std::string(name), std::string(file_name));
  }
  return index;
}

}  // namespace safeweights_cli
