// The index of a sharded checkpoint, `model.safetensors.index.json`, as
// Hugging Face writes it:
//
//   {"metadata": {"total_size": 548118528},
//    "weight_map": {"wte.weight": "model-00001-of-00002.safetensors", ...}}
//
// Parsed with simdjson On Demand from a padded copy. Rules (each an
// errc::invalid_shard_index naming the index file, unless said otherwise):
// one JSON object; `weight_map` present, an object of strings; a tensor
// named twice (duplicate_key); a shard name that is empty, holds '/' or
// '\\' or NUL, or is "." or "..": shards must lie in the index's own
// directory; `total_size`, when present, a non-negative integer. Other keys
// are ignored, as Hugging Face ignores them. At most 100,000,000 bytes.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "safeweights/detail/padded_buffer.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/io/file_handle.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

struct shard_index {
  std::vector<std::pair<std::string, std::string>> weight_map;  // tensor -> shard, in file order
  std::vector<std::string> shards;                              // distinct, in order of first mention
  std::optional<std::uint64_t> total_size;
};

namespace detail {

inline error index_error(std::string message) { return make_error(errc::invalid_shard_index, std::move(message)); }

inline error index_json_error(simdjson::error_code e) {
  std::string what = simdjson::error_message(e);
  for (char& c : what) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return index_error("not valid JSON: " + what);
}

inline bool plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

}  // namespace detail

// Parses an index held in `json` (any bytes: it is copied into padded memory).
inline result<shard_index> parse_shard_index(std::string_view json) {
  namespace od = simdjson::ondemand;
  safeweights::detail::padded_buffer buffer(json.size());
  if (!json.empty()) std::memcpy(buffer.data(), json.data(), json.size());
  od::parser parser;
  od::document doc;
  if (auto e = parser.iterate(buffer.view()).get(doc)) return detail::index_json_error(e);
  od::object root;
  if (auto e = doc.get_object().get(root))
    return e == simdjson::INCORRECT_TYPE ? detail::index_error("the index is not a JSON object") : detail::index_json_error(e);
  shard_index index;
  bool seen_map = false, seen_metadata = false;
  std::unordered_set<std::string> names, shards;
  for (auto field : root) {
    std::string_view key_view;
    if (auto e = field.unescaped_key().get(key_view)) return detail::index_json_error(e);
    std::string key(key_view);
    od::value value;
    if (auto e = field.value().get(value)) return detail::index_json_error(e);
    if (key == "weight_map") {
      if (seen_map) return detail::index_error("`weight_map` appears twice");
      seen_map = true;
      od::object map;
      if (auto e = value.get_object().get(map))
        return e == simdjson::INCORRECT_TYPE ? detail::index_error("`weight_map` is not an object") : detail::index_json_error(e);
      for (auto entry : map) {
        std::string_view name_view, shard_view;
        if (auto e = entry.unescaped_key().get(name_view)) return detail::index_json_error(e);
        std::string name(name_view);
        if (auto e = entry.value().get_string().get(shard_view))
          return e == simdjson::INCORRECT_TYPE
                     ? detail::index_error("`weight_map` entry " + safeweights::quote_name(name) + " is not a string")
                     : detail::index_json_error(e);
        std::string shard(shard_view);
        if (!detail::plain_file_name(shard))
          return detail::index_error("tensor " + safeweights::quote_name(name) + ": shard " +
                                     safeweights::quote_name(shard) +
                                     " is not a plain file name in the index's directory");
        if (!names.insert(name).second)
          return make_error(errc::duplicate_key, "tensor " + safeweights::quote_name(name) + " appears twice in `weight_map`");
        if (shards.insert(shard).second) index.shards.push_back(shard);
        index.weight_map.emplace_back(std::move(name), std::move(shard));
      }
    } else if (key == "metadata") {
      if (seen_metadata) return detail::index_error("`metadata` appears twice");
      seen_metadata = true;
      od::object metadata;
      if (auto e = value.get_object().get(metadata))
        return e == simdjson::INCORRECT_TYPE ? detail::index_error("`metadata` is not an object") : detail::index_json_error(e);
      for (auto entry : metadata) {
        std::string_view k;
        if (auto e = entry.unescaped_key().get(k)) return detail::index_json_error(e);
        if (k != "total_size") continue;
        if (index.total_size) return detail::index_error("`total_size` appears twice");
        std::uint64_t n = 0;
        if (auto e = entry.value().get_uint64().get(n))
          return e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_ERROR || e == simdjson::NUMBER_OUT_OF_RANGE
                     ? detail::index_error("`total_size` is not a non-negative integer")
                     : detail::index_json_error(e);
        index.total_size = n;
      }
    }
  }
  auto rest = doc.current_location();
  if (rest.error() != simdjson::OUT_OF_BOUNDS) return detail::index_error("text after the JSON object");
  if (!seen_map) return detail::index_error("no `weight_map`");
  return index;
}

// Reads and parses an index file; errors name the file.
inline result<shard_index> read_shard_index(const std::string& path) {
  constexpr std::uint64_t limit = 100'000'000;
  auto file = file_handle::open_read(path);
  if (!file) return std::move(file).error_value().in(path);
  if (file->size() > limit)
    return detail::index_error("index of " + std::to_string(file->size()) + " bytes is over the 100,000,000-byte limit").in(path);
  std::string text(static_cast<std::size_t>(file->size()), '\0');
  if (auto r = file->read_exact(text.data(), text.size(), 0); !r) return std::move(r).error_value().in(path);
  auto index = parse_shard_index(text);
  if (!index) return std::move(index).error_value().in(path);
  return index;
}

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
