// `safeweights repack [--align] IN OUT`: rewrites IN in the canonical layout.
// A canonical file comes back byte for byte. OUT is replaced atomically
// (temporary file, fsync, rename), so IN may be OUT: the mapping of IN stays
// valid because its file is renamed over, never truncated.
#include <string>

#include "command.hpp"
#include "input.hpp"
#include "summary.hpp"
#include "safeweights/safeweights.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights repack [--align] [--quiet] IN OUT";

constexpr std::string_view help =
    "usage: safeweights repack [--align] [--quiet] IN OUT\n"
    "\n"
    "Validate IN and write its tensors and metadata to OUT in the reference\n"
    "writer's canonical layout (tensors by dtype then name, metadata first in\n"
    "IN's order, header padded to 8 bytes). A file the reference wrote comes\n"
    "back unchanged. OUT is replaced atomically and only once it is complete;\n"
    "on any error it is left as it was. IN and OUT may be the same file.\n"
    "Then one line on stdout: `wrote OUT: N tensors, SIZE`.\n"
    "\n"
    "Options:\n"
    "  --align     pad the header so the data section starts on a 64-byte\n"
    "              boundary (still valid safetensors, not the reference's bytes)\n"
    "  -q, --quiet no summary line\n"
    "  -h, --help  show this help\n";

}  // namespace

int run_repack(args_t args) {
  command_line cl = split_args(args);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (auto f = cl.unknown_flag({"--align", quiet_flag, quiet_short_flag}); !f.empty())
    return usage_error("repack: unknown option `" + printable(f) + "`", usage);
  if (cl.operands.size() < 2)
    return usage_error(cl.operands.empty() ? "repack: missing IN and OUT" : "repack: missing OUT", usage);
  if (cl.operands.size() > 2) return usage_error("repack: too many arguments", usage);
  const std::string& in = cl.operands[0];
  const std::string& out = cl.operands[1];

  // Mapped: the writer takes the tensors' bytes straight from the mapping.
  auto r = open_input(in);
  if (!r) return fail(r.error_value());
  sw::writer w;
  for (const sw::tensor_info& info : r->tensors()) {
    auto view = r->tensor(info);
    if (!view) return fail(view.error_value());
    if (auto added = w.add(*view); !added) return fail(std::move(added).error_value().in(in));
  }
  if (r->has_metadata()) {
    w.enable_metadata();  // an empty `__metadata__` object survives too
    for (const sw::metadata_entry& m : r->metadata()) w.set_metadata(std::string(m.key), std::string(m.value));
  }
  sw::write_options options;
  options.align_data = cl.has("--align");
  if (auto written = w.write_file(out, options); !written) return fail(name_changed_input(std::move(written).error_value(), in));
  report_written(quiet_requested(cl), out, tensors_written(r->tensors().size(), out));
  return exit_ok;
}

}  // namespace safeweights_cli
