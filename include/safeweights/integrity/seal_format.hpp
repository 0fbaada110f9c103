// The seal: per-tensor SHA-256 digests stored under one `__metadata__` key,
// so a sealed file stays plain safetensors that every reader accepts. The
// value is compact JSON (spec/EXTENSIONS.md §1):
//
//   {"version":1,"algorithm":"sha256","tensors":{
//     "<name>":{"dtype":"F32","shape":[2,3],"sha256":"<64 lowercase hex>"}, ...}}
//
// with one entry per tensor, sorted by name. dtype and shape are
// sealed with the bytes, so editing a header to reinterpret the same bytes
// is caught too. Parsing is strict: anything else is invalid_seal.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "safeweights/detail/name_table.hpp"
#include "safeweights/detail/padded_buffer.hpp"
#include "safeweights/integrity/hex.hpp"
#include "safeweights/integrity/sha256.hpp"
#include "safeweights/io/reader.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

inline constexpr std::string_view seal_key = "safeweights.seal";

struct seal_entry {
  std::string name;
  dtype type = dtype::F32;
  std::vector<std::uint64_t> shape;
  sha256_digest sha256{};
};

class seal {
 public:
  std::span<const seal_entry> entries() const noexcept { return entries_; }

  const seal_entry* find(std::string_view name) const noexcept {
    std::uint32_t i = by_name_.find(name, [this](std::uint32_t k) -> std::string_view { return entries_[k].name; });
    return i == detail::name_table::empty ? nullptr : &entries_[i];
  }

  // Returns false when the name is already there.
  bool add(seal_entry e) {
    entries_.push_back(std::move(e));
    auto k = static_cast<std::uint32_t>(entries_.size() - 1);
    if (by_name_.insert(entries_.back().name, k,
                        [this](std::uint32_t i) -> std::string_view { return entries_[i].name; }) !=
        detail::name_table::empty) {
      entries_.pop_back();
      return false;
    }
    return true;
  }

 private:
  std::vector<seal_entry> entries_;
  detail::name_table by_name_;
};

// The seal's metadata value for `r`'s tensors and their digests (offset
// order). Members are sorted by name (bytewise), so the seal of the same
// tensors is the same text whatever the file's layout, and resealing a
// sealed file changes nothing.
inline std::string make_seal(const reader& r, std::span<const sha256_digest> digests) {
  std::string out = "{\"version\":1,\"algorithm\":\"sha256\",\"tensors\":{";
  auto tensors = r.tensors();
  std::vector<std::size_t> by_name(tensors.size());
  for (std::size_t i = 0; i < by_name.size(); ++i) by_name[i] = i;
  std::sort(by_name.begin(), by_name.end(), [&](std::size_t a, std::size_t b) { return tensors[a].name < tensors[b].name; });
  for (std::size_t k = 0; k < by_name.size(); ++k) {
    const std::size_t i = by_name[k];
    if (k) out += ',';
    append_json_string(out, tensors[i].name);
    out += ":{\"dtype\":\"";
    out += dtype_name(tensors[i].type);
    out += "\",\"shape\":[";
    for (std::size_t d = 0; d < tensors[i].shape.size(); ++d) {
      if (d) out += ',';
      append_uint(out, tensors[i].shape[d]);
    }
    out += "],\"sha256\":\"";
    out += to_hex(digests[i]);
    out += "\"}";
  }
  out += "}}";
  return out;
}

namespace detail {

class seal_parser {
 public:
  explicit seal_parser(std::string_view text) : json_(text.size()) {
    if (!text.empty()) std::memcpy(json_.data(), text.data(), text.size());
  }

  result<seal> run() {
    simdjson::ondemand::parser parser;
    simdjson::ondemand::document doc;
    simdjson::ondemand::object root;
    if (parser.iterate(json_.view()).get(doc) || doc.get_object().get(root)) return bad("it is not a JSON object");
    bool has_version = false, has_algorithm = false, has_tensors = false;
    seal s;
    for (auto field : root) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return bad("it is not valid JSON");
      if (key == "version" && !has_version) {
        has_version = true;
        std::uint64_t v = 0;
        if (field.value().get_uint64().get(v) || v != 1) return bad("`version` is not 1");
      } else if (key == "algorithm" && !has_algorithm) {
        has_algorithm = true;
        std::string_view a;
        if (field.value().get_string().get(a) || a != "sha256") return bad("`algorithm` is not \"sha256\"");
      } else if (key == "tensors" && !has_tensors) {
        has_tensors = true;
        simdjson::ondemand::object tensors;
        if (field.value().get_object().get(tensors)) return bad("`tensors` is not an object");
        for (auto t : tensors) {
          simdjson::ondemand::field f;
          if (std::move(t).get(f)) return bad("it is not valid JSON");
          auto e = read_entry(f);
          if (!e) return std::move(e).error_value();
          std::string name = e->name;
          if (!s.add(std::move(*e))) return bad("tensor " + quote_name(name) + " is sealed twice");
        }
      } else {
        return bad("unexpected or repeated field " + quote_name(key));
      }
    }
    if (auto rest = doc.current_location(); rest.error() != simdjson::OUT_OF_BOUNDS)
      return bad("text after the JSON object");
    if (!has_version || !has_algorithm || !has_tensors) return bad("`version`, `algorithm` or `tensors` is missing");
    return s;
  }

