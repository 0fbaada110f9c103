// `safeweights diff [--json] [--atol X] [--rtol Y] A B`: what differs between
// two files: tensors in one only, tensors whose dtype, shape or bytes differ
// (with how far apart their values are), and metadata. Exit 0 when they hold
// the same (with tolerances: values within them), 1 when not, 3 when a file
// could not be read.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "input.hpp"
#include "numeric.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "safeweights/safeweights.hpp"
#include "signals.hpp"
#include "table.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights diff [--json] [--atol X] [--rtol Y] A B";

constexpr std::string_view help =
    "usage: safeweights diff [--json] [--atol X] [--rtol Y] A B\n"
    "\n"
    "Compare two safetensors files: tensors only in A or only in B, tensors\n"
    "whose shape or dtype differ, and for tensors of equal shape whether their\n"
    "bytes are identical and, if not, how many values differ and the largest\n"
    "absolute and relative difference |a-b| / max(|a|,|b|), with every value\n"
    "read as F64 (so an F32 tensor and its BF16 cast can be compared). NaN\n"
    "equals NaN; a NaN or infinity facing anything else is counted apart\n"
    "(nonfinite) and left out of the maxima. Packed F4/F6 tensors are compared\n"
    "by bytes only. Then the metadata: keys in one file only, and keys whose\n"
    "values differ. Tensor order and file layout do not matter.\n"
    "\n"
    "By default tensors are the same only when their bytes are (dtype too).\n"
    "With --atol or --rtol (the other one is then 0), two tensors of one shape\n"
    "are the same when every pair of values a (from A) and b (from B) has\n"
    "|a - b| <= atol + rtol * |b|, numpy.allclose's rule (B is the reference),\n"
    "whatever their dtypes; NaN equals NaN, an infinity only itself.\n"
    "\n"
    "Exit status: 0 when A and B hold the same tensors and metadata, 1 when\n"
    "they differ, 2 on a usage error, 3 when they could not be compared (a file\n"
    "missing, unreadable or invalid; the error is on stderr).\n"
    "\n"
    "Options:\n"
    "  --atol X    absolute tolerance (a number >= 0)\n"
    "  --rtol Y    relative tolerance, of |b| (a number >= 0)\n"
    "  --json      print {\"identical\", \"same\", \"atol\", \"rtol\", \"only_in_a\",\n"
    "              \"only_in_b\", \"identical_tensors\", \"different_tensors\":\n"
    "              [{\"name\", \"a\", \"b\", \"bytes_identical\", \"compared\",\n"
    "              \"values_differing\", \"nonfinite_mismatches\", \"max_abs_diff\",\n"
    "              \"max_rel_diff\", \"within_tolerance\", \"values_outside_tolerance\"}],\n"
    "              \"metadata\": {\"only_in_a\", \"only_in_b\", \"different\"}}:\n"
    "              \"identical\" is byte identity, \"same\" the exit status's verdict;\n"
    "              atol and rtol are null, and the tolerance fields absent, unless\n"
    "              a tolerance is given\n"
    "  -h, --help  show this help\n";

// numpy.allclose's rule, |a - b| <= atol + rtol * |b|, given when --atol or --rtol is.
struct tolerance {
  double atol = 0, rtol = 0;
  bool within(double a, double b) const { return std::fabs(a - b) <= atol + rtol * std::fabs(b); }
};

struct tensor_diff {
  const sw::tensor_info* a = nullptr;
  const sw::tensor_info* b = nullptr;
  bool bytes_identical = false;
  bool compared = false;  // the values were compared (equal shapes, both convertible)
  std::uint64_t differing = 0, nonfinite = 0;
  std::uint64_t outside = 0;  // values beyond the tolerance (nonfinite mismatches included)
  double max_abs = 0, max_rel = 0;
  // Same under the tolerance: compared, and no value outside it.
  bool within_tolerance() const { return compared && outside == 0; }
};

struct metadata_diff {
  std::vector<sw::metadata_entry> only_a, only_b;
  std::vector<std::pair<sw::metadata_entry, std::string_view>> different;  // key and A's value, B's value
  bool empty() const { return only_a.empty() && only_b.empty() && different.empty(); }
};

