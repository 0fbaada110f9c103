// `safeweights cast --dtype bf16|f16|f32 IN OUT`: every float tensor of IN
// converted to one dtype (round to nearest even), everything else as it is.
#include <string>

#include "command.hpp"
#include "input.hpp"
#include "options.hpp"
#include "plan.hpp"
#include "summary.hpp"

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights cast [--quiet] --dtype bf16|f16|f32 IN OUT";

constexpr std::string_view help =
    "usage: safeweights cast [--quiet] --dtype bf16|f16|f32 IN OUT\n"
    "\n"
    "Write IN to OUT with every float tensor (F64, F32, F16, BF16, F8_*)\n"
    "converted to the given dtype, rounded to nearest even as PyTorch's .to()\n"
    "does. Integer, BOOL and complex tensors, and the metadata, are kept as\n"
    "they are; a packed F4/F6 tensor cannot be converted and is an error.\n"
    "OUT is replaced atomically; IN and OUT may be the same file. Then one\n"
    "line on stdout: `wrote OUT: N tensors, SIZE (K cast F32 -> BF16)`.\n"
    "\n"
    "Options:\n"
    "  --dtype T    bf16, f16 or f32\n"
    "  -q, --quiet  no summary line\n"
    "  -h, --help   show this help\n";

}  // namespace

int run_cast(args_t args) {
  parsed_args a = parse_args(args, {{"--dtype", true}, {quiet_flag, false}, {quiet_short_flag, false}}, "cast");
  if (a.help()) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!a.error.empty()) return usage_error(a.error, usage);
  auto dtype_text = a.value("--dtype");
  if (!dtype_text) return usage_error("cast: missing --dtype", usage);
  auto to = parse_cast_dtype(*dtype_text);
  if (!to) return usage_error("cast: --dtype must be bf16, f16 or f32, not `" + printable(*dtype_text) + "`", usage);
  if (a.operands.size() != 2)
    return usage_error(a.operands.size() < 2 ? "cast: needs IN and OUT" : "cast: too many arguments", usage);
  const std::string &in = a.operands[0], &out = a.operands[1];

  auto r = open_input(in);
  if (!r) return fail(r.error_value());
  auto plan = plan_all(*r);
  if (!plan) return fail(plan.error_value());
  if (auto cast = cast_floats(*plan, *to, in); !cast) return fail(cast.error_value());
  if (auto written = write_plan(*plan, out); !written) return fail(written.error_value());
  cast_counter casts;
  for (const planned_tensor& t : plan->tensors) casts.add(t.source.type(), t.type);
  report_written(quiet_requested(a), out, tensors_written(plan->tensors.size(), out) + casts.note());
  return exit_ok;
}

}  // namespace safeweights_cli
