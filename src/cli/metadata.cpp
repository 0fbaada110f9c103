// `safeweights metadata FILE [--set K=V]... [--delete K]...`: shows a file's
// `__metadata__`, or edits it, rewriting the file atomically.
#include <string>

#include "command.hpp"
#include "input.hpp"
#include "options.hpp"
#include "plan.hpp"
#include "safeweights/nn/model_card.hpp"
#include "safeweights/util/json_text.hpp"
#include "summary.hpp"

namespace safeweights_cli {
namespace {

constexpr std::string_view usage =
    "usage: safeweights metadata [--json] FILE [--set K=V]... [--delete K]... [--force] [--quiet]";

constexpr std::string_view help =
    "usage: safeweights metadata [--json] FILE\n"
    "       safeweights metadata FILE [--set K=V]... [--delete K]... [--force] [--quiet]\n"
    "\n"
    "Without --set or --delete: print FILE's metadata, one `key = value` line\n"
    "each in file order (characters that could garble a terminal escaped), or\n"
    "with --json the map as a JSON object (null when the file has none).\n"
    "\n"
    "With --set and --delete: apply the edits in the order given and rewrite\n"
    "FILE atomically (tensors unchanged, layout canonical). A new key goes last,\n"
    "an existing one keeps its place. Deleting a key FILE lacks is an error and\n"
    "nothing is written. V may contain '='; only the first one splits. Then one\n"
    "line on stdout: `wrote FILE: N tensors, SIZE (metadata: S set, D deleted)`.\n"
    "\n"
    "The documented model-card keys must hold what their readers expect\n"
    "(README, Metadata): format pt, tf, flax or mlx; feature_names a JSON\n"
    "array of strings; training_date an ISO 8601 date or date-time\n"
    "(2024-05-01, 2024-05-01T12:00:00Z); scores a JSON object of numbers;\n"
    "library_versions a JSON object of strings; data_sha256 64 lowercase hex\n"
    "digits; n_head a decimal integer of at least 1. A --set that breaks its\n"
    "key's rule is a usage error (exit 2) naming the key, and nothing is\n"
    "written; --force stores any value. Other keys take any value.\n"
    "\n"
    "Options:\n"
    "  --set K=V     set key K to V\n"
    "  --delete K    remove key K\n"
    "  --force       store --set values that break their key's rule\n"
    "  -q, --quiet   no summary line\n"
    "  --json        print JSON (only when not editing)\n"
    "  -h, --help    show this help\n";

std::string show(const sw::reader& r, bool json) {
  std::string out;
  if (json) {
    if (!r.has_metadata()) return "null\n";
    out = "{";
    bool first = true;
    for (const sw::metadata_entry& m : r.metadata()) {
      out += first ? "\n  " : ",\n  ";
      first = false;
      sw::append_json_string(out, m.key);
      out += ": ";
      sw::append_json_string(out, m.value);
    }
    out += first ? "}\n" : "\n}\n";
    return out;
  }
  if (!r.has_metadata()) return "(no metadata)\n";
  if (r.metadata().empty()) return "(empty metadata)\n";
  for (const sw::metadata_entry& m : r.metadata()) out += printable(m.key) + " = " + printable(m.value) + "\n";
  return out;
}

}  // namespace

int run_metadata(args_t args) {
  parsed_args a = parse_args(args,
                             {{"--set", true},
                              {"--delete", true},
                              {"--json", false},
                              {"--force", false},
                              {quiet_flag, false},
                              {quiet_short_flag, false}},
                             "metadata");
  if (a.help()) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!a.error.empty()) return usage_error(a.error, usage);
  if (a.operands.size() != 1)
    return usage_error(a.operands.empty() ? "metadata: missing FILE" : "metadata: one FILE only", usage);
  const std::string& path = a.operands[0];
  const bool editing = a.has("--set") || a.has("--delete");
  if (editing && a.has("--json")) return usage_error("metadata: --json only shows; it cannot go with --set or --delete", usage);
  for (const auto& [name, value] : a.options) {
    if (name != "--set") continue;
    std::size_t eq = value.find('=');
    if (eq == std::string::npos) return usage_error("metadata: --set needs K=V, not `" + printable(value) + "`", usage);
    if (a.has("--force")) continue;
    if (auto ok = sw::nn::model_card::check_value(value.substr(0, eq), std::string_view(value).substr(eq + 1)); !ok)
      return usage_error("metadata: refused --set `" + printable(value) + "`: " + ok.error_value().message +
                             "; --force stores it anyway",
                         usage);
  }
  if (!editing && (a.has("--force") || quiet_requested(a)))
    return usage_error("metadata: --force and --quiet go with --set or --delete", usage);

  if (!editing) {
    sw::read_options options;
    options.mode = sw::io_mode::pread;  // only the header is needed
    auto r = open_input(path, options);
    if (!r) return fail(r.error_value());
    write_out(stdout, show(*r, a.has("--json")));
    return exit_ok;
  }

  auto r = open_input(path);
  if (!r) return fail(r.error_value());
  auto plan = plan_all(*r);
  if (!plan) return fail(plan.error_value());
  for (const auto& [name, value] : a.options) {
    if (name == "--set") {
      std::size_t eq = value.find('=');
      plan->set_metadata(value.substr(0, eq), value.substr(eq + 1));
    } else if (name == "--delete") {
      auto& m = plan->metadata;
      const std::string& key = value;  // clang 14 cannot capture a structured binding
      auto it = std::find_if(m.begin(), m.end(), [&key](const auto& kv) { return kv.first == key; });
      if (it == m.end())
        return fail(sw::make_error(sw::errc::invalid_argument,
                                   path + ": no metadata key " + sw::quote_name(value) + " to delete"));
      m.erase(it);
    }
  }
  if (auto written = write_plan(*plan, path); !written) return fail(written.error_value());
  const auto set = a.values("--set").size(), deleted = a.values("--delete").size();
  report_written(quiet_requested(a), path,
                 tensors_written(plan->tensors.size(), path) + " (metadata: " + std::to_string(set) + " set, " +
                     std::to_string(deleted) + " deleted)");
  return exit_ok;
}

}  // namespace safeweights_cli
