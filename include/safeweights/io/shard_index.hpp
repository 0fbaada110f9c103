// The index of a sharded checkpoint, `model.safetensors.index.json`, as
// Hugging Face's transformers writes it:
//
//   {"metadata": {"total_parameters": 124439808, "total_size": 548118528},
//    "weight_map": {"wte.weight": "model-00001-of-00002.safetensors", ...}}
//
// The one reader of it in the library and the command line, and its writer.
// Read with simdjson On Demand from a padded copy (On Demand reads up to 64
// bytes past the JSON). Every fault is errc::invalid_shard_index naming the
// index file and the entry: not one JSON object; a key repeated at any level;
// `weight_map` missing, not an object, or a value that is not a string; a
// shard name that is empty, holds NUL or `\`, is absolute, or has a
// directory part (shards lie beside the index, so `..` never gets out);
// `metadata` not an object; `total_size` or `total_parameters` not a
// non-negative integer. Other keys are kept (metadata) or ignored (the
// root's), as transformers ignores them. At most 100,000,000 bytes.
//
// That `total_size` equals the bytes of the tensors the index lists can
// only be checked with the shards open: io/checkpoint.hpp does it.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "safeweights/detail/padded_buffer.hpp"
#include "safeweights/error.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/io/file_handle.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// The name transformers gives the index beside the shards.
inline constexpr std::string_view shard_index_file_name = "model.safetensors.index.json";

// The largest index read_shard_index reads (the reference's cap on a header).
inline constexpr std::uint64_t max_shard_index_bytes = 100'000'000;

struct shard_index {
  std::vector<std::pair<std::string, std::string>> weight_map;  // tensor -> shard file, in the file's order
  std::vector<std::string> shards;                              // the distinct shard files, in order of first use
  std::optional<std::uint64_t> total_size;                      // metadata.total_size: the tensors' data bytes
  std::optional<std::uint64_t> total_parameters;                // metadata.total_parameters (newer transformers)
  std::vector<std::pair<std::string, std::string>> metadata;    // the other metadata keys, each value as its JSON text
};

namespace detail {

inline error shard_index_error(std::string message) {
  return make_error(errc::invalid_shard_index, std::move(message));
}

inline error shard_index_json_error(simdjson::error_code e) {
  std::string what = simdjson::error_message(e);
  for (char& c : what) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return shard_index_error("not valid JSON: " + what);
}

// What is wrong with a shard name, or nothing: a shard is a file beside the
// index, so that an index from elsewhere cannot make us read /etc/... or ../..
inline std::optional<std::string_view> shard_name_fault(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.find('\0') != std::string_view::npos) return "holds a NUL byte";
  if (name.find('\\') != std::string_view::npos) return "holds a `\\` (a directory separator on Windows)";
  if (name.front() == '/') return "is an absolute path";
  if (name == "." || name == "..") return "is a directory, not a file";
  if (name.starts_with("../") || name.ends_with("/..") || name.find("/../") != std::string_view::npos)
    return "has a `..` part";
  if (name.find('/') != std::string_view::npos) return "has a directory part";
  return std::nullopt;
}

// An On Demand error as the index's error: a wrong type is `what`, anything else bad JSON.
inline error shard_index_type_error(simdjson::error_code e, std::string what) {
  return e == simdjson::INCORRECT_TYPE ? shard_index_error(std::move(what)) : shard_index_json_error(e);
}

inline result<std::uint64_t> shard_index_count(simdjson::ondemand::value value, std::string_view key) {
  std::uint64_t n = 0;
  auto e = value.get_uint64().get(n);
  if (!e) return n;
  if (e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_ERROR || e == simdjson::NUMBER_OUT_OF_RANGE)
    return shard_index_error("metadata " + quote_name(key) + " is not a non-negative integer");
  return shard_index_json_error(e);
}

// The JSON text of a metadata value, checked (On Demand otherwise skips what it is not asked for).
inline result<std::string> shard_index_json_text(simdjson::ondemand::value value) {
  namespace od = simdjson::ondemand;
  od::json_type type;
  if (auto e = value.type().get(type)) return shard_index_json_error(e);
  std::string_view text;
  simdjson::error_code e = simdjson::SUCCESS;
  if (type == od::json_type::object) {
    od::object o;
    e = value.get_object().get(o);
    if (!e) e = o.raw_json().get(text);
  } else if (type == od::json_type::array) {
    od::array a;
    e = value.get_array().get(a);
    if (!e) e = a.raw_json().get(text);
  } else {
    text = value.raw_json_token();  // does not move past the value: it is checked next
    bool null = false;
    if (type == od::json_type::string) e = value.get_string().error();
    if (type == od::json_type::number) e = value.get_number().error();
    if (type == od::json_type::boolean) e = value.get_bool().error();
    if (type == od::json_type::null && !(e = value.is_null().get(null)) && !null) e = simdjson::INCORRECT_TYPE;
    while (!text.empty() && std::strchr(" \t\r\n", text.back())) text.remove_suffix(1);
  }
  if (e) return shard_index_json_error(e);
  return std::string(text);
}

