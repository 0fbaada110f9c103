// `safeweights predict MODEL.safetensors DATA.csv|DATA.npy [--proba] [--json]
// [--output OUT.npy]`: a scikit-learn model stored as safetensors
// (spec/CLASSIC.md) run on rows of numbers, without Python. The model is
// checked (classic::load_model) before anything is read from DATA.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "input.hpp"
#include "npy.hpp"
#include "numeric.hpp"
#include "options.hpp"
#include "safeweights/classic/model.hpp"
#include "safeweights/format/byte_order.hpp"
#include "safeweights/io/atomic_file.hpp"
#include "safeweights/io/file_handle.hpp"
#include "safeweights/io/mapping.hpp"
#include "safeweights/io/output_sink.hpp"
#include "safeweights/util/checked.hpp"
#include "safeweights/util/json_text.hpp"
#include "table.hpp"

namespace sw = safeweights;
namespace classic = safeweights::classic;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage =
    "usage: safeweights predict [--proba] [--json] [--output OUT.npy] MODEL.safetensors DATA.csv|DATA.npy";

constexpr std::string_view help =
    "usage: safeweights predict [--proba] [--json] [--output OUT.npy] MODEL.safetensors DATA.csv|DATA.npy\n"
    "\n"
    "Runs a scikit-learn model saved by safeweights.sklearn.save (spec/CLASSIC.md)\n"
    "on DATA's rows, after checking every rule of the format (a file that breaks\n"
    "one is refused, exit 1, naming the tensor). DATA is a .npy array (told by its\n"
    "first bytes: [ROWS, FEATURES], or [FEATURES] for one row; any integer or\n"
    "float dtype) or CSV text: numbers separated by commas, one row a line, an\n"
    "optional header row of names first. Errors in DATA name the line and column.\n"
    "\n"
    "Prints one line per row: a classifier's label, a regressor's value(s), a\n"
    "transformer's output row; values comma-separated, as %.17g (exact).\n"
    "\n"
    "Options:\n"
    "  --proba          a classifier's class probabilities (in the model's class order)\n"
    "  --json           print {\"model\", \"kind\", \"classes\" (classifiers), and\n"
    "                   \"predictions\" (or \"probabilities\", or \"transformed\")}\n"
    "  --output OUT.npy write the result as a .npy array instead of printing it (F64;\n"
    "                   a classifier's integer labels as I64), atomically\n"
    "  -h, --help       show this help\n";

sw::error bad_data(std::string message) { return sw::make_error(sw::errc::invalid_argument, std::move(message)); }

// DATA's rows, row-major.
struct table_data {
  std::size_t rows = 0;
  std::vector<double> values;
};

