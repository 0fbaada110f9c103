// `safeweights validate [--pread] FILE...`: one verdict line per file. Only
// the prefix and the header are read (by pread: open_input); no tensor byte
// is used. --pread says never to map.
#include <string>

#include "command.hpp"
#include "input.hpp"
#include "safeweights/safeweights.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights validate [--pread] FILE...";

constexpr std::string_view help =
    "usage: safeweights validate [--pread] FILE...\n"
    "\n"
    "Check each FILE against the safetensors format (header, every tensor entry,\n"
    "offsets, sizes) without reading tensor data. Prints one line per file:\n"
    "  FILE: ok\n"
    "  FILE: invalid: ERROR: MESSAGE\n"
    "where ERROR is the library's error name (e.g. offsets_not_contiguous).\n"
    "Exit status: 0 when every file is valid, 1 when any is not.\n"
    "\n"
    "Options:\n"
    "  --pread     never map a file (the header is read with pread either way;\n"
    "              a file cut short while it is checked is reported as\n"
    "              file_changed, with or without this option)\n"
    "  -h, --help  show this help\n";

}  // namespace

int run_validate(args_t args) {
  command_line cl = split_args(args);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (auto f = cl.unknown_flag({"--pread"}); !f.empty())
    return usage_error("validate: unknown option `" + printable(f) + "`", usage);
  if (cl.operands.empty()) return usage_error("validate: missing FILE", usage);

  sw::read_options options;
  if (cl.has("--pread")) options.mode = sw::io_mode::pread;
  bool all_ok = true;
  std::string line;
  for (const std::string& path : cl.operands) {
    line = printable(path);
    auto r = open_input(path, options);
    if (r) {
      line += ": ok\n";
    } else {
      all_ok = false;
      std::string_view message = r.error_value().message;
      // The line already starts with the file; drop the message's copy of it.
      if (message.size() > path.size() + 1 && message.starts_with(path) &&
          message.substr(path.size(), 2) == ": ")
        message.remove_prefix(path.size() + 2);
      line += ": invalid: ";
      line += sw::to_string(r.code());
      line += ": ";
      line += printable(message);
      line += '\n';
    }
    write_out(stdout, line);
  }
  return all_ok ? exit_ok : exit_invalid;
}

}  // namespace safeweights_cli