struct file_diff {
  std::vector<const sw::tensor_info*> only_a, only_b;
  std::vector<tensor_diff> different;
  std::size_t identical = 0;
  metadata_diff metadata;
  std::optional<tolerance> tol;
  bool identical_files() const { return only_a.empty() && only_b.empty() && different.empty() && metadata.empty(); }
  std::size_t within_tolerance() const {
    return tol ? static_cast<std::size_t>(std::ranges::count_if(different, &tensor_diff::within_tolerance)) : 0;
  }
  // The verdict of the exit status: identical, or the same but for values within the tolerance.
  bool same() const {
    return only_a.empty() && only_b.empty() && metadata.empty() && within_tolerance() == different.size();
  }
};

bool same_shape(const sw::tensor_info& a, const sw::tensor_info& b) { return std::ranges::equal(a.shape, b.shape); }

void compare_values(tensor_diff& d, const std::byte* pa, const std::byte* pb, std::uint64_t scalars,
                    const std::optional<tolerance>& tol, progress& bar, std::vector<double>& va,
                    std::vector<double>& vb) {
  const std::uint64_t bytes_per = d.a->byte_size() / std::max<std::uint64_t>(scalars, 1) +
                                  d.b->byte_size() / std::max<std::uint64_t>(scalars, 1);
  for (std::uint64_t first = 0; first < scalars; first += block_scalars) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(block_scalars, scalars - first));
    scalars_as_double(d.a->type, pa, first, n, va.data());
    scalars_as_double(d.b->type, pb, first, n, vb.data());
    for (std::size_t i = 0; i < n; ++i) {
      double x = va[i], y = vb[i];
      if (x == y || (std::isnan(x) && std::isnan(y))) continue;
      ++d.differing;
      if (!std::isfinite(x) || !std::isfinite(y)) {
        ++d.nonfinite;
        ++d.outside;
        continue;
      }
      if (tol && !tol->within(x, y)) ++d.outside;
      double abs = std::fabs(x - y);
      d.max_abs = std::max(d.max_abs, abs);
      d.max_rel = std::max(d.max_rel, abs / std::max(std::fabs(x), std::fabs(y)));
    }
    bar.add(n * bytes_per);
  }
}

sw::result<file_diff> compare(const sw::reader& a, const sw::reader& b, const std::optional<tolerance>& tol) {
  file_diff out;
  out.tol = tol;
  std::vector<std::pair<const sw::tensor_info*, const sw::tensor_info*>> common;
  std::uint64_t total = 0;
  for (const sw::tensor_info& t : a.tensors()) {
    if (const sw::tensor_info* u = b.find(t.name)) {
      common.emplace_back(&t, u);
      if (same_shape(t, *u)) total += t.byte_size() + u->byte_size();
    } else {
      out.only_a.push_back(&t);
    }
  }
  for (const sw::tensor_info& u : b.tensors())
    if (!a.find(u.name)) out.only_b.push_back(&u);

  progress bar("diff", total);
  std::vector<double> va(block_scalars), vb(block_scalars);
  for (auto [t, u] : common) {
    tensor_diff d{t, u};
    if (same_shape(*t, *u)) {
      auto x = a.tensor(*t);
      if (!x) return std::move(x).error_value();
      auto y = b.tensor(*u);
      if (!y) return std::move(y).error_value();
      d.bytes_identical = t->type == u->type &&
                          (t->byte_size() == 0 || std::memcmp(x->bytes().data(), y->bytes().data(), t->byte_size()) == 0);
      const unsigned per = scalars_per_element(t->type);
      if (d.bytes_identical) {
        bar.add(t->byte_size() + u->byte_size());
      } else if (per != 0 && per == scalars_per_element(u->type)) {
        d.compared = true;
        compare_values(d, x->bytes().data(), y->bytes().data(), t->elements * per, tol, bar, va, vb);
      }
    }
    if (d.bytes_identical) ++out.identical;
    else out.different.push_back(d);
  }

  for (const sw::metadata_entry& m : a.metadata()) {
    auto other = b.metadata_value(m.key);
    if (!other) out.metadata.only_a.push_back(m);
    else if (*other != m.value) out.metadata.different.emplace_back(m, *other);
  }
  for (const sw::metadata_entry& m : b.metadata())
    if (!a.metadata_value(m.key)) out.metadata.only_b.push_back(m);
  return out;
}

