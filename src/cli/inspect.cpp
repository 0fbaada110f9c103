// `safeweights inspect [--json [--sha256]] FILE`: what a file holds, as an
// aligned table for people or as JSON for programs.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "command.hpp"
#include "input.hpp"
#include "safeweights/detail/json_writer.hpp"
#include "safeweights/integrity/sha256.hpp"
#include "safeweights/safeweights.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights inspect [--json [--sha256]] FILE";

constexpr std::string_view help =
    "usage: safeweights inspect [--json [--sha256]] FILE\n"
    "\n"
    "Show FILE's tensors in offset order (name, dtype, shape, size in bytes,\n"
    "data offsets [begin, end) within the data section) and its metadata.\n"
    "The file is validated first; an invalid file is an error (exit 1).\n"
    "Characters that could garble a terminal are escaped in the table.\n"
    "\n"
    "Options:\n"
    "  --json      print JSON instead of a table:\n"
    "              {\"header_size\": N, \"file_size\": N, \"metadata\": {...} or null,\n"
    "               \"tensors\": [{\"name\", \"dtype\", \"shape\", \"data_offsets\"}, ...]}\n"
    "  --sha256    with --json: add each tensor's \"sha256\" (of its raw bytes)\n"
    "              and the whole file's \"file_sha256\" (reads all the data)\n"
    "  -h, --help  show this help\n";

// The file's bytes with their SHA-256 digests: the whole file, and each tensor.
struct digests {
  std::string file;
  std::vector<std::string> tensors;  // in offset order
};

// One mapping serves both the header parse and the hashing, so the digests
// and the header always describe the same bytes.
sw::result<sw::reader> open_mapped(const std::string& path, sw::mapping& map) {
  auto file = sw::file_handle::open_read(path);
  if (!file) return std::move(file).error_value().in(path);
  auto m = sw::mapping::map(*file);
  if (!m) return std::move(m).error_value().in(path);
  map = std::move(*m);
  return sw::reader::from_buffer(map.bytes(), {}, path);
}

sw::result<digests> hash_all(const sw::reader& r, std::span<const std::byte> whole_file) {
  digests d;
  d.file = sw::to_hex(sw::sha256(whole_file));
  d.tensors.reserve(r.tensors().size());
  for (const sw::tensor_info& info : r.tensors()) {
    auto view = r.tensor(info);
    if (!view) return std::move(view).error_value();
    d.tensors.push_back(sw::to_hex(sw::sha256(view->bytes())));
  }
  return d;
}

std::string to_json(const sw::reader& r, const digests* d) {
  namespace jd = sw::detail;
  std::string out;
  out.reserve(128 + r.tensors().size() * 128);
  out += "{\"header_size\": ";
  jd::append_uint(out, r.index().header_size());
  out += ", \"file_size\": ";
  jd::append_uint(out, r.file_size());
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
      jd::append_json_string(out, m.key);
      out += ": ";
      jd::append_json_string(out, m.value);
    }
    out += '}';
  }
  out += ", \"tensors\": [";
  std::size_t i = 0;
  for (const sw::tensor_info& t : r.tensors()) {
    out += i == 0 ? "\n  " : ",\n  ";
    out += "{\"name\": ";
    jd::append_json_string(out, t.name);
    out += ", \"dtype\": \"";
    out += sw::dtype_name(t.type);
    out += "\", \"shape\": [";
    for (std::size_t k = 0; k < t.shape.size(); ++k) {
      if (k) out += ", ";
      jd::append_uint(out, t.shape[k]);
    }
    out += "], \"data_offsets\": [";
    jd::append_uint(out, t.begin);
    out += ", ";
    jd::append_uint(out, t.end);
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

std::string shape_text(std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k) s += ", ";
    sw::detail::append_uint(s, shape[k]);
  }
  s += ']';
  return s;
}

std::string number(std::uint64_t v) {
  std::string s;
  sw::detail::append_uint(s, v);
  return s;
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return number(n) + " " + std::string(n == 1 ? one : many);
}

