// `safeweights merge INDEX.json OUT`: joins the shards a Hugging Face index
// names into one file, checking that the index and the shards agree.
#include <algorithm>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "command.hpp"
#include "file_kind.hpp"
#include "hf_index.hpp"
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
    "first shard's value (with a warning). A total_size in the index that\n"
    "differs from the shards' is a warning. `shard` then `merge` gives back\n"
    "the same tensors, byte for byte. Then one line on stdout:\n"
    "`wrote OUT: N tensors, SIZE (from K shards)`.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet  no summary line (warnings stay on stderr)\n"
    "  -h, --help   show this help\n";

void warn(const std::string& message) { print_error("warning: " + message); }

// A shard's error, its path (which holds the index's name for the shard) in
// front replaced by that name, quoted: the index may name shards anything.
sw::error in_shard(sw::error e, const std::string& path, const std::string& index_path, std::string_view shard) {
  std::string_view why = e.message;
  if (why.starts_with(path + ": ")) why.remove_prefix(path.size() + 2);
  e.message = index_path + ": shard " + sw::quote_name(shard) + ": " + std::string(why);
  return e;
}

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
  auto index = read_hf_index(index_path);
  if (!index) {
    input_kind kind = kind_of(index_path);
    if (kind == input_kind::safetensors)
      return fail(sw::make_error(index.code(), index_path + ": a safetensors file, not a shard index: there is "
                                                            "nothing to merge (`repack` rewrites one file)"));
    if (kind != input_kind::shard_index && kind != input_kind::json)
      return fail(explain_input(std::move(index).error_value(), index_path));
    return fail(index.error_value());
  }
  const std::filesystem::path dir = std::filesystem::path(index_path).parent_path();

  // The shards in order of first mention, each opened once.
  std::vector<std::string> shard_names;
  std::unordered_map<std::string_view, std::string_view> shard_of;  // tensor -> shard, per the index
  for (const auto& [tensor, shard] : index->weight_map) {
    shard_of.emplace(tensor, shard);
    if (std::find(shard_names.begin(), shard_names.end(), shard) == shard_names.end()) shard_names.push_back(shard);
  }
  std::vector<sw::reader> shards;
  for (const std::string& name : shard_names) {
    const std::string path = (dir / name).string();
    auto r = open_input(path);
    if (!r) return fail(in_shard(std::move(r).error_value(), path, index_path, name));
    shards.push_back(std::move(*r));
  }

  // First every name once across the shards, then agreement with the index.
  std::unordered_map<std::string_view, std::size_t> found_in;  // tensor -> shard index
  for (std::size_t s = 0; s < shards.size(); ++s)
    for (const sw::tensor_info& t : shards[s].tensors())
      if (auto [it, fresh] = found_in.emplace(t.name, s); !fresh)
        return fail(sw::make_error(sw::errc::duplicate_key,
                                   index_path + ": tensor " + quote_name(t.name) + " is in two shards, " +
                                       quote_name(shard_names[it->second]) + " and " + quote_name(shard_names[s])));
  planned_file plan;
  std::uint64_t total = 0;
  for (std::size_t s = 0; s < shards.size(); ++s) {
    const sw::reader& r = shards[s];
    for (const sw::tensor_info& t : r.tensors()) {
      auto listed = shard_of.find(t.name);
      if (listed == shard_of.end())
        return fail(sw::make_error(sw::errc::invalid_argument, index_path + ": tensor " + quote_name(t.name) +
                                                                   " of " + quote_name(shard_names[s]) +
                                                                   " is not in the index's weight_map"));
      if (listed->second != shard_names[s])
        return fail(sw::make_error(sw::errc::invalid_argument,
                                   index_path + ": tensor " + quote_name(t.name) + " is in " +
                                       quote_name(shard_names[s]) + " but the index puts it in " +
                                       quote_name(listed->second)));
      auto view = r.tensor(t);
      if (!view) return fail(in_shard(std::move(view).error_value(), r.source(), index_path, shard_names[s]));
      plan.tensors.push_back({std::string(t.name), *view, t.type});
      total += t.byte_size();
    }
    for (const sw::metadata_entry& m : r.metadata()) {
      auto it = std::find_if(plan.metadata.begin(), plan.metadata.end(), [&](auto& kv) { return kv.first == m.key; });
      if (it == plan.metadata.end()) plan.set_metadata(std::string(m.key), std::string(m.value));
      else if (it->second != m.value)
        warn(index_path + ": shard " + quote_name(shard_names[s]) + ": metadata " + quote_name(m.key) +
             " differs from an earlier shard's; kept " + quote_name(it->second));
    }
    if (r.has_metadata()) plan.has_metadata = true;
  }
  for (const auto& [tensor, shard] : index->weight_map)
    if (!found_in.count(tensor))
      return fail(sw::make_error(sw::errc::tensor_not_found, index_path + ": the index puts tensor " +
                                                                 quote_name(tensor) + " in " + quote_name(shard) +
                                                                 ", which lacks it"));
  if (index->total_size && *index->total_size != total)
    warn(printable(index_path) + ": total_size says " + std::to_string(*index->total_size) +
         " bytes, the shards hold " + std::to_string(total));
  if (auto written = write_plan(plan, out); !written) return fail(written.error_value());
  report_written(quiet_requested(a), out,
                 tensors_written(plan.tensors.size(), out) + " (from " + count_text(shards.size(), "shard", "shards") + ")");
  return exit_ok;
}

}  // namespace safeweights_cli
