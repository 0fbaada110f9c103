// `safeweights seal IN OUT`: writes IN's tensors and metadata to OUT with a
// seal (per-tensor SHA-256, dtype and shape under the metadata key
// `safeweights.seal`); OUT stays plain safetensors. Atomic: IN may be OUT.
#include "command.hpp"
#include "input.hpp"
#include "safeweights/integrity/seal_file.hpp"
#include "summary.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights seal [--quiet] IN OUT";

constexpr std::string_view help =
    "usage: safeweights seal [--quiet] IN OUT\n"
    "\n"
    "Validate IN and write it to OUT in the canonical layout, adding the SHA-256\n"
    "of every tensor (with its dtype and shape) under the metadata key\n"
    "`safeweights.seal`. Every safetensors reader still reads OUT; `safeweights\n"
    "verify OUT` checks every tensor against the seal, and the library can check\n"
    "each tensor when it is first read. An existing seal is replaced. OUT is\n"
    "written atomically; IN and OUT may be the same file. Then one line on\n"
    "stdout: `wrote OUT: N tensors, SIZE (sealed)`.\n"
    "\n"
    "What a seal does not protect against: it catches accidents (a flipped bit, a\n"
    "truncated copy, a tool that rewrote a dtype), not people. Anyone who can edit\n"
    "the file can reseal it after editing, and metadata other than the seal itself\n"
    "(a model card, a license) can change without breaking it. To know who made\n"
    "the file, sign it too (`safeweights sign`).\n"
    "\n"
    "Options:\n"
    "  -q, --quiet  no summary line\n"
    "  -h, --help   show this help\n";

}  // namespace

int run_seal(args_t args) {
  command_line cl = split_args(args);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (auto f = cl.unknown_flag({quiet_flag, quiet_short_flag}); !f.empty())
    return usage_error("seal: unknown option `" + printable(f) + "`", usage);
  if (cl.operands.size() != 2) return usage_error("seal: needs IN and OUT", usage);
  auto r = open_input(cl.operands[0]);
  if (!r) return fail(r.error_value());
  sw::writer w;
  if (auto s = sw::add_sealed(*r, w); !s) return fail(s.error_value());
  if (auto s = w.write_file(cl.operands[1]); !s)
    return fail(name_changed_input(std::move(s).error_value(), cl.operands[0]));
  report_written(quiet_requested(cl), cl.operands[1], tensors_written(r->tensors().size(), cl.operands[1]) + " (sealed)");
  return exit_ok;
}

}  // namespace safeweights_cli
