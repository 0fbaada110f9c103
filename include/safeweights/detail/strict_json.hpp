// Strict reading of untrusted JSON documents other than headers (signature
// bundles, trust roots, in-toto statements): a parsed DOM whose objects refuse
// repeated keys, since two parsers that pick different copies of a repeated
// key would read two different documents from the same bytes.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "safeweights/error.hpp"
#include "safeweights/util/json_text.hpp"
#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

class strict_object {
 public:
  // nullopt when `e` is not an object; `repeated` names a repeated key then.
  static std::optional<strict_object> of(simdjson::dom::element e, std::string* repeated = nullptr) {
    simdjson::dom::object obj;
    if (e.get_object().get(obj)) return std::nullopt;
    strict_object out;
    for (auto field : obj) out.members_.emplace_back(field.key, field.value);
    std::vector<std::string_view> keys;
    keys.reserve(out.members_.size());
    for (auto& m : out.members_) keys.push_back(m.first);
    std::sort(keys.begin(), keys.end());
    if (auto at = std::adjacent_find(keys.begin(), keys.end()); at != keys.end()) {
      if (repeated) *repeated = std::string(*at);
      return std::nullopt;
    }
    std::sort(out.members_.begin(), out.members_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
  }

  std::optional<simdjson::dom::element> get(std::string_view key) const {
    auto at = std::lower_bound(members_.begin(), members_.end(), key,
                               [](const auto& m, std::string_view k) { return m.first < k; });
    if (at == members_.end() || at->first != key) return std::nullopt;
    return at->second;
  }
  bool has(std::string_view key) const { return get(key).has_value(); }
  // The first key not among `known`, or empty.
  std::string_view unknown_key(std::initializer_list<std::string_view> known) const {
    for (auto& m : members_)
      if (std::find(known.begin(), known.end(), m.first) == known.end()) return m.first;
    return {};
  }
  std::size_t size() const noexcept { return members_.size(); }
  const std::vector<std::pair<std::string_view, simdjson::dom::element>>& members() const noexcept { return members_; }

 private:
  std::vector<std::pair<std::string_view, simdjson::dom::element>> members_;
};

inline std::optional<std::string_view> json_string(simdjson::dom::element e) {
  std::string_view s;
  if (e.get_string().get(s)) return std::nullopt;
  return s;
}

// Protobuf's JSON mapping writes 64-bit integers as decimal strings; numbers are accepted too.
inline std::optional<std::int64_t> json_int64(simdjson::dom::element e) {
  std::int64_t v = 0;
  if (!e.get_int64().get(v)) return v;
  std::string_view s;
  if (e.get_string().get(s) || s.empty() || s.size() > 19) return std::nullopt;
  std::size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size() || (s[i] == '0' && s.size() > i + 1)) return std::nullopt;
  std::uint64_t magnitude = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    magnitude = magnitude * 10 + static_cast<std::uint64_t>(s[i] - '0');  // 19 digits cannot overflow 64 bits
  }
  if (magnitude > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  return s[0] == '-' ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
}

// What the parsers of signature documents share (bundles, statements, trust
// roots): messages that start with the file and what it should have been, and
// strict access to members. `what` is, e.g., "not a valid Sigstore bundle".
class strict_json_reader {
 protected:
  using element = simdjson::dom::element;

  strict_json_reader(const std::string& label, std::string_view what) : label_(label), what_(what) {}

  error bad(const std::string& why) const { return make_error(errc::invalid_signature, label_ + ": " + what_ + ": " + why); }
  // A value from the file, JSON-quoted and cut at 200 bytes, for messages.
  static std::string quote(std::string_view s) {
    std::string out;
    append_json_string(out, s.substr(0, 200));
    return out;
  }
  result<strict_object> object(element e, const std::string& where) const {
    std::string repeated;
    auto o = strict_object::of(e, &repeated);
    if (!o) return bad(repeated.empty() ? where + " is not a JSON object" : where + " repeats the key " + quote(repeated));
    return std::move(*o);
  }
  result<element> member(const strict_object& o, std::string_view key, const std::string& where) const {
    auto e = o.get(key);
    if (!e) return bad(where + " has no " + quote(key));
    return *e;
  }
  result<std::string_view> string_field(const strict_object& o, std::string_view key, const std::string& where) const {
    auto e = member(o, key, where);
    if (!e) return std::move(e).error_value();
    auto s = json_string(*e);
    if (!s) return bad(where + ": " + quote(key) + " is not a string");
    return *s;
  }

  std::string label_;
  std::string what_;
  simdjson::dom::parser parser_;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