// The table: a summary line, one row per tensor with every column padded to
// its widest cell (sizes right-aligned), then the metadata.
std::string to_table(const sw::reader& r) {
  constexpr std::size_t columns = 5;
  constexpr std::array<std::string_view, columns> heading = {"NAME", "DTYPE", "SHAPE", "BYTES", "OFFSETS"};
  constexpr std::array<bool, columns> right_aligned = {false, false, false, true, false};

  std::vector<std::array<std::string, columns>> rows;
  rows.reserve(r.tensors().size() + 1);
  rows.push_back({});
  for (std::size_t c = 0; c < columns; ++c) rows[0][c] = heading[c];
  for (const sw::tensor_info& t : r.tensors())
    rows.push_back({printable(t.name), std::string(sw::dtype_name(t.type)), shape_text(t.shape),
                    number(t.byte_size()), "[" + number(t.begin) + ", " + number(t.end) + ")"});

  std::array<std::size_t, columns> width{};
  std::vector<std::size_t> name_width(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    name_width[i] = display_width(rows[i][0]);
    width[0] = std::max(width[0], name_width[i]);
    for (std::size_t c = 1; c < columns; ++c) width[c] = std::max(width[c], rows[i][c].size());  // ASCII
  }

  std::string out = printable(r.source());
  out += ": " + plural(r.tensors().size(), "tensor", "tensors") + ", " + plural(r.file_size(), "byte", "bytes") +
         " (header " + number(r.index().header_size()) + ", data " + number(r.index().data_size()) + ")\n";
  if (r.tensors().empty()) {
    out += "(no tensors)\n";
  } else {
    out += '\n';
    for (std::size_t i = 0; i < rows.size(); ++i) {
      for (std::size_t c = 0; c < columns; ++c) {
        const std::string& cell = rows[i][c];
        std::size_t pad = width[c] - (c == 0 ? name_width[i] : cell.size());
        if (c) out += "  ";
        if (right_aligned[c]) out.append(pad, ' ');
        out += cell;
        if (!right_aligned[c] && c + 1 < columns) out.append(pad, ' ');
      }
      out += '\n';
    }
  }
  out += '\n';
  if (!r.has_metadata()) {
    out += "(no metadata)\n";
  } else if (r.metadata().empty()) {
    out += "metadata: (empty)\n";
  } else {
    out += "metadata:\n";
    for (const sw::metadata_entry& m : r.metadata()) {
      out += "  ";
      out += printable(m.key);
      out += " = ";
      out += printable(m.value);
      out += '\n';
    }
  }
  return out;
}

}  // namespace

int run_inspect(args_t args) {
  command_line cl = split_args(args);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (auto f = cl.unknown_flag({"--json", "--sha256"}); !f.empty())
    return usage_error("inspect: unknown option `" + printable(f) + "`", usage);
  const bool json = cl.has("--json");
  const bool sha = cl.has("--sha256");
  if (sha && !json) return usage_error("inspect: --sha256 needs --json", usage);
  if (cl.operands.empty()) return usage_error("inspect: missing FILE", usage);
  if (cl.operands.size() > 1) return usage_error("inspect: one FILE only", usage);
  const std::string& path = cl.operands[0];

  if (sha) {
    sw::mapping map;
    auto r = open_mapped(path, map);
    if (!r) return fail(r.error_value());
    auto d = hash_all(*r, map.bytes());
    if (!d) return fail(d.error_value());
    write_out(stdout, to_json(*r, &*d));
    return exit_ok;
  }
  // Only the header is needed: no mapping, no tensor byte read.
  sw::read_options options;
  options.mode = sw::io_mode::pread;
  auto r = open_input(path, options);
  if (!r) return fail(r.error_value());
  write_out(stdout, json ? to_json(*r, nullptr) : to_table(*r));
  return exit_ok;
}

}  // namespace safeweights_cli
