// A model's manifest in the OpenSSF model-signing format (model_signing
// v1.x): every file of a model directory (or every fixed-size piece of every
// file, the "shards" serialization) with its SHA-256, and the in-toto
// Statement v1 that carries it inside a signature:
//
//   {"_type": "https://in-toto.io/Statement/v1",
//    "subject": [{"name": MODEL, "digest": {"sha256": SHA-256 of every resource digest, in order}}],
//    "predicateType": "https://model_signing/signature/v1.0",
//    "predicate": {"serialization": {"method": "files"|"shards", "hash_type": "sha256",
//                                    "allow_symlinks": false, ["shard_size": N,] "ignore_paths": [...]},
//                  "resources": [{"name": "dir/file" | "dir/file:START:END", "algorithm": "sha256",
//                                 "digest": HEX}, ...]}}
//
// Resources are sorted as model_signing sorts them: by path component, then
// by start and end. Names are relative POSIX paths; a statement naming an
// absolute path, `..`, an empty component or the same resource twice is refused.
#pragma once

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "safeweights/detail/strict_json.hpp"
#include "safeweights/error.hpp"
#include "safeweights/integrity/hex.hpp"
#include "safeweights/integrity/sha256.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

inline constexpr std::string_view in_toto_statement_type = "https://in-toto.io/Statement/v1";
inline constexpr std::string_view model_signing_predicate_type = "https://model_signing/signature/v1.0";
// model_signing's default shard size (1 GB).
inline constexpr std::uint64_t default_shard_size = 1'000'000'000;

enum class serialization_method : std::uint8_t { files, shards };

struct model_serialization {
  serialization_method method = serialization_method::files;
  std::uint64_t shard_size = default_shard_size;  // shards only
  bool allow_symlinks = false;
  std::vector<std::string> ignore_paths;  // relative to the model; recorded by model_signing 1.1 and later
};

struct manifest_resource {
  std::string path;  // relative POSIX path ("." when the model is one file)
  std::uint64_t start = 0, end = 0;  // shards only: the piece [start, end)
  sha256_digest digest{};
  // The resource's name in a statement: the path, or PATH:START:END for a shard.
  std::string name(serialization_method m) const {
    return m == serialization_method::files ? path : path + ":" + std::to_string(start) + ":" + std::to_string(end);
  }
};

struct model_manifest {
  std::string model_name;  // informative only: renaming a model keeps its signature valid
  model_serialization serialization;
  std::vector<manifest_resource> resources;  // sorted (sort_resources)
};

namespace detail {

// model_signing compares paths by component ("a/b" before "a-b").
inline bool path_less(std::string_view a, std::string_view b) {
  while (true) {
    const auto ea = a.find('/'), eb = b.find('/');
    const std::string_view ca = a.substr(0, ea), cb = b.substr(0, eb);
    if (ca != cb) return ca < cb;
    if (ea == std::string_view::npos || eb == std::string_view::npos) return ea == std::string_view::npos && eb != std::string_view::npos;
    a.remove_prefix(ea + 1);
    b.remove_prefix(eb + 1);
  }
}

// A relative POSIX path with no `..`, `.` or empty component (or "." alone).
inline bool is_safe_relative_path(std::string_view p) {
  if (p == ".") return true;
  if (p.empty() || p.front() == '/' || p.find('\0') != std::string_view::npos) return false;
  while (true) {
    const auto slash = p.find('/');
    const std::string_view c = p.substr(0, slash);
    if (c.empty() || c == "." || c == "..") return false;
    if (slash == std::string_view::npos) return true;
    p.remove_prefix(slash + 1);
  }
}

}  // namespace detail

inline void sort_resources(std::vector<manifest_resource>& r) {
  std::sort(r.begin(), r.end(), [](const manifest_resource& a, const manifest_resource& b) {
    if (a.path != b.path) return detail::path_less(a.path, b.path);
    return a.start != b.start ? a.start < b.start : a.end < b.end;
  });
}

// The subject's digest: SHA-256 over the resources' digests in order.
inline sha256_digest manifest_root_digest(const std::vector<manifest_resource>& resources) {
  sha256_hasher h;
  for (const auto& r : resources) h.update(std::as_bytes(std::span(r.digest)));
  return h.finish();
}

