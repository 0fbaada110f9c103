// `safeweights shard IN --max-size SIZE OUTDIR`: splits a file into the
// shards and index Hugging Face's tools write, so that transformers'
// from_pretrained (and `safeweights merge`) read them back.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "command.hpp"
#include "input.hpp"
#include "hf_index.hpp"
#include "options.hpp"
#include "plan.hpp"
#include "size.hpp"

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights shard IN --max-size SIZE OUTDIR";

constexpr std::string_view help =
    "usage: safeweights shard IN --max-size SIZE OUTDIR\n"
    "\n"
    "Split IN into shards of at most SIZE bytes of tensor data, exactly as\n"
    "huggingface_hub's split_state_dict_into_shards and transformers'\n"
    "save_pretrained do: tensors in IN's order fill the current shard until the\n"
    "next would pass SIZE; a tensor larger than SIZE gets a shard of its own\n"
    "(placed where it was met, the current shard staying open). The shards are\n"
    "OUTDIR/model-00001-of-0000N.safetensors ..., each with {\"format\": \"pt\"}\n"
    "in its metadata (after IN's own keys, unless IN sets \"format\" itself),\n"
    "and OUTDIR/model.safetensors.index.json, byte for byte what transformers\n"
    "writes: {\"metadata\": {\"total_parameters\": N, \"total_size\": BYTES},\n"
    "\"weight_map\": {name: shard}}, keys sorted, two-space indent, final newline\n"
    "(total_parameters counts the elements of every tensor). When everything\n"
    "fits one shard the output is OUTDIR/model.safetensors and no index.\n"
    "\n"
    "Every file is written atomically, the index last. Shard files of an\n"
    "earlier run (model-NNNNN-of-NNNNN.safetensors) that this run did not\n"
    "write are then removed, as save_pretrained does, and so is an old index\n"
    "when the output is a single file. OUTDIR is created if missing.\n"
    "\n"
    "SIZE: as Hugging Face's max_shard_size: a number with KB, MB, GB or TB\n"
    "(powers of 1000, \"5GB\", \"1.5GB\"), or KiB, MiB, GiB, TiB (powers of 1024),\n"
    "or a plain byte count.\n"
    "\n"
    "Options:\n"
    "  --max-size SIZE  the largest shard (required)\n"
    "  -h, --help       show this help\n";

// Tensors (indices in file order) of each shard, by the hub's algorithm.
std::vector<std::vector<std::size_t>> split(std::span<const sw::tensor_info> tensors, std::uint64_t max_size) {
  std::vector<std::vector<std::size_t>> shards;
  std::vector<std::size_t> current;
  std::uint64_t current_size = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    std::uint64_t size = tensors[i].byte_size();
    if (size > max_size) {
      shards.push_back({i});
      continue;
    }
    if (current_size + size > max_size) {
      shards.push_back(std::move(current));
      current.clear();
      current_size = 0;
    }
    current.push_back(i);
    current_size += size;
  }
  if (!current.empty() || shards.empty()) shards.push_back(std::move(current));
  return shards;
}

bool is_shard_file_name(std::string_view n) {
  // model-DDDDD-of-DDDDD.safetensors, five digits or more each
  if (!n.starts_with("model-") || !n.ends_with(".safetensors")) return false;
  n = n.substr(6, n.size() - 6 - 12);
  auto of = n.find("-of-");
  if (of == std::string_view::npos) return false;
  auto digits = [](std::string_view d) {
    return d.size() >= 5 && d.find_first_not_of("0123456789") == std::string_view::npos;
  };
  return digits(n.substr(0, of)) && digits(n.substr(of + 4));
}

// Removes what an earlier run left that this one did not write; never IN.
void remove_stale(const std::filesystem::path& dir, const std::set<std::string>& written, bool single,
                  const std::string& in) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    bool stale = written.count(name) == 0 && (is_shard_file_name(name) || (single && name == index_file_name));
    if (!stale || !entry.is_regular_file(ec) || fs::equivalent(entry.path(), in, ec)) continue;
    fs::remove(entry.path(), ec);
  }
}

sw::result<void> ensure_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0777) == 0 || errno == EEXIST) {
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    return sw::make_error(sw::errc::write_failed, dir + ": not a directory");
  }
  return sw::errno_error(sw::errc::write_failed, dir + ": cannot create the directory");
}

}  // namespace

int run_shard(args_t args) {
  parsed_args a = parse_args(args, {{"--max-size", true}}, "shard");
  if (a.help()) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!a.error.empty()) return usage_error(a.error, usage);
  auto size_text = a.value("--max-size");
  if (!size_text) return usage_error("shard: missing --max-size", usage);
  auto max_size = parse_size(*size_text);
  if (!max_size)
    return usage_error("shard: --max-size wants a size like 5GB, 500MB or 2GiB, not `" + printable(*size_text) + "`",
                       usage);
  if (a.operands.size() != 2)
    return usage_error(a.operands.size() < 2 ? "shard: needs IN and OUTDIR" : "shard: too many arguments", usage);
  const std::string &in = a.operands[0], &outdir = a.operands[1];

  auto r = open_input(in);
  if (!r) return fail(r.error_value());
  if (auto made = ensure_dir(outdir); !made) return fail(made.error_value());

  const auto shards = split(r->tensors(), *max_size);
  const bool single = shards.size() == 1;
  std::set<std::string> written;
  std::vector<std::pair<std::string_view, std::string_view>> weight_map;
  std::uint64_t total_parameters = 0, total_size = 0;
  for (std::size_t k = 0; k < shards.size(); ++k) {
    const std::string name = single ? "model.safetensors" : shard_file_name(k + 1, shards.size());
    const std::string& stored = *written.insert(name).first;
    planned_file plan;
    for (std::size_t i : shards[k]) {
      const sw::tensor_info& info = r->tensors()[i];
      auto view = r->tensor(info);
      if (!view) return fail(view.error_value());
      plan.tensors.push_back({std::string(info.name), *view, info.type});
      weight_map.emplace_back(info.name, stored);
      total_parameters += info.elements;
      total_size += info.byte_size();
    }
    copy_metadata(*r, plan);
    if (!r->metadata_value("format")) plan.set_metadata("format", "pt");
    if (auto w = write_plan(plan, (std::filesystem::path(outdir) / name).string()); !w) return fail(w.error_value());
  }
  if (!single) {
    const std::string index_path = (std::filesystem::path(outdir) / index_file_name).string();
    if (auto w = write_text_file(index_path, hf_index_json(total_parameters, total_size, weight_map)); !w)
      return fail(w.error_value());
    written.insert(std::string(index_file_name));
  }
  remove_stale(outdir, written, single, in);
  return exit_ok;
}

}  // namespace safeweights_cli