std::string describe(const sw::tensor_info& t) {
  return std::string(sw::dtype_name(t.type)) + " " + shape_text(t.shape);
}

std::string to_text(const file_diff& d, const std::string& pa, const std::string& pb) {
  std::string out;
  const std::string na = printable(pa), nb = printable(pb);
  for (const sw::tensor_info* t : d.only_a) out += "only in " + na + ": " + printable(t->name) + " (" + describe(*t) + ")\n";
  for (const sw::tensor_info* t : d.only_b) out += "only in " + nb + ": " + printable(t->name) + " (" + describe(*t) + ")\n";
  for (const tensor_diff& t : d.different) {
    out += printable(t.a->name) + ": ";
    std::string kinds = describe(*t.a) == describe(*t.b) ? describe(*t.a) : describe(*t.a) + " vs " + describe(*t.b);
    if (!same_shape(*t.a, *t.b)) {
      out += "shape differs: " + kinds + "\n";
    } else if (!t.compared) {
      out += t.a->type == t.b->type ? "bytes differ: " + kinds + "\n" : "dtype differs: " + kinds + " (not comparable)\n";
    } else if (t.differing == 0) {
      out += "values equal, " + std::string(t.a->type == t.b->type ? "bytes differ" : "dtype differs") + ": " + kinds + "\n";
    } else {
      out += uint_text(t.differing) + " of " + uint_text(t.a->elements * scalars_per_element(t.a->type)) +
             " values differ: " + kinds + ", max abs " + number_text(t.max_abs) + ", max rel " + number_text(t.max_rel);
      if (t.nonfinite) out += ", " + uint_text(t.nonfinite) + " nonfinite";
      if (d.tol) out += t.outside ? ", " + uint_text(t.outside) + " outside tolerance" : ", within tolerance";
      out += "\n";
    }
  }
  for (const sw::metadata_entry& m : d.metadata.only_a)
    out += "metadata only in " + na + ": " + printable(m.key) + " = " + printable(m.value) + "\n";
  for (const sw::metadata_entry& m : d.metadata.only_b)
    out += "metadata only in " + nb + ": " + printable(m.key) + " = " + printable(m.value) + "\n";
  for (const auto& [m, other] : d.metadata.different)
    out += "metadata differs: " + printable(m.key) + " = " + printable(m.value) + " vs " + printable(other) + "\n";
  if (d.identical_files()) {
    out += "identical: " + uint_text(d.identical) + " tensors, same metadata\n";
  } else if (d.same()) {
    out += "same within atol " + number_text(d.tol->atol) + ", rtol " + number_text(d.tol->rtol) + ": " +
           uint_text(d.identical) + " tensors identical, " + uint_text(d.within_tolerance()) +
           " within tolerance, same metadata\n";
  } else {
    const std::string within = d.tol ? " (" + uint_text(d.within_tolerance()) + " within tolerance)" : "";
    out += "differ: " + uint_text(d.identical) + " tensors identical, " + uint_text(d.different.size()) + " different" +
           within + ", " +
           uint_text(d.only_a.size()) + " only in " + na + ", " + uint_text(d.only_b.size()) + " only in " + nb +
           (d.metadata.empty() ? ", same metadata\n" : ", metadata differs\n");
  }
  return out;
}

void append_kind(std::string& out, const sw::tensor_info& t) {
  out += "{\"dtype\": \"" + std::string(sw::dtype_name(t.type)) + "\", \"shape\": ";
  append_json_shape(out, t.shape);
  out += '}';
}

void append_tensor_list(std::string& out, const std::vector<const sw::tensor_info*>& list) {
  out += '[';
  for (std::size_t i = 0; i < list.size(); ++i) {
    out += i ? ", {\"name\": " : "{\"name\": ";
    sw::append_json_string(out, list[i]->name);
    out += ", \"dtype\": \"" + std::string(sw::dtype_name(list[i]->type)) + "\", \"shape\": ";
    append_json_shape(out, list[i]->shape);
    out += '}';
  }
  out += ']';
}

void append_metadata_map(std::string& out, const std::vector<sw::metadata_entry>& list) {
  out += '{';
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out += ", ";
    sw::append_json_string(out, list[i].key);
    out += ": ";
    sw::append_json_string(out, list[i].value);
  }
  out += '}';
}