// A .npy array of any integer or float dtype, as doubles in C order.
sw::result<table_data> read_npy(const std::string& path, std::span<const std::byte> bytes, std::size_t width) {
  auto size = npy_preamble_size(bytes.first(std::min(bytes.size(), npy_prefix_bytes)));
  if (!size) return std::move(size).error_value().in(path);
  if (*size > bytes.size()) return bad_data(path + ": truncated inside the .npy header");
  auto a = parse_npy_preamble(bytes.first(static_cast<std::size_t>(*size)));
  if (!a) return std::move(a).error_value().in(path);
  if (scalars_per_element(a->type) != 1)
    return bad_data(path + ": a " + std::string(sw::dtype_name(a->type)) + " array: predict reads real numbers");
  if (bytes.size() - a->data_offset != a->data_bytes)
    return bad_data(path + ": the header promises " + std::to_string(a->data_bytes) + " bytes of data, there are " +
                    std::to_string(bytes.size() - a->data_offset));
  table_data out;
  std::size_t cols = 0;
  if (a->shape.size() == 2) {
    out.rows = static_cast<std::size_t>(a->shape[0]);
    cols = static_cast<std::size_t>(a->shape[1]);
  } else if (a->shape.size() == 1) {
    const bool one_row = a->shape[0] == width || width != 1;
    out.rows = one_row ? 1 : static_cast<std::size_t>(a->shape[0]);
    cols = one_row ? static_cast<std::size_t>(a->shape[0]) : 1;
  } else {
    return bad_data(path + ": shape " + shape_text(a->shape) + ": predict reads [ROWS, FEATURES] or [FEATURES]");
  }
  if (cols != width)
    return bad_data(path + ": shape " + shape_text(a->shape) + ": rows of " + std::to_string(cols) +
                    " values, the model takes " + std::to_string(width) + " features");
  std::vector<std::byte> data(bytes.begin() + static_cast<std::ptrdiff_t>(a->data_offset), bytes.end());
  if (a->swap_width) sw::detail::swap_scalars(data.data(), data.size(), a->swap_width);
  out.values.resize(static_cast<std::size_t>(a->elements));
  if (!out.values.empty()) scalars_as_double(a->type, data.data(), 0, out.values.size(), out.values.data());
  if (a->fortran_order && out.rows > 1 && cols > 1) {
    std::vector<double> c_order(out.values.size());
    for (std::size_t r = 0; r < out.rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) c_order[r * cols + c] = out.values[c * out.rows + r];
    out.values = std::move(c_order);
  }
  return out;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// One CSV field as a number (also nan, inf; a leading '+'); false if it is not one.
bool parse_number(std::string_view field, double& out) {
  if (field.starts_with('+')) field.remove_prefix(1);
  if (field.empty()) return false;
  auto r = std::from_chars(field.data(), field.data() + field.size(), out);
  return r.ec == std::errc() && r.ptr == field.data() + field.size();
}

// CSV text: comma-separated numbers, one row a line; blank lines skipped; the
// first line may be a header (any field that is not a number makes it one).
sw::result<table_data> read_csv(const std::string& path, std::string_view text, std::size_t width) {
  table_data out;
  std::vector<std::string_view> fields;
  bool first = true;
  std::size_t line_number = 0;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = trimmed(text.substr(at, end - at));
    at = end + 1;
    ++line_number;
    if (line.empty()) continue;
    fields.clear();
    for (std::size_t from = 0;;) {
      std::size_t comma = line.find(',', from);
      fields.push_back(trimmed(line.substr(from, comma == std::string_view::npos ? std::string_view::npos : comma - from)));
      if (comma == std::string_view::npos) break;
      from = comma + 1;
    }
    const std::string where = path + ": line " + std::to_string(line_number);
    if (fields.size() != width)
      return bad_data(where + ": " + std::to_string(fields.size()) + " columns; the model takes " +
                      std::to_string(width) + " features");
    const std::size_t row_start = out.values.size();
    for (std::size_t c = 0; c < fields.size(); ++c) {
      double v = 0;
      if (parse_number(fields[c], v)) {
        out.values.push_back(v);
        continue;
      }
      if (first) {  // a header row
        out.values.resize(row_start);
        break;
      }
      return bad_data(where + ", column " + std::to_string(c + 1) + ": " + sw::quote_name(fields[c]) +
                      " is not a number");
    }
    first = false;
    if (out.values.size() > row_start) ++out.rows;
  }
  if (out.rows == 0) return bad_data(path + ": no rows of numbers");
  return out;
}

sw::result<table_data> read_data(const std::string& path, std::size_t width) {
  auto file = sw::file_handle::open_read(path);
  if (!file) return std::move(file).error_value().in(path);
  if (file->size() == 0) return bad_data(path + ": empty");
  auto map = sw::mapping::map(*file);
  if (!map) return std::move(map).error_value().in(path);
  std::span<const std::byte> bytes = map->bytes();
  if (has_npy_magic(bytes.first(std::min<std::size_t>(bytes.size(), 6)))) return read_npy(path, bytes, width);
  return read_csv(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), width);
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// The values of each row, comma-separated, a line each.
std::string rows_text(const std::vector<double>& values, std::size_t per_row) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += number_text(values[i]);
    out += (i + 1) % per_row == 0 ? '\n' : ',';
  }
  return out;
}

void append_label(std::string& out, const classic::model& m, std::size_t k) {
  if (m.class_numbers().empty()) sw::append_json_string(out, m.classes()[k]);
  else out += m.classes()[k];  // an integer's decimal text
}

void append_rows_json(std::string& out, const std::vector<double>& values, std::size_t per_row, bool nested) {
  out += '[';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    if (nested && i % per_row == 0) out += '[';
    append_json_number(out, values[i]);
    if (nested && (i + 1) % per_row == 0) out += ']';
  }
  out += ']';
}

sw::result<void> write_npy(const std::string& path, sw::dtype type, std::vector<std::uint64_t> shape,
                           std::span<const std::byte> bytes) {
  auto file = sw::atomic_file::create(path);
  if (!file) return std::move(file).error_value();
  const std::string preamble = npy_preamble(type, shape);
  std::vector<std::byte> data(bytes.begin(), bytes.end());
  sw::swap_elements(type, data);  // to little-endian: nothing on a little-endian host
  sw::fd_sink sink(file->fd());
  if (auto r = sink.write(std::as_bytes(std::span(preamble.data(), preamble.size()))); !r) return r;
  if (auto r = sink.write(data); !r) return r;
  if (auto r = sink.flush(); !r) return std::move(r).error_value().in(path);
  return file->commit();
}

}  // namespace