 private:
  static error bad(const std::string& why) {
    return make_error(errc::invalid_seal, "seal (metadata `" + std::string(seal_key) + "`): " + why);
  }

  result<seal_entry> read_entry(simdjson::ondemand::field& t) {
    seal_entry e;
    std::string_view name;
    if (t.unescaped_key().get(name)) return bad("it is not valid JSON");
    e.name = std::string(name);
    auto who = "tensor " + quote_name(e.name) + ": ";
    simdjson::ondemand::object fields;
    if (t.value().get_object().get(fields)) return bad(who + "entry is not an object");
    bool has_dtype = false, has_shape = false, has_digest = false;
    for (auto f : fields) {
      std::string_view key;
      if (f.unescaped_key().get(key)) return bad("it is not valid JSON");
      if (key == "dtype" && !has_dtype) {
        has_dtype = true;
        std::string_view s;
        if (f.value().get_string().get(s)) return bad(who + "dtype is not a string");
        auto type = parse_dtype(s);
        if (!type) return bad(who + "unknown dtype " + quote_name(s));
        e.type = *type;
      } else if (key == "shape" && !has_shape) {
        has_shape = true;
        simdjson::ondemand::array dims;
        if (f.value().get_array().get(dims)) return bad(who + "shape is not an array");
        for (auto d : dims) {
          std::uint64_t v = 0;
          if (d.get_uint64().get(v)) return bad(who + "shape holds something other than integers in [0, 2^64)");
          if (e.shape.size() >= 4096) return bad(who + "shape has too many dimensions");
          e.shape.push_back(v);
        }
      } else if (key == "sha256" && !has_digest) {
        has_digest = true;
        std::string_view hex;
        if (f.value().get_string().get(hex)) return bad(who + "sha256 is not a string");
        auto d = parse_hex<32>(hex);
        if (!d) return bad(who + "sha256 is not 64 lowercase hex digits");
        e.sha256 = *d;
      } else {
        return bad(who + "unexpected or repeated field " + quote_name(key));
      }
    }
    if (!has_dtype || !has_shape || !has_digest) return bad(who + "dtype, shape or sha256 is missing");
    return e;
  }

  padded_buffer json_;
};

}  // namespace detail

inline result<seal> parse_seal(std::string_view text) { return detail::seal_parser(text).run(); }

// The seal of `r`, checked against its header: every tensor sealed with its
// dtype and shape, and nothing sealed that the file does not hold. Returns,
// for each tensor in offset order, its sealed digest.
inline result<std::vector<sha256_digest>> sealed_digests(const reader& r) {
  auto text = r.metadata_value(seal_key);
  if (!text)
    return make_error(errc::not_sealed, "no seal: metadata has no `" + std::string(seal_key) + "` key").in(r.source());
  auto s = parse_seal(*text);
  if (!s) return std::move(s).error_value().in(r.source());
  std::vector<sha256_digest> out;
  out.reserve(r.tensors().size());
  for (const tensor_info& t : r.tensors()) {
    const seal_entry* e = s->find(t.name);
    auto who = "tensor " + quote_name(t.name);
    if (!e) return make_error(errc::invalid_seal, who + " is not in the seal (added after sealing?)").in(r.source());
    if (e->type != t.type || !std::equal(e->shape.begin(), e->shape.end(), t.shape.begin(), t.shape.end()))
      return make_error(errc::invalid_seal, who + ": dtype or shape differs from the sealed one (sealed as " +
                                                std::string(dtype_name(e->type)) + ")")
          .in(r.source());
    out.push_back(e->sha256);
  }
  if (s->entries().size() != r.tensors().size()) {
    for (const seal_entry& e : s->entries())
      if (!r.find(e.name))
        return make_error(errc::invalid_seal, "tensor " + quote_name(e.name) +
                                                  " is sealed but not in the file (removed after sealing?)")
            .in(r.source());
  }
  return out;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