// The statement as model_signing writes it (two-space indented JSON).
inline std::string in_toto_statement(const model_manifest& m) {
  const auto& s = m.serialization;
  std::string out = "{\n  \"_type\": \"" + std::string(in_toto_statement_type) + "\",\n  \"subject\": [\n    {\n      \"name\": ";
  append_json_string(out, m.model_name);
  out += ",\n      \"digest\": {\n        \"sha256\": \"" + to_hex(manifest_root_digest(m.resources)) +
         "\"\n      }\n    }\n  ],\n  \"predicateType\": \"" + std::string(model_signing_predicate_type) +
         "\",\n  \"predicate\": {\n    \"serialization\": {\n      \"method\": \"";
  out += s.method == serialization_method::files ? "files" : "shards";
  out += "\",\n      \"hash_type\": \"sha256\",\n      \"allow_symlinks\": ";
  out += s.allow_symlinks ? "true" : "false";
  if (s.method == serialization_method::shards) {
    out += ",\n      \"shard_size\": ";
    append_uint(out, s.shard_size);
  }
  out += ",\n      \"ignore_paths\": [";
  for (std::size_t i = 0; i < s.ignore_paths.size(); ++i) {
    out += i ? ",\n        " : "\n        ";
    append_json_string(out, s.ignore_paths[i]);
  }
  out += s.ignore_paths.empty() ? "]" : "\n      ]";
  out += "\n    },\n    \"resources\": [";
  for (std::size_t i = 0; i < m.resources.size(); ++i) {
    out += i ? ",\n      {\n        \"name\": " : "\n      {\n        \"name\": ";
    append_json_string(out, m.resources[i].name(s.method));
    out += ",\n        \"algorithm\": \"sha256\",\n        \"digest\": \"" + to_hex(m.resources[i].digest) + "\"\n      }";
  }
  out += m.resources.empty() ? "]" : "\n    ]";
  out += "\n  }\n}";
  return out;
}

namespace detail {

class statement_parser : strict_json_reader {
 public:
  explicit statement_parser(const std::string& label) : strict_json_reader(label, "not a model-signing statement") {}

  result<model_manifest> run(std::string_view json) {
    simdjson::padded_string text(json);
    simdjson::dom::element root;
    if (parser_.parse(text).get(root)) return bad("the signed payload is not JSON");
    auto top = object(root, "the statement");
    if (!top) return std::move(top).error_value();
    auto type = string_field(*top, "_type", "the statement");
    if (!type) return std::move(type).error_value();
    if (*type != in_toto_statement_type) return bad("`_type` is " + quote(*type) + ", not " + std::string(in_toto_statement_type));
    auto predicate_type = string_field(*top, "predicateType", "the statement");
    if (!predicate_type) return std::move(predicate_type).error_value();
    if (*predicate_type != model_signing_predicate_type)
      return bad("the predicate type is " + quote(*predicate_type) + ", not " + std::string(model_signing_predicate_type));
    model_manifest m;
    auto subjects = top->get("subject");
    simdjson::dom::array subject_list;
    if (!subjects || subjects->get_array().get(subject_list)) return bad("`subject` is not an array");
    if (subject_list.size() != 1)
      return bad("the statement has " + std::to_string(subject_list.size()) + " subjects; a model signature has one");
    auto subject = object(subject_list.at(0).value_unsafe(), "the subject");
    if (!subject) return std::move(subject).error_value();
    auto name = string_field(*subject, "name", "the subject");
    if (!name) return std::move(name).error_value();
    m.model_name = std::string(*name);
    auto digest_obj = subject->get("digest");
    if (!digest_obj) return bad("the subject has no digest");
    auto digests = object(*digest_obj, "the subject's digest");
    if (!digests) return std::move(digests).error_value();
    auto root_hex = string_field(*digests, "sha256", "the subject's digest");
    if (!root_hex) return std::move(root_hex).error_value();
    auto expected_root = parse_hex<32>(*root_hex);
    if (!expected_root) return bad("the subject's sha256 is not 64 lowercase hex digits");

    auto predicate_el = top->get("predicate");
    if (!predicate_el) return bad("the statement has no predicate");
    auto predicate = object(*predicate_el, "the predicate");
    if (!predicate) return std::move(predicate).error_value();
    auto ser_el = predicate->get("serialization");
    if (!ser_el) return bad("the predicate has no serialization");
    if (auto s = read_serialization(*ser_el, m.serialization); !s) return std::move(s).error_value();
    auto res_el = predicate->get("resources");
    simdjson::dom::array resources;
    if (!res_el || res_el->get_array().get(resources)) return bad("the predicate's resources are not an array");
    for (auto e : resources) {
      auto r = read_resource(e, m.serialization.method);
      if (!r) return std::move(r).error_value();
      m.resources.push_back(std::move(*r));
    }
    // The subject digest covers the resources in the order they are listed.
    if (manifest_root_digest(m.resources) != *expected_root)
      return bad("the subject's digest " + std::string(*root_hex) + " is not the digest of the listed resources " +
                 to_hex(manifest_root_digest(m.resources)) + ": the manifest is inconsistent");
    sort_resources(m.resources);
    for (std::size_t i = 1; i < m.resources.size(); ++i) {
      const auto& a = m.resources[i - 1];
      const auto& b = m.resources[i];
      if (a.path == b.path && (m.serialization.method == serialization_method::files || a.end > b.start))
        return bad("the resource " + quote(b.name(m.serialization.method)) + " is listed twice or overlaps " +
                   quote(a.name(m.serialization.method)));
    }
    return m;
  }