std::string to_json(const file_diff& d) {
  std::string out = "{\"identical\": ";
  out += d.identical_files() ? "true" : "false";
  out += ", \"same\": ";
  out += d.same() ? "true" : "false";
  out += ", \"atol\": ";
  if (d.tol) append_json_number(out, d.tol->atol);
  else out += "null";
  out += ", \"rtol\": ";
  if (d.tol) append_json_number(out, d.tol->rtol);
  else out += "null";
  out += ", \"only_in_a\": ";
  append_tensor_list(out, d.only_a);
  out += ", \"only_in_b\": ";
  append_tensor_list(out, d.only_b);
  out += ", \"identical_tensors\": " + uint_text(d.identical) + ", \"different_tensors\": [";
  for (std::size_t i = 0; i < d.different.size(); ++i) {
    const tensor_diff& t = d.different[i];
    out += i ? ",\n  {\"name\": " : "\n  {\"name\": ";
    sw::append_json_string(out, t.a->name);
    out += ", \"a\": ";
    append_kind(out, *t.a);
    out += ", \"b\": ";
    append_kind(out, *t.b);
    out += ", \"bytes_identical\": false, \"compared\": ";
    out += t.compared ? "true" : "false";
    if (t.compared) {
      out += ", \"values_differing\": " + uint_text(t.differing) + ", \"nonfinite_mismatches\": " +
             uint_text(t.nonfinite) + ", \"max_abs_diff\": ";
      append_json_number(out, t.max_abs);
      out += ", \"max_rel_diff\": ";
      append_json_number(out, t.max_rel);
      if (d.tol) out += ", \"values_outside_tolerance\": " + uint_text(t.outside);
    }
    if (d.tol) out += t.within_tolerance() ? ", \"within_tolerance\": true" : ", \"within_tolerance\": false";
    out += '}';
  }
  out += d.different.empty() ? "]" : "\n]";
  out += ", \"metadata\": {\"only_in_a\": ";
  append_metadata_map(out, d.metadata.only_a);
  out += ", \"only_in_b\": ";
  append_metadata_map(out, d.metadata.only_b);
  out += ", \"different\": {";
  for (std::size_t i = 0; i < d.metadata.different.size(); ++i) {
    const auto& [m, other] = d.metadata.different[i];
    if (i) out += ", ";
    sw::append_json_string(out, m.key);
    out += ": [";
    sw::append_json_string(out, m.value);
    out += ", ";
    sw::append_json_string(out, other);
    out += ']';
  }
  out += "}}}\n";
  return out;
}

// A tolerance argument: a finite number >= 0.
std::optional<double> parse_tolerance(const std::string& text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || v < 0)
    return std::nullopt;
  return v;
}

}  // namespace

int run_diff(args_t args) {
  parsed_args a = parse_args(args, {{"--json", false}, {"--atol", true}, {"--rtol", true}}, "diff");
  if (a.help()) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!a.error.empty()) return usage_error(a.error, usage);
  std::optional<tolerance> tol;
  for (std::string_view name : {"--atol", "--rtol"}) {
    auto text = a.value(name);
    if (!text) continue;
    auto v = parse_tolerance(*text);
    if (!v)
      return usage_error("diff: " + std::string(name) + " wants a number >= 0, not `" + printable(*text) + "`", usage);
    if (!tol) tol.emplace();
    (name == "--atol" ? tol->atol : tol->rtol) = *v;
  }
  if (a.operands.size() != 2)
    return usage_error(a.operands.size() < 2 ? "diff: needs A and B" : "diff: too many arguments", usage);
  // Whatever keeps the files from being compared is exit 3, never 1 ("they differ").
  set_changed_input_status(exit_cannot_compare);
  auto cannot_compare = [](const sw::error& e) {
    print_error(e.message);
    return exit_cannot_compare;
  };
  auto ra = open_input(a.operands[0]);
  if (!ra) return cannot_compare(ra.error_value());
  auto rb = open_input(a.operands[1]);
  if (!rb) return cannot_compare(rb.error_value());
  auto d = compare(*ra, *rb, tol);
  if (!d) return cannot_compare(d.error_value());
  write_out(stdout, a.has("--json") ? to_json(*d) : to_text(*d, a.operands[0], a.operands[1]));
  return d->same() ? exit_ok : exit_invalid;
}

}  // namespace safeweights_cli
