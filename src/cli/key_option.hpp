// `--key PATH` (or `--key=PATH`), the one option of the tool that takes a
// value; used by sign and verify. Taken out of the arguments before the rest
// are split, so a key path that starts with '-' is still a path.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "command.hpp"

namespace safeweights_cli {

struct key_split {
  std::optional<std::string> key;
  std::vector<char*> rest;
  std::string problem;  // a usage error, or empty
};

inline key_split take_key_option(args_t args) {
  key_split out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a(args[i]);
    if (a == "--") {
      out.rest.insert(out.rest.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    std::optional<std::string> value;
    if (a == "--key") {
      if (i + 1 == args.size()) {
        out.problem = "--key needs a PEM file";
        return out;
      }
      value = args[++i];
    } else if (a.rfind("--key=", 0) == 0) {
      value = std::string(a.substr(6));
    } else {
      out.rest.push_back(args[i]);
      continue;
    }
    if (out.key) {
      out.problem = "--key given twice";
      return out;
    }
    if (value->empty()) {
      out.problem = "--key needs a PEM file";
      return out;
    }
    out.key = std::move(value);
  }
  return out;
}

}  // namespace safeweights_cli
