// Options that take a value (`--name VALUE` or `--name=VALUE`), used by sign
// and verify: taken out of the arguments before the rest are split, so a
// value that starts with '-' is still a value. An option may be repeated
// where the command allows it (--certificate-chain, --ignore-paths).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"

namespace safeweights_cli {

struct value_split {
  std::map<std::string, std::vector<std::string>, std::less<>> values;  // by option name
  std::vector<char*> rest;
  std::string problem;  // a usage error, or empty

  const std::vector<std::string>& all(std::string_view name) const {
    static const std::vector<std::string> none;
    auto it = values.find(name);
    return it == values.end() ? none : it->second;
  }
  std::optional<std::string> one(std::string_view name) const {
    const auto& v = all(name);
    return v.empty() ? std::nullopt : std::optional<std::string>(v.front());
  }
};

// `names` take values; those in `repeatable` may be given more than once.
inline value_split take_value_options(args_t args, std::initializer_list<std::string_view> names,
                                      std::initializer_list<std::string_view> repeatable = {}) {
  value_split out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a(args[i]);
    if (a == "--") {
      out.rest.insert(out.rest.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    std::optional<std::string_view> name;
    std::optional<std::string> value;
    for (std::string_view n : names) {
      if (a == n) {
        name = n;
        if (i + 1 == args.size()) {
          out.problem = std::string(n) + " needs a value";
          return out;
        }
        value = args[++i];
      } else if (a.size() > n.size() && a.substr(0, n.size()) == n && a[n.size()] == '=') {
        name = n;
        value = std::string(a.substr(n.size() + 1));
      }
      if (name) break;
    }
    if (!name) {
      out.rest.push_back(args[i]);
      continue;
    }
    if (value->empty()) {
      out.problem = std::string(*name) + " needs a value";
      return out;
    }
    auto& list = out.values[std::string(*name)];
    if (!list.empty() && std::find(repeatable.begin(), repeatable.end(), *name) == repeatable.end()) {
      out.problem = std::string(*name) + " given twice";
      return out;
    }
    list.push_back(std::move(*value));
  }
  return out;
}

}  // namespace safeweights_cli