 private:
  result<void> read_serialization(element e, model_serialization& s) const {
    auto o = object(e, "the serialization");
    if (!o) return std::move(o).error_value();
    auto method = string_field(*o, "method", "the serialization");
    if (!method) return std::move(method).error_value();
    if (*method == "files") s.method = serialization_method::files;
    else if (*method == "shards") s.method = serialization_method::shards;
    else return bad("the serialization method " + quote(*method) + " is not files or shards");
    auto hash = string_field(*o, "hash_type", "the serialization");
    if (!hash) return std::move(hash).error_value();
    if (*hash != "sha256") return bad("the hash type " + quote(*hash) + " is not sha256 (the only one supported)");
    auto symlinks = o->get("allow_symlinks");
    bool allow = false;
    if (!symlinks || symlinks->get_bool().get(allow)) return bad("the serialization's allow_symlinks is not a boolean");
    s.allow_symlinks = allow;
    if (s.method == serialization_method::shards) {
      auto size = o->get("shard_size");
      std::uint64_t n = 0;
      if (!size || size->get_uint64().get(n) || n == 0) return bad("the serialization's shard_size is not a positive integer");
      s.shard_size = n;
    }
    if (auto ignore = o->get("ignore_paths")) {
      simdjson::dom::array list;
      if (ignore->get_array().get(list)) return bad("ignore_paths is not an array");
      for (auto p : list) {
        auto text = json_string(p);
        if (!text) return bad("ignore_paths holds something other than a string");
        s.ignore_paths.emplace_back(*text);
      }
    }
    return {};
  }

  result<manifest_resource> read_resource(element e, serialization_method method) const {
    auto o = object(e, "a resource");
    if (!o) return std::move(o).error_value();
    auto name = string_field(*o, "name", "a resource");
    if (!name) return std::move(name).error_value();
    auto algorithm = string_field(*o, "algorithm", "resource " + quote(*name));
    if (!algorithm) return std::move(algorithm).error_value();
    if (*algorithm != "sha256") return bad("resource " + quote(*name) + ": algorithm " + quote(*algorithm) + " is not sha256");
    auto hex = string_field(*o, "digest", "resource " + quote(*name));
    if (!hex) return std::move(hex).error_value();
    auto digest = parse_hex<32>(*hex);
    if (!digest) return bad("resource " + quote(*name) + ": the digest is not 64 lowercase hex digits");
    manifest_resource r;
    r.digest = *digest;
    std::string_view path = *name;
    if (method == serialization_method::shards) {
      // PATH:START:END, split from the right (a path may hold ':').
      auto c2 = path.rfind(':');
      auto c1 = c2 == std::string_view::npos || c2 == 0 ? std::string_view::npos : path.rfind(':', c2 - 1);
      if (c1 == std::string_view::npos || !parse_decimal(path.substr(c1 + 1, c2 - c1 - 1), r.start) ||
          !parse_decimal(path.substr(c2 + 1), r.end) || r.start >= r.end)
        return bad("the shard " + quote(*name) + " is not PATH:START:END with START < END");
      path = path.substr(0, c1);
    }
    if (!detail::is_safe_relative_path(path))
      return bad("the resource " + quote(*name) + " is not a relative path inside the model (absolute, `..`, `.` or an empty component)");
    r.path = std::string(path);
    return r;
  }

  static bool parse_decimal(std::string_view s, std::uint64_t& v) {
    if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size();
  }

};

}  // namespace detail

// The manifest a signed statement describes. Checks its shape, names and
// subject digest; whether the statement is authentic is the caller's job.
inline result<model_manifest> parse_in_toto_statement(std::string_view json, const std::string& label) {
  return detail::statement_parser(label).run(json);
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
