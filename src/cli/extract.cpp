// `safeweights extract IN OUT NAME...`: a file with only the named tensors.
#include <string>

#include "command.hpp"
#include "input.hpp"
#include "options.hpp"
#include "plan.hpp"
#include "summary.hpp"

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights extract [--quiet] IN OUT NAME...";

constexpr std::string_view help =
    "usage: safeweights extract [--quiet] IN OUT NAME...\n"
    "\n"
    "Write the tensors NAME... of IN (bytes unchanged) and IN's metadata to OUT.\n"
    "A NAME that IN lacks is an error, and nothing is written. A name that\n"
    "starts with '-' goes after `--`. OUT is replaced atomically. Then one\n"
    "line on stdout: `wrote OUT: N tensors, SIZE`.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet  no summary line\n"
    "  -h, --help   show this help\n";

}  // namespace

int run_extract(args_t args) {
  parsed_args a = parse_args(args, {{quiet_flag, false}, {quiet_short_flag, false}}, "extract");
  if (a.help()) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!a.error.empty()) return usage_error(a.error, usage);
  if (a.operands.size() < 3)
    return usage_error(a.operands.size() < 2 ? "extract: needs IN, OUT and at least one NAME"
                                             : "extract: needs at least one NAME",
                       usage);
  const std::string &in = a.operands[0], &out = a.operands[1];

  auto r = open_input(in);
  if (!r) return fail(r.error_value());
  planned_file plan;
  for (std::size_t i = 2; i < a.operands.size(); ++i) {
    const std::string& name = a.operands[i];
    bool repeated = false;
    for (const planned_tensor& t : plan.tensors) repeated = repeated || t.name == name;
    if (repeated) continue;
    auto view = r->tensor(name);
    if (!view) return fail(view.error_value());
    plan.tensors.push_back({name, *view, view->type()});
  }
  copy_metadata(*r, plan);
  if (auto written = write_plan(plan, out); !written) return fail(written.error_value());
  report_written(quiet_requested(a), out, tensors_written(plan.tensors.size(), out));
  return exit_ok;
}

}  // namespace safeweights_cli
