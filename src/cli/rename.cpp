// `safeweights rename IN OUT [--strip-prefix P] [--add-prefix Q]`: the same
// tensors under new names, as when a checkpoint's `model.` prefix must go.
#include <string>
#include <unordered_map>

#include "command.hpp"
#include "input.hpp"
#include "options.hpp"
#include "plan.hpp"
#include "summary.hpp"

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights rename [--quiet] IN OUT [--strip-prefix P] [--add-prefix Q]";

constexpr std::string_view help =
    "usage: safeweights rename [--quiet] IN OUT [--strip-prefix P] [--add-prefix Q]\n"
    "\n"
    "Write IN's tensors (bytes unchanged) and metadata to OUT under new names:\n"
    "first P is removed from every name that starts with it (other names are\n"
    "kept), then Q is put in front of every name. Two tensors that would get\n"
    "the same name are an error, and nothing is written. OUT is replaced\n"
    "atomically; IN and OUT may be the same file. Then one line on stdout:\n"
    "`wrote OUT: N tensors, SIZE (K renamed)`.\n"
    "\n"
    "Options:\n"
    "  --strip-prefix P  remove P from the names that start with it\n"
    "  --add-prefix Q    put Q in front of every name\n"
    "  -q, --quiet       no summary line\n"
    "  -h, --help        show this help\n";

}  // namespace

int run_rename(args_t args) {
  parsed_args a = parse_args(args, {{"--strip-prefix", true}, {"--add-prefix", true}, {quiet_flag, false}, {quiet_short_flag, false}},
                            "rename");
  if (a.help()) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!a.error.empty()) return usage_error(a.error, usage);
  if (!a.has("--strip-prefix") && !a.has("--add-prefix"))
    return usage_error("rename: give --strip-prefix, --add-prefix or both", usage);
  if (a.operands.size() != 2)
    return usage_error(a.operands.size() < 2 ? "rename: needs IN and OUT" : "rename: too many arguments", usage);
  const std::string &in = a.operands[0], &out = a.operands[1];
  const std::string strip = a.value("--strip-prefix").value_or(""), add = a.value("--add-prefix").value_or("");

  auto r = open_input(in);
  if (!r) return fail(r.error_value());
  auto plan = plan_all(*r);
  if (!plan) return fail(plan.error_value());
  // Which old name each new one came from, to name both in a collision.
  for (planned_tensor& t : plan->tensors) {
    std::string_view base = t.name;
    if (!strip.empty() && base.starts_with(strip)) base.remove_prefix(strip.size());
    t.name = add + std::string(base);
  }
  std::unordered_map<std::string_view, const planned_tensor*> seen;
  for (const planned_tensor& t : plan->tensors)
    if (auto [it, fresh] = seen.emplace(t.name, &t); !fresh)
      return fail(sw::make_error(sw::errc::duplicate_key,
                                 in + ": tensors " + sw::quote_name(it->second->source.name()) + " and " +
                                     sw::quote_name(t.source.name()) + " would both be named " +
                                     sw::quote_name(t.name)));
  if (auto written = write_plan(*plan, out); !written) return fail(written.error_value());
  std::size_t renamed = 0;
  for (const planned_tensor& t : plan->tensors) renamed += t.name != t.source.name();
  report_written(quiet_requested(a), out,
                 tensors_written(plan->tensors.size(), out) + " (" + std::to_string(renamed) + " renamed)");
  return exit_ok;
}

}  // namespace safeweights_cli
