// `safeweights merge INDEX.json OUT`: joins the shards a Hugging Face index
// names into one file, checking that the index and the shards agree.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "command.hpp"
#include "file_kind.hpp"
#include "index_input.hpp"
#include "input.hpp"
#include "options.hpp"
#include "plan.hpp"
#include "summary.hpp"

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights merge [--quiet] INDEX.json|DIR OUT";

constexpr std::string_view help =
    "usage: safeweights merge [--quiet] INDEX.json|DIR OUT\n"
    "\n"
    "Read a sharded checkpoint's index (model.safetensors.index.json, or the\n"
    "one *.safetensors.index.json in DIR) and the shards its weight_map names\n"
    "(files beside it), and write every tensor, bytes unchanged, to OUT,\n"
    "atomically. The index and the shards must agree:\n"
    "a tensor in two shards, a tensor the index names that its shard lacks,\n"
    "and a tensor of a shard that the index does not name (or puts elsewhere)\n"
    "are errors, and nothing is written. The metadata is the shards': every\n"
    "key in shard order, a key whose value differs between shards keeping the\n"
    "first shard's value (with a warning). The index's total_size, when it\n"
    "has one, must be the bytes of the tensors it lists. `shard` then `merge`\n"
    "gives back the same tensors, byte for byte. Then one line on stdout:\n"
    "`wrote OUT: N tensors, SIZE (from K shards)`.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet  no summary line (warnings stay on stderr)\n"
    "  -h, --help   show this help\n";

void warn(const std::string& message) { print_error("warning: " + message); }

}  // namespace

int run_merge(args_t args) {
  parsed_args a = parse_args(args, {{quiet_flag, false}, {quiet_short_flag, false}}, "merge");
  if (a.help()) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!a.error.empty()) return usage_error(a.error, usage);
  if (a.operands.size() != 2)
    return usage_error(a.operands.size() < 2 ? "merge: needs INDEX.json and OUT" : "merge: too many arguments", usage);
  std::string index_path = a.operands[0];
  const std::string& out = a.operands[1];
  using sw::quote_name;

  if (std::error_code ec; std::filesystem::is_directory(index_path, ec)) {
    // A checkpoint's directory stands for the one index in it.
    auto found = index_in_directory(index_path);
    if (!found)
      return fail(sw::make_error(sw::errc::io_error, index_path + ": a directory without exactly one "
                                                                  "*.safetensors.index.json: name the index"));
    index_path = *found;
  }
  auto index = open_index(index_path);
  if (!index) {
    input_kind kind = kind_of(index_path);
    if (kind == input_kind::safetensors)
      return fail(sw::make_error(index.code(), index_path + ": a safetensors file, not a shard index: there is "
                                                            "nothing to merge (`repack` rewrites one file)"));
    if (kind != input_kind::shard_index && kind != input_kind::json)
      return fail(explain_input(std::move(index).error_value(), index_path));
    return fail(index.error_value());
  }
  const sw::checkpoint& shards = *index;
  const std::vector<std::string>& shard_names = shards.index()->shards;

  // The tensors in shard order, each shard's in its file's order; the metadata likewise.
  planned_file plan;
  for (const sw::checkpoint::entry& e : shards.tensors()) {
    auto view = shards.view(e);
    if (!view)
      return fail(shards.shard_error(std::move(view).error_value(), e.file));
    plan.tensors.push_back({std::string(e.name), *view, e.info->type});
  }
  for (std::size_t s = 0; s < shards.files().size(); ++s) {
    const sw::reader& r = shards.files()[s];
    for (const sw::metadata_entry& m : r.metadata()) {
      auto it = std::find_if(plan.metadata.begin(), plan.metadata.end(), [&](auto& kv) { return kv.first == m.key; });
      if (it == plan.metadata.end()) plan.set_metadata(std::string(m.key), std::string(m.value));
      else if (it->second != m.value)
        warn(index_path + ": shard " + quote_name(shard_names[s]) + ": metadata " + quote_name(m.key) +
             " differs from an earlier shard's; kept " + quote_name(it->second));
    }
    if (r.has_metadata()) plan.has_metadata = true;
  }
  if (auto written = write_plan(plan, out); !written) return fail(written.error_value());
  report_written(quiet_requested(a), out,
                 tensors_written(plan.tensors.size(), out) + " (from " +
                     count_text(shards.files().size(), "shard", "shards") + ")");
  return exit_ok;
}

}  // namespace safeweights_cli
