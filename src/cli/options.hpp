// Argument parsing for commands whose options take values (`--dtype bf16`,
// `--dtype=bf16`, `--set K=V` given several times). The simpler
// split_args() of command.hpp serves the commands with flags only.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "command.hpp"

namespace safeweights_cli {

struct option_spec {
  std::string_view name;  // "--dtype", or "-h"
  bool takes_value = false;
};

struct parsed_args {
  std::vector<std::pair<std::string_view, std::string>> options;  // in the order given
  std::vector<std::string> operands;
  std::string error;  // a usage error ("unknown option `--x`"), or empty

  bool help() const { return has("--help") || has("-h"); }
  bool has(std::string_view name) const {
    for (const auto& o : options)
      if (o.first == name) return true;
    return false;
  }
  // The last value given for `name`.
  std::optional<std::string> value(std::string_view name) const {
    std::optional<std::string> v;
    for (const auto& o : options)
      if (o.first == name) v = o.second;
    return v;
  }
  // Every value given for `name`, in order.
  std::vector<std::string> values(std::string_view name) const {
    std::vector<std::string> v;
    for (const auto& o : options)
      if (o.first == name) v.push_back(o.second);
    return v;
  }
};

// Splits `args` by `known` (plus -h/--help, always known). An option's value
// is the next argument, whatever it looks like, or follows '='. Everything
// after "--", and a lone "-", is an operand. `command` prefixes errors.
inline parsed_args parse_args(args_t args, std::initializer_list<option_spec> known, std::string_view command) {
  parsed_args out;
  auto fail = [&](std::string message) {
    if (out.error.empty()) out.error = std::string(command) + ": " + std::move(message);
  };
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a(args[i]);
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.operands.emplace_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      out.options.emplace_back(a, std::string());
      continue;
    }
    std::string_view name = a;
    std::optional<std::string_view> inline_value;
    if (auto eq = a.find('='); a.starts_with("--") && eq != std::string_view::npos) {
      name = a.substr(0, eq);
      inline_value = a.substr(eq + 1);
    }
    const option_spec* spec = nullptr;
    for (const option_spec& k : known)
      if (k.name == name) spec = &k;
    if (!spec) {
      fail("unknown option `" + printable(name) + "`");
      continue;
    }
    if (!spec->takes_value) {
      if (inline_value) fail("option `" + std::string(spec->name) + "` takes no value");
      out.options.emplace_back(spec->name, std::string());
    } else if (inline_value) {
      out.options.emplace_back(spec->name, std::string(*inline_value));
    } else if (i + 1 < args.size()) {
      out.options.emplace_back(spec->name, std::string(args[++i]));
    } else {
      fail("option `" + std::string(spec->name) + "` needs a value");
    }
  }
  return out;
}

}  // namespace safeweights_cli
