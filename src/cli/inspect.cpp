// `safeweights inspect [--json] [--sha256] FILE|INDEX.json`: what a file (or
// every shard of an index) holds, as an aligned table for people or as JSON
// for programs. With --sha256 (digests, OpenSSL) it is inspect_sha256.cpp.
#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "command.hpp"
#include "index_input.hpp"
#include "input.hpp"
#include "inspect_output.hpp"
#include "table.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

using inspect_output::plural;

std::string file_name(const sw::reader& r) { return std::filesystem::path(r.source()).filename().string(); }

// Every shard's metadata, a key's first value kept (as `merge` keeps it).
std::vector<std::pair<std::string_view, std::string_view>> merged_metadata(const sw::checkpoint& c, bool& present) {
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  present = false;
  for (const sw::reader& r : c.files()) {
    present = present || r.has_metadata();
    for (const sw::metadata_entry& m : r.metadata())
      if (std::none_of(entries.begin(), entries.end(), [&](auto& kv) { return kv.first == m.key; }))
        entries.emplace_back(m.key, m.value);
  }
  return entries;
}

std::string index_json(const sw::checkpoint& c) {
  std::string out = "{\"index\": ";
  sw::append_json_string(out, c.source());
  out += ", \"total_size\": " + uint_text(c.total_bytes()) + ", \"shards\": [";
  for (std::size_t f = 0; f < c.files().size(); ++f) {
    const sw::reader& r = c.files()[f];
    out += f ? ", {\"file\": " : "{\"file\": ";
    sw::append_json_string(out, file_name(r));
    out += ", \"header_size\": " + uint_text(r.index().header_size()) + ", \"file_size\": " + uint_text(r.file_size()) +
           "}";
  }
  bool present = false;
  auto metadata = merged_metadata(c, present);
  out += "], \"metadata\": ";
  if (!present) {
    out += "null";
  } else {
    out += '{';
    for (std::size_t i = 0; i < metadata.size(); ++i) {
      if (i) out += ", ";
      sw::append_json_string(out, metadata[i].first);
      out += ": ";
      sw::append_json_string(out, metadata[i].second);
    }
    out += '}';
  }
  out += ", \"tensors\": [";
  for (std::size_t i = 0; i < c.tensors().size(); ++i) {
    const auto& e = c.tensors()[i];
    const sw::tensor_info& t = *e.info;
    out += i == 0 ? "\n  {\"name\": " : ",\n  {\"name\": ";
    sw::append_json_string(out, t.name);
    out += ", \"dtype\": \"" + std::string(sw::dtype_name(t.type)) + "\", \"shape\": " + shape_text(t.shape) +
           ", \"shard\": ";
    sw::append_json_string(out, file_name(c.files()[e.file]));
    out += ", \"data_offsets\": [" + uint_text(t.begin) + ", " + uint_text(t.end) + "]}";
  }
  out += c.tensors().empty() ? "]}\n" : "\n]}\n";
  return out;
}

std::string index_table(const sw::checkpoint& c) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "DTYPE", "SHAPE", "BYTES", "SHARD", "OFFSETS"}};
  for (const auto& e : c.tensors()) {
    const sw::tensor_info& t = *e.info;
    rows.push_back({printable(t.name), std::string(sw::dtype_name(t.type)), shape_text(t.shape),
                    uint_text(t.byte_size()), printable(file_name(c.files()[e.file])),
                    "[" + uint_text(t.begin) + ", " + uint_text(t.end) + ")"});
  }
  std::string out = printable(c.source()) + ": " + plural(c.tensors().size(), "tensor", "tensors") + " in " +
                    plural(c.files().size(), "shard", "shards") + ", " + plural(c.total_bytes(), "byte", "bytes") +
                    " of tensor data\n";
  out += c.tensors().empty() ? "(no tensors)\n" : "\n" + format_table(rows, {false, false, false, true, false, false});
  bool present = false;
  auto metadata = merged_metadata(c, present);
  out += '\n';
  out += inspect_output::metadata_text(present, metadata);
  return out;
}

}  // namespace

int run_inspect(args_t args) {
  inspect_output::inspect_args a = inspect_output::parse_inspect_args(args);
  if (a.exit) return *a.exit;
  if (a.sha256) return run_inspect_sha256(args);
  // Only the header is needed: no mapping, no tensor byte read.
  sw::read_options options;
  options.mode = sw::io_mode::pread;
  auto r = open_input(a.path, options);
  if (!r) {
    if (kind_of(a.path) != input_kind::shard_index) return fail(r.error_value());
    auto c = open_index(a.path, options);
    if (!c) return fail(c.error_value());
    write_out(stdout, a.json ? index_json(*c) : index_table(*c));
    return exit_ok;
  }
  write_out(stdout, a.json ? inspect_output::to_json(*r, nullptr) : inspect_output::to_table(*r, nullptr));
  return exit_ok;
}

}  // namespace safeweights_cli
