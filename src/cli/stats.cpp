// `safeweights stats [--json] FILE [NAME...]`: per tensor the minimum,
// maximum, mean and standard deviation of its values and how many are NaN,
// infinite or zero.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "file_kind.hpp"
#include "index_input.hpp"
#include "input.hpp"
#include "numeric.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "safeweights/safeweights.hpp"
#include "table.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights stats [--json] FILE|INDEX.json [NAME...]";

constexpr std::string_view help =
    "usage: safeweights stats [--json] FILE|INDEX.json [NAME...]\n"
    "\n"
    "For each tensor (all of them in file order, or the NAMEs given): the\n"
    "number of values, their minimum, maximum, mean and standard deviation,\n"
    "and how many are NaN, infinite and zero. Every value is read as F64\n"
    "(exact for every dtype but I64/U64 beyond 2^53). MIN, MAX, MEAN and STD\n"
    "are over the finite values only; STD is the population deviation\n"
    "(ddof=0, numpy.std's default). C64 counts real and imaginary parts as\n"
    "two values. Packed F4/F6 tensors are not converted: only their element\n"
    "count is shown. A NAME the file lacks is an error (exit 1). Given a shard\n"
    "index (model.safetensors.index.json), the tensors of every shard it names\n"
    "(the index and the shards checked against each other first, as `validate`\n"
    "checks them).\n"
    "\n"
    "Options:\n"
    "  --json      print {\"tensors\": [{\"name\", \"dtype\", \"shape\", \"count\", \"min\",\n"
    "              \"max\", \"mean\", \"std\", \"nan\", \"inf\", \"zeros\"}]}; a value\n"
    "              that does not exist (no finite values, packed dtype) is null\n"
    "  -h, --help  show this help\n";

struct tensor_stats {
  const sw::tensor_info* info = nullptr;
  bool converted = false;  // false for the packed types
  std::uint64_t count = 0, finite = 0, nan = 0, inf = 0, zeros = 0;
  double min = std::numeric_limits<double>::infinity(), max = -std::numeric_limits<double>::infinity();
  double mean = 0, m2 = 0;  // running mean and sum of squared deviations (Chan et al.)

  double stddev() const { return finite ? std::sqrt(m2 / static_cast<double>(finite)) : 0; }
};

// One block: its finite values' mean and squared deviations by two passes
// (exact enough, as the block is small), merged into the running totals.
void add_block(tensor_stats& s, const double* v, std::size_t n) {
  double sum = 0;
  std::uint64_t finite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double x = v[i];
    if (std::isnan(x)) {
      ++s.nan;
    } else if (std::isinf(x)) {
      ++s.inf;
    } else {
      ++finite;
      sum += x;
      s.min = std::min(s.min, x);
      s.max = std::max(s.max, x);
    }
    if (x == 0) ++s.zeros;
  }
  if (finite == 0) return;
  double mean = sum / static_cast<double>(finite), m2 = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (std::isfinite(v[i])) m2 += (v[i] - mean) * (v[i] - mean);
  if (s.finite == 0) {
    s.mean = mean;
    s.m2 = m2;
  } else {
    double total = static_cast<double>(s.finite + finite), delta = mean - s.mean;
    s.mean += delta * static_cast<double>(finite) / total;
    s.m2 += m2 + delta * delta * static_cast<double>(s.finite) * static_cast<double>(finite) / total;
  }
  s.finite += finite;
}

// A tensor to go over, and the file (of an index's shards, the one) that holds it.
struct chosen_tensor {
  const sw::reader* file;
  const sw::tensor_info* info;
};

sw::result<std::vector<tensor_stats>> compute(const std::string& source, const std::vector<chosen_tensor>& chosen) {
  std::uint64_t total = 0;
  for (const chosen_tensor& c : chosen) total += c.info->byte_size();
  progress bar("stats " + printable(source), total);
  std::vector<double> block(block_scalars);
  std::vector<tensor_stats> out;
  for (const auto& [file, t] : chosen) {
    tensor_stats s;
    s.info = t;
    unsigned per = scalars_per_element(t->type);
    s.converted = per != 0;
    s.count = t->elements * (per ? per : 1);
    if (s.converted) {
      auto view = file->tensor(*t);
      if (!view) return std::move(view).error_value();
      const std::byte* data = view->bytes().data();
      for (std::uint64_t first = 0; first < s.count; first += block_scalars) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(block_scalars, s.count - first));
        scalars_as_double(t->type, data, first, n, block.data());
        add_block(s, block.data(), n);
        bar.add(n * sw::byte_width(t->type) / per);
      }
    }
    out.push_back(s);
  }
  return out;
}

