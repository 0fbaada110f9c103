// What the commands of the `safeweights` tool share: their entry points, the
// exit codes, argument splitting, and how errors are printed.
#pragma once

#include <cstddef>
#include <cstdio>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "safeweights/error.hpp"
#include "safeweights/format/printable.hpp"

namespace safeweights_cli {

// The process exit status of every command.
enum exit_code : int {
  exit_ok = 0,
  exit_invalid = 1,  // a file is invalid or unreadable, or an output could not be written
  exit_usage = 2,    // unknown command or option, missing or extra arguments
  // diff only, where 1 means "the files differ": an input is missing, unreadable or invalid, so
  // nothing could be compared (a script must not take that for "they differ")
  exit_cannot_compare = 3,
};

// Each command gets the arguments after its own name.
using args_t = std::span<char* const>;
// run_NAME for every command of commands.def (each defined in NAME.cpp).
#define SAFEWEIGHTS_CLI_COMMAND(name, summary) int run_##name(args_t args);
#include "commands.def"
#undef SAFEWEIGHTS_CLI_COMMAND

inline void write_out(std::FILE* f, std::string_view text) { std::fwrite(text.data(), 1, text.size(), f); }

// "safeweights: <message>" on stderr.
inline void print_error(std::string_view message) {
  std::string line = "safeweights: ";
  line += message;
  line += '\n';
  write_out(stderr, line);
}

// A library error (its message already names the file and the tensor): printed, exit 1.
inline int fail(const safeweights::error& e) {
  print_error(e.message);
  return exit_invalid;
}

// A usage error: the message, then the command's usage line, on stderr; exit 2.
inline int usage_error(std::string_view message, std::string_view usage) {
  print_error(message);
  std::string text(usage);
  text += "\nTry `safeweights --help` or `safeweights COMMAND --help`.\n";
  write_out(stderr, text);
  return exit_usage;
}

// Arguments split into flags (any "-x"/"--xyz" before a "--") and operands.
// No option takes a value, so nothing else is needed; a lone "-" is an operand.
struct command_line {
  std::vector<std::string_view> flags;
  std::vector<std::string> operands;

  bool has(std::string_view flag) const {
    for (std::string_view f : flags)
      if (f == flag) return true;
    return false;
  }
  // The first flag not among `known`, or an empty view.
  std::string_view unknown_flag(std::initializer_list<std::string_view> known) const {
    for (std::string_view f : flags) {
      bool ok = false;
      for (std::string_view k : known) ok = ok || f == k;
      if (!ok) return f;
    }
    return {};
  }
};

inline command_line split_args(args_t args) {
  command_line cl;
  bool options_done = false;
  for (char* a : args) {
    std::string_view s(a);
    if (!options_done && s == "--") {
      options_done = true;
    } else if (!options_done && s.size() > 1 && s[0] == '-') {
      cl.flags.push_back(s);
    } else {
      cl.operands.emplace_back(s);
    }
  }
  return cl;
}

// Text made safe for one terminal line: the library's one escaping function.
using safeweights::printable;
using safeweights::decode_utf8;

// Columns `s` takes on a terminal: wide East Asian characters and emoji count
// 2, combining marks 0, everything else 1. `s` is expected to be printable().
inline std::size_t display_width(std::string_view s) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    std::size_t n = decode_utf8(s, i, cp);
    if (n == 0) {
      ++width;
      ++i;
      continue;
    }
    i += n;
    if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
        (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xFE20 && cp <= 0xFE2F))
      continue;
    bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
                (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
                (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
                (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
                (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
    width += wide ? 2 : 1;
  }
  return width;
}

}  // namespace safeweights_cli