int run_predict(args_t args) {
  auto cl = parse_args(args, {{"--proba"}, {"--json"}, {"--output", true}}, "predict");
  if (cl.help()) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!cl.error.empty()) return usage_error(cl.error, usage);
  if (cl.operands.size() != 2) return usage_error("predict: expected MODEL.safetensors and DATA", usage);
  const bool proba = cl.has("--proba");
  const bool json = cl.has("--json");
  const auto output = cl.value("--output");
  if (json && output) return usage_error("predict: --json and --output exclude each other", usage);
  const std::string& model_path = cl.operands[0];

  auto file = open_input(model_path);
  if (!file) return fail(file.error_value());
  auto loaded = classic::load_model(*file);
  if (!loaded) return fail(loaded.error_value());
  const classic::model& m = *loaded;
  const auto kind = m.kind();
  if (proba && kind != classic::model_kind::classifier)
    return fail(sw::make_error(sw::errc::invalid_argument,
                               model_path + ": --proba: the model (" + m.type() + ") is not a classifier"));
  auto data = read_data(cl.operands[1], m.n_features());
  if (!data) return fail(data.error_value());
  const std::size_t rows = data->rows;
  const std::vector<double>& x = data->values;

  // The result: values (rows x per_row), or for a classifier's labels, class indices.
  std::vector<double> values;
  std::vector<std::size_t> classes;
  std::size_t per_row = m.n_outputs();
  sw::result<void> ran;
  if (kind == classic::model_kind::classifier && proba) {
    per_row = m.classes().size();
    values.resize(rows * per_row);
    ran = m.predict_proba(x, rows, values);
  } else if (kind == classic::model_kind::classifier) {
    classes.resize(rows);
    ran = m.predict_class(x, rows, classes);
  } else {
    values.resize(rows * per_row);
    ran = kind == classic::model_kind::transformer ? m.transform(x, rows, values) : m.predict(x, rows, values);
  }
  if (!ran) return fail(ran.error_value());

  if (output) {
    sw::result<void> written;
    std::string what;
    if (!classes.empty()) {
      if (m.class_numbers().empty())
        return fail(sw::make_error(sw::errc::invalid_argument,
                                   *output + ": the model's labels are strings, which predict does not write as "
                                             ".npy: use --proba, or print them"));
      std::vector<std::int64_t> labels(rows);
      for (std::size_t r = 0; r < rows; ++r) labels[r] = static_cast<std::int64_t>(m.class_numbers()[classes[r]]);
      written = write_npy(*output, sw::dtype::I64, {rows}, std::as_bytes(std::span(labels)));
      what = "[" + std::to_string(rows) + "] I64";
    } else {
      std::vector<std::uint64_t> shape = {rows};
      if (per_row != 1 || kind == classic::model_kind::transformer || proba) shape.push_back(per_row);
      written = write_npy(*output, sw::dtype::F64, shape, std::as_bytes(std::span(values)));
      what = shape_text(shape) + " F64";
    }
    if (!written) return fail(written.error_value());
    write_out(stdout, "wrote " + printable(*output) + ": " + what + "\n");
    return exit_ok;
  }

  std::string out;
  if (json) {
    static constexpr const char* kinds[] = {"classifier", "regressor", "transformer"};
    out = "{\"model\": ";
    sw::append_json_string(out, m.type());
    out += ", \"kind\": \"" + std::string(kinds[static_cast<int>(kind)]) + "\"";
    if (kind == classic::model_kind::classifier) {
      out += ", \"classes\": [";
      for (std::size_t k = 0; k < m.classes().size(); ++k) {
        if (k) out += ", ";
        append_label(out, m, k);
      }
      out += ']';
    }
    if (!classes.empty()) {
      out += ", \"predictions\": [";
      for (std::size_t r = 0; r < rows; ++r) {
        if (r) out += ", ";
        append_label(out, m, classes[r]);
      }
      out += ']';
    } else {
      out += proba ? ", \"probabilities\": " : kind == classic::model_kind::transformer ? ", \"transformed\": "
                                                                                         : ", \"predictions\": ";
      append_rows_json(out, values, per_row, proba || kind == classic::model_kind::transformer || per_row != 1);
    }
    out += "}\n";
  } else if (!classes.empty()) {
    for (std::size_t k : classes) out += printable(m.classes()[k]) + "\n";
  } else {
    out = rows_text(values, per_row);
  }
  write_out(stdout, out);
  return exit_ok;
}

}  // namespace safeweights_cli