std::string to_json(const std::vector<tensor_stats>& all) {
  std::string out = "{\"tensors\": [";
  bool first = true;
  for (const tensor_stats& s : all) {
    out += first ? "\n  " : ",\n  ";
    first = false;
    out += "{\"name\": ";
    sw::append_json_string(out, s.info->name);
    out += ", \"dtype\": \"" + std::string(sw::dtype_name(s.info->type)) + "\", \"shape\": ";
    append_json_shape(out, s.info->shape);
    out += ", \"count\": " + uint_text(s.count);
    auto field = [&](const char* key, double v, bool present) {
      out += ", \"";
      out += key;
      out += "\": ";
      if (present) append_json_number(out, v);
      else out += "null";
    };
    const bool any = s.converted && s.finite > 0;
    field("min", s.min, any);
    field("max", s.max, any);
    field("mean", s.mean, any);
    field("std", s.stddev(), any);
    for (auto [key, n] : {std::pair{"nan", s.nan}, std::pair{"inf", s.inf}, std::pair{"zeros", s.zeros}}) {
      out += ", \"";
      out += key;
      out += "\": ";
      out += s.converted ? uint_text(n) : std::string("null");
    }
    out += '}';
  }
  out += first ? "]}\n" : "\n]}\n";
  return out;
}

std::string to_table(const std::vector<tensor_stats>& all) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "DTYPE", "COUNT", "MIN", "MAX", "MEAN", "STD", "NAN", "INF", "ZEROS"}};
  for (const tensor_stats& s : all) {
    const bool any = s.converted && s.finite > 0;
    auto num = [&](double v) { return any ? number_text(v) : std::string("-"); };
    auto cnt = [&](std::uint64_t v) { return s.converted ? uint_text(v) : std::string("-"); };
    rows.push_back({printable(s.info->name), std::string(sw::dtype_name(s.info->type)), uint_text(s.count),
                    num(s.min), num(s.max), num(s.mean), num(s.stddev()), cnt(s.nan), cnt(s.inf), cnt(s.zeros)});
  }
  if (all.empty()) return "(no tensors)\n";
  return format_table(rows, {false, false, true, true, true, true, true, true, true, true});
}

}  // namespace

int run_stats(args_t args) {
  parsed_args a = parse_args(args, {{"--json", false}}, "stats");
  if (a.help()) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!a.error.empty()) return usage_error(a.error, usage);
  if (a.operands.empty()) return usage_error("stats: missing FILE", usage);
  const std::string& path = a.operands[0];

  // A file, or an index and its shards (checked against each other).
  std::optional<sw::reader> file;
  std::optional<sw::checkpoint> shards;
  if (auto r = open_input(path)) {
    file = std::move(*r);
  } else if (kind_of(path) != input_kind::shard_index) {
    return fail(r.error_value());
  } else if (auto c = open_index(path)) {
    shards = std::move(*c);
  } else {
    return fail(c.error_value());
  }
  auto find = [&](std::string_view name) -> std::optional<chosen_tensor> {
    if (file) {
      if (const sw::tensor_info* t = file->find(name)) return chosen_tensor{&*file, t};
    } else if (const auto* e = shards->find(name)) {
      return chosen_tensor{&shards->files()[e->file], e->info};
    }
    return std::nullopt;
  };
  std::vector<chosen_tensor> chosen;
  if (a.operands.size() == 1) {
    if (file)
      for (const sw::tensor_info& t : file->tensors()) chosen.push_back({&*file, &t});
    else
      for (const auto& e : shards->tensors()) chosen.push_back({&shards->files()[e.file], e.info});
  } else {
    for (std::size_t i = 1; i < a.operands.size(); ++i) {
      auto t = find(a.operands[i]);
      if (!t)
        return fail(sw::make_error(sw::errc::tensor_not_found,
                                   path + ": no tensor " + sw::quote_name(a.operands[i])));
      chosen.push_back(*t);
    }
  }
  auto stats = compute(path, chosen);
  if (!stats) return fail(stats.error_value());
  write_out(stdout, a.has("--json") ? to_json(*stats) : to_table(*stats));
  return exit_ok;
}

}  // namespace safeweights_cli
