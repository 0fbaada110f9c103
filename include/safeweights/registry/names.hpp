// What a model name, a version label and an alias may be, and how a
// reference ("name", "name@3", "name@production") splits. Names become
// directory names (DIR/models/<name>/<version>/), so they are kept to
// [A-Za-z0-9._-], start with a letter or digit, and are at most 128 bytes.
// Aliases may not be all digits, so `name@3` always means version 3.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "safeweights/error.hpp"
#include "safeweights/format/printable.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace registry_detail {

inline constexpr std::size_t max_name_bytes = 128;

inline bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// `what` is "model name", "version" or "alias".
inline result<void> check_name(std::string_view s, std::string_view what) {
  auto refuse = [&](std::string_view why) {
    return make_error(errc::invalid_argument,
                      std::string(what) + " " + quote_name(s) + " " + std::string(why));
  };
  if (s.empty()) return refuse("is empty");
  if (s.size() > max_name_bytes) return refuse("is longer than 128 bytes");
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front())) return refuse("must start with a letter or a digit");
  for (char c : s)
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return refuse("may hold only letters, digits, '.', '_' and '-'");
  if (what == "alias" && all_digits(s)) return refuse("is all digits, which `NAME@N` reads as version N");
  return {};
}

// A reference to a version: NAME (the latest), NAME@VERSION or NAME@ALIAS.
struct version_ref {
  std::string model;
  std::optional<std::string> at;  // what follows '@'
};

inline result<version_ref> parse_ref(std::string_view text) {
  version_ref ref;
  const auto at = text.find('@');
  ref.model = std::string(text.substr(0, at));
  if (auto c = check_name(ref.model, "model name"); !c) return std::move(c).error_value();
  if (at != std::string_view::npos) {
    ref.at = std::string(text.substr(at + 1));
    if (ref.at->empty() || ref.at->find('@') != std::string::npos)
      return make_error(errc::invalid_argument, "reference " + quote_name(text) + ": give NAME, NAME@VERSION or NAME@ALIAS");
    if (auto c = check_name(*ref.at, "version"); !c) return std::move(c).error_value();
  }
  return ref;
}

}  // namespace registry_detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
