// `safeweights validate [--json] [--pread] FILE...`: one verdict per file (or
// per shard and index). Only the prefix and the header are read (by pread:
// open_input); no tensor byte is used. --pread says never to map.
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "file_kind.hpp"
#include "index_input.hpp"
#include "input.hpp"
#include "safeweights/safeweights.hpp"
#include "safeweights/util/json_text.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights validate [--json] [--pread] FILE|INDEX.json...";

constexpr std::string_view help =
    "usage: safeweights validate [--json] [--pread] FILE|INDEX.json...\n"
    "\n"
    "Check each FILE against the safetensors format (header, every tensor entry,\n"
    "offsets, sizes) without reading tensor data. Prints one line per file:\n"
    "  FILE: ok\n"
    "  FILE: invalid: ERROR: MESSAGE\n"
    "where ERROR is the library's error name (e.g. offsets_not_contiguous). A\n"
    "file that is not safetensors (NumPy, a pickle, a directory) is named as\n"
    "such in MESSAGE; ERROR stays the format's complaint (e.g. header_too_large).\n"
    "A shard index (model.safetensors.index.json) is checked with every shard\n"
    "it names: when all is well, a line per shard and then\n"
    "  INDEX: ok (index of K shards, N tensors)\n"
    "otherwise one line, INDEX: invalid: ..., naming the first problem (a shard\n"
    "that is invalid or missing, a tensor in two shards, one the index lists\n"
    "that its shard lacks or one it does not list, a wrong total_size).\n"
    "Exit status: 0 when every file is valid, 1 when any is not.\n"
    "\n"
    "Options:\n"
    "  --json      print {\"files\": [{\"file\": F, \"ok\": true}, {\"file\": F,\n"
    "              \"ok\": false, \"code\": ERROR, \"error\": MESSAGE}, ...]}, the\n"
    "              same entries as the lines; an index's entry has \"index\": true\n"
    "  --pread     never map a file (the header is read with pread either way;\n"
    "              a file cut short while it is checked is reported as\n"
    "              file_changed, with or without this option)\n"
    "  -h, --help  show this help\n";

// One verdict: a file (or an index) and its error, if any.
struct verdict {
  std::string file;
  bool index = false;
  std::string note;  // after "ok" in the line
  std::optional<sw::error> error;
};

std::string line_of(const verdict& v) {
  std::string line = printable(v.file);
  if (!v.error) return line + ": ok" + (v.note.empty() ? "" : " (" + v.note + ")") + "\n";
  std::string_view message = v.error->message;
  // The line already starts with the file; drop the message's copy of it.
  if (message.size() > v.file.size() + 1 && message.starts_with(v.file) && message.substr(v.file.size(), 2) == ": ")
    message.remove_prefix(v.file.size() + 2);
  return line + ": invalid: " + std::string(sw::to_string(v.error->code)) + ": " + printable(message) + "\n";
}

void append_json(std::string& out, const verdict& v) {
  out += "{\"file\": ";
  sw::append_json_string(out, v.file);
  if (v.index) out += ", \"index\": true";
  out += v.error ? ", \"ok\": false, \"code\": \"" : ", \"ok\": true}";
  if (!v.error) return;
  out += sw::to_string(v.error->code);
  out += "\", \"error\": ";
  sw::append_json_string(out, v.error->message);
  out += '}';
}

// The verdicts on one operand: the file, or an index and its shards.
std::vector<verdict> check(const std::string& path, const sw::read_options& options) {
  auto r = open_input(path, options);
  if (r) return {{path, false, "", std::nullopt}};
  if (kind_of(path) != input_kind::shard_index) return {{path, false, "", r.error_value()}};
  auto c = open_index(path, options);
  if (!c) return {{path, true, "", c.error_value()}};
  std::vector<verdict> all;
  for (const sw::reader& shard : c->files()) all.push_back({shard.source(), false, "", std::nullopt});
  all.push_back({path, true,
                 "index of " + std::to_string(c->files().size()) + (c->files().size() == 1 ? " shard, " : " shards, ") +
                     std::to_string(c->tensors().size()) + (c->tensors().size() == 1 ? " tensor" : " tensors"),
                 std::nullopt});
  return all;
}

}  // namespace

int run_validate(args_t args) {
  command_line cl = split_args(args);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (auto f = cl.unknown_flag({"--pread", "--json"}); !f.empty())
    return usage_error("validate: unknown option `" + printable(f) + "`", usage);
  if (cl.operands.empty()) return usage_error("validate: missing FILE", usage);

  sw::read_options options;
  if (cl.has("--pread")) options.mode = sw::io_mode::pread;
  const bool json = cl.has("--json");
  bool all_ok = true;
  std::string out = json ? "{\"files\": [" : "";
  bool first = true;
  for (const std::string& path : cl.operands) {
    for (const verdict& v : check(path, options)) {
      all_ok = all_ok && !v.error;
      if (json) {
        out += first ? "\n  " : ",\n  ";
        append_json(out, v);
      } else {
        write_out(stdout, line_of(v));  // line by line: a long list shows progress
      }
      first = false;
    }
  }
  if (json) write_out(stdout, out + "\n]}\n");
  return all_ok ? exit_ok : exit_invalid;
}

}  // namespace safeweights_cli
