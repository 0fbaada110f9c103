// What `inspect` prints about one file, as a table or as JSON, and how its
// arguments are read: shared by `inspect` and `inspect --sha256`
// (inspect_sha256.cpp, the part that hashes).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "command.hpp"
#include "safeweights/io/reader.hpp"
#include "safeweights/util/json_text.hpp"
#include "table.hpp"

namespace sw = safeweights;

namespace safeweights_cli::inspect_output {

inline constexpr std::string_view usage = "usage: safeweights inspect [--json] [--sha256] FILE|INDEX.json";

inline constexpr std::string_view help =
    "usage: safeweights inspect [--json] [--sha256] FILE|INDEX.json\n"
    "\n"
    "Show FILE's tensors in offset order (name, dtype, shape, size in bytes,\n"
    "data offsets [begin, end) within the data section) and its metadata.\n"
    "The file is validated first; an invalid file is an error (exit 1), and one\n"
    "that is not safetensors (NumPy, a pickle, a directory) is named as such.\n"
    "Characters that could garble a terminal are escaped in the table.\n"
    "\n"
    "Given a shard index (model.safetensors.index.json), show every tensor of\n"
    "every shard it names, with its shard, after checking the index and the\n"
    "shards against each other (a tensor in two shards, one the index lists\n"
    "that its shard lacks or one it does not list, a wrong total_size: exit 1).\n"
    "The metadata shown is every shard's, a key's first value kept.\n"
    "\n"
    "Options:\n"
    "  --json      print JSON instead of a table:\n"
    "              {\"header_size\": N, \"file_size\": N, \"metadata\": {...} or null,\n"
    "               \"tensors\": [{\"name\", \"dtype\", \"shape\", \"data_offsets\"}, ...]};\n"
    "              for an index {\"index\": PATH, \"total_size\": N,\n"
    "               \"shards\": [{\"file\", \"header_size\", \"file_size\"}, ...],\n"
    "               \"metadata\", \"tensors\": [{..., \"shard\": FILE}, ...]}\n"
    "  --sha256    add each tensor's SHA-256 (of its raw bytes) and the whole\n"
    "              file's (a SHA256 column and a line in the table; \"sha256\" and\n"
    "              \"file_sha256\" in JSON); reads all the data. One file only.\n"
    "  -h, --help  show this help\n";

// The arguments, checked; `exit` set when the command is already done (--help, a usage error).
struct inspect_args {
  bool json = false;
  bool sha256 = false;
  std::string path;
  std::optional<int> exit;
};

inline inspect_args parse_inspect_args(args_t args) {
  inspect_args a;
  command_line cl = split_args(args);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    a.exit = exit_ok;
  } else if (auto f = cl.unknown_flag({"--json", "--sha256"}); !f.empty()) {
    a.exit = usage_error("inspect: unknown option `" + printable(f) + "`", usage);
  } else if (cl.operands.size() != 1) {
    a.exit = usage_error(cl.operands.empty() ? "inspect: missing FILE" : "inspect: one FILE only", usage);
  } else {
    a.json = cl.has("--json");
    a.sha256 = cl.has("--sha256");
    a.path = cl.operands[0];
  }
  return a;
}

// The file's bytes with their SHA-256 digests: the whole file, and each tensor.
struct digests {
  std::string file;
  std::vector<std::string> tensors;  // in offset order
};

inline std::string to_json(const sw::reader& r, const digests* d) {
  std::string out;
  out.reserve(128 + r.tensors().size() * 128);
  out += "{\"header_size\": ";
  sw::append_uint(out, r.index().header_size());
  out += ", \"file_size\": ";
  sw::append_uint(out, r.file_size());
  if (d) {
    out += ", \"file_sha256\": \"";
    out += d->file;
    out += '"';
  }
  out += ", \"metadata\": ";
  if (!r.has_metadata()) {
    out += "null";
  } else {
    out += '{';
    bool first = true;
    for (const sw::metadata_entry& m : r.metadata()) {
      if (!first) out += ", ";
      first = false;
      sw::append_json_string(out, m.key);
      out += ": ";
      sw::append_json_string(out, m.value);
    }
    out += '}';
  }
  out += ", \"tensors\": [";
  std::size_t i = 0;
  for (const sw::tensor_info& t : r.tensors()) {
    out += i == 0 ? "\n  " : ",\n  ";
    out += "{\"name\": ";
    sw::append_json_string(out, t.name);
    out += ", \"dtype\": \"";
    out += sw::dtype_name(t.type);
    out += "\", \"shape\": [";
    for (std::size_t k = 0; k < t.shape.size(); ++k) {
      if (k) out += ", ";
      sw::append_uint(out, t.shape[k]);
    }
    out += "], \"data_offsets\": [";
    sw::append_uint(out, t.begin);
    out += ", ";
    sw::append_uint(out, t.end);
    out += ']';
    if (d) {
      out += ", \"sha256\": \"";
      out += d->tensors[i];
      out += '"';
    }
    out += '}';
    ++i;
  }
  out += i == 0 ? "]}\n" : "\n]}\n";
  return out;
}

inline std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return uint_text(n) + " " + std::string(n == 1 ? one : many);
}

// The metadata block of the table.
inline std::string metadata_text(bool present, std::span<const std::pair<std::string_view, std::string_view>> entries) {
  if (!present) return "(no metadata)\n";
  if (entries.empty()) return "metadata: (empty)\n";
  std::string out = "metadata:\n";
  for (const auto& [key, value] : entries) out += "  " + printable(key) + " = " + printable(value) + "\n";
  return out;
}

// The table: a summary line (and the file's SHA-256), one row per tensor
// with every column padded to its widest cell (sizes right-aligned), then
// the metadata.
inline std::string to_table(const sw::reader& r, const digests* d) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "DTYPE", "SHAPE", "BYTES", "OFFSETS"}};
  if (d) rows[0].push_back("SHA256");
  rows.reserve(r.tensors().size() + 1);
  std::size_t i = 0;
  for (const sw::tensor_info& t : r.tensors()) {
    rows.push_back({printable(t.name), std::string(sw::dtype_name(t.type)), shape_text(t.shape),
                    uint_text(t.byte_size()), "[" + uint_text(t.begin) + ", " + uint_text(t.end) + ")"});
    if (d) rows.back().push_back(d->tensors[i++]);
  }
  std::string out = printable(r.source());
  out += ": " + plural(r.tensors().size(), "tensor", "tensors") + ", " + plural(r.file_size(), "byte", "bytes") +
         " (header " + uint_text(r.index().header_size()) + ", data " + uint_text(r.index().data_size()) + ")\n";
  if (d) out += "sha256 " + d->file + "\n";
  if (r.tensors().empty()) {
    out += "(no tensors)\n";
  } else {
    out += '\n';
    out += format_table(rows, {false, false, false, true, false, false});
  }
  out += '\n';
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  for (const sw::metadata_entry& m : r.metadata()) entries.emplace_back(m.key, m.value);
  out += metadata_text(r.has_metadata(), entries);
  return out;
}

}  // namespace safeweights_cli::inspect_output

namespace safeweights_cli {

// `inspect --sha256` (inspect_sha256.cpp): the table or JSON with digests.
int run_inspect_sha256(args_t args);

}  // namespace safeweights_cli