inline result<void> parse_weight_map(simdjson::ondemand::value value, shard_index& index) {
  namespace od = simdjson::ondemand;
  od::object map;
  if (auto e = value.get_object().get(map)) return shard_index_type_error(e, "`weight_map` is not an object");
  std::unordered_set<std::string> names, shards;
  for (auto entry : map) {
    std::string_view name_view, shard_view;
    if (auto e = entry.unescaped_key().get(name_view)) return shard_index_json_error(e);
    std::string name(name_view);
    if (auto e = entry.value().get_string().get(shard_view))
      return shard_index_type_error(e, "tensor " + quote_name(name) + ": the shard is not a string");
    std::string shard(shard_view);
    if (auto fault = shard_name_fault(shard))
      return shard_index_error("tensor " + quote_name(name) + ": shard " + quote_name(shard) + " " +
                               std::string(*fault) + ": a shard must be a file beside the index");
    if (!names.insert(name).second)
      return shard_index_error("tensor " + quote_name(name) + " appears twice in `weight_map`");
    if (shards.insert(shard).second) index.shards.push_back(shard);
    index.weight_map.emplace_back(std::move(name), std::move(shard));
  }
  return {};
}

inline result<void> parse_index_metadata(simdjson::ondemand::value value, shard_index& index) {
  namespace od = simdjson::ondemand;
  od::object metadata;
  if (auto e = value.get_object().get(metadata)) return shard_index_type_error(e, "`metadata` is not an object");
  std::unordered_set<std::string> keys;
  for (auto entry : metadata) {
    std::string_view key_view;
    if (auto e = entry.unescaped_key().get(key_view)) return shard_index_json_error(e);
    std::string key(key_view);
    if (!keys.insert(key).second) return shard_index_error("metadata " + quote_name(key) + " appears twice");
    od::value v;
    if (auto e = entry.value().get(v)) return shard_index_json_error(e);
    if (key == "total_size" || key == "total_parameters") {
      auto n = shard_index_count(v, key);
      if (!n) return std::move(n).error_value();
      (key == "total_size" ? index.total_size : index.total_parameters) = *n;
    } else {
      auto text = shard_index_json_text(v);
      if (!text) return std::move(text).error_value();
      index.metadata.emplace_back(std::move(key), std::move(*text));
    }
  }
  return {};
}

// Parses an index already in padded memory; errors do not name the file.
inline result<shard_index> parse_shard_index(const padded_buffer& json) {
  namespace od = simdjson::ondemand;
  od::parser parser;
  od::document doc;
  if (auto e = parser.iterate(json.view()).get(doc)) return shard_index_json_error(e);
  od::object root;
  if (auto e = doc.get_object().get(root)) return shard_index_type_error(e, "the index is not a JSON object");
  shard_index index;
  bool seen_map = false;
  std::unordered_set<std::string> keys;
  for (auto field : root) {
    std::string_view key_view;
    if (auto e = field.unescaped_key().get(key_view)) return shard_index_json_error(e);
    std::string key(key_view);
    if (!keys.insert(key).second) return shard_index_error(quote_name(key) + " appears twice");
    od::value value;
    if (auto e = field.value().get(value)) return shard_index_json_error(e);
    result<void> part;
    if (key == "weight_map") {
      seen_map = true;
      part = parse_weight_map(value, index);
    } else if (key == "metadata") {
      part = parse_index_metadata(value, index);
    }
    if (!part) return std::move(part).error_value();
  }
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return shard_index_error("text after the JSON object");
  if (!seen_map) return shard_index_error("no `weight_map`");
  return index;
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

}  // namespace detail

// Parses an index held in `json` (any bytes: they are copied into padded memory).
inline result<shard_index> parse_shard_index(std::string_view json) {
  detail::padded_buffer buffer(json.size());
  if (!json.empty()) std::memcpy(buffer.data(), json.data(), json.size());
  return detail::parse_shard_index(buffer);
}

// Reads and parses an index file; every error names the file.
inline result<shard_index> read_shard_index(const std::string& path) {
  auto file = file_handle::open_read(path);  // refuses a FIFO or a directory unread
  if (!file) return std::move(file).error_value().in(path);
  if (file->size() > max_shard_index_bytes)
    return detail::shard_index_error("an index of " + std::to_string(file->size()) +
                                     " bytes is over the limit of 100,000,000")
        .in(path);
  detail::padded_buffer buffer(static_cast<std::size_t>(file->size()));
  if (auto r = file->read_exact(buffer.data(), buffer.size(), 0); !r) return std::move(r).error_value().in(path);
  auto index = detail::parse_shard_index(buffer);
  if (!index) return std::move(index).error_value().in(path);
  return index;
}

// The name transformers gives shard `k` (from 1) of `n`.
inline std::string shard_file_name(std::size_t k, std::size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", k, n);
  return buf;
}

// The index text byte for byte as transformers writes it (Python's
// json.dumps(index, indent=2, sort_keys=True) + "\n", so non-ASCII is escaped
// as \uXXXX); `weight_map` pairs (tensor name, shard file) in any order.
inline std::string shard_index_json(std::uint64_t total_parameters, std::uint64_t total_size,
                                    std::vector<std::pair<std::string_view, std::string_view>> weight_map) {
  std::sort(weight_map.begin(), weight_map.end());  // bytewise UTF-8 order is code point order, as Python sorts
  std::string out = "{\n  \"metadata\": {\n    \"total_parameters\": ";
  append_uint(out, total_parameters);
  out += ",\n    \"total_size\": ";
  append_uint(out, total_size);
  out += "\n  },\n  \"weight_map\": {";
  for (std::size_t i = 0; i < weight_map.size(); ++i) {
    out += i ? ",\n    " : "\n    ";
    detail::append_python_json_string(out, weight_map[i].first);
    out += ": ";
    detail::append_python_json_string(out, weight_map[i].second);
  }
  out += weight_map.empty() ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
