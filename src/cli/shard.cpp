// `safeweights shard IN --max-size SIZE|--num-shards N OUTDIR`: splits a file
// into the shards and index Hugging Face's tools write, so that transformers'
// from_pretrained (and `safeweights merge`) read them back.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "command.hpp"
#include "input.hpp"
#include "options.hpp"
#include "plan.hpp"
#include "safeweights/io/shard_index.hpp"
#include "size.hpp"
#include "summary.hpp"

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights shard [--quiet] IN --max-size SIZE|--num-shards N OUTDIR";

constexpr std::string_view help =
    "usage: safeweights shard [--quiet] IN --max-size SIZE OUTDIR\n"
    "       safeweights shard [--quiet] IN --num-shards N OUTDIR\n"
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
    "With --num-shards N instead: exactly N shards, named and indexed as\n"
    "above, each a run of IN's tensors in the same order, kept whole, the\n"
    "largest shard as small as such a split allows. N must not exceed the\n"
    "number of tensors (a shard holds at least one). N = 1 gives\n"
    "OUTDIR/model.safetensors.\n"
    "\n"
    "Every file is written atomically, the index last. Shard files of an\n"
    "earlier run (model-NNNNN-of-NNNNN.safetensors) that this run did not\n"
    "write are then removed, as save_pretrained does, and so is an old index\n"
    "when the output is a single file. OUTDIR is created if missing. Then one\n"
    "line on stdout: `wrote OUTDIR: N tensors in K shards, SIZE (index\n"
    "model.safetensors.index.json)`.\n"
    "\n"
    "SIZE: as Hugging Face's max_shard_size: a number with KB, MB, GB or TB\n"
    "(powers of 1000, \"5GB\", \"1.5GB\"), or KiB, MiB, GiB, TiB (powers of 1024),\n"
    "or a plain byte count.\n"
    "\n"
    "Options:\n"
    "  --max-size SIZE  the largest shard\n"
    "  --num-shards N   exactly N shards, balanced by bytes (instead of --max-size)\n"
    "  -q, --quiet      no summary line\n"
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

// Tensors of each of exactly `count` shards (1 <= count <= tensors.size()):
// runs in file order, the largest run as small as it can be. The bound is
// found by bisection, each step filling shards greedily; then a shard closes
// early only when each remaining tensor must start a shard of its own.
std::vector<std::vector<std::size_t>> split_into(std::span<const sw::tensor_info> tensors, std::size_t count) {
  std::uint64_t low = 0, high = 0;
  for (const sw::tensor_info& t : tensors) {
    low = std::max(low, t.byte_size());
    high += t.byte_size();
  }
  auto shards_needed = [&](std::uint64_t bound) {
    std::size_t shards = 1;
    std::uint64_t current = 0;
    for (const sw::tensor_info& t : tensors) {
      if (current + t.byte_size() > bound) {
        ++shards;
        current = 0;
      }
      current += t.byte_size();
    }
    return shards;
  };
  while (low < high) {
    std::uint64_t mid = low + (high - low) / 2;
    if (shards_needed(mid) <= count) high = mid;
    else low = mid + 1;
  }
  std::vector<std::vector<std::size_t>> shards(1);
  std::uint64_t current = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::size_t left = tensors.size() - i, shards_to_open = count - shards.size();
    if (!shards.back().empty() && (current + tensors[i].byte_size() > low || left == shards_to_open)) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(i);
    current += tensors[i].byte_size();
  }
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
    bool stale =
        written.count(name) == 0 && (is_shard_file_name(name) || (single && name == sw::shard_index_file_name));
    if (!stale || !entry.is_regular_file(ec) || fs::equivalent(entry.path(), in, ec)) continue;
    fs::remove(entry.path(), ec);
  }
}

sw::result<void> ensure_dir(const std::string& dir) {
#ifdef _WIN32
  std::error_code ec;
  const auto path = sw::platform::utf8_path(dir);
  if (std::filesystem::create_directory(path, ec) || std::filesystem::is_directory(path)) return {};
  if (!ec && std::filesystem::exists(path)) return sw::make_error(sw::errc::write_failed, dir + ": not a directory");
  return sw::make_error(sw::errc::write_failed, dir + ": cannot create the directory: " + ec.message());
#else
  if (::mkdir(dir.c_str(), 0777) == 0 || errno == EEXIST) {
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    return sw::make_error(sw::errc::write_failed, dir + ": not a directory");
  }
  return sw::errno_error(sw::errc::write_failed, dir + ": cannot create the directory");
#endif
}

}  // namespace

int run_shard(args_t args) {
  parsed_args a =
      parse_args(args, {{"--max-size", true}, {"--num-shards", true}, {quiet_flag, false}, {quiet_short_flag, false}},
                 "shard");
  if (a.help()) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!a.error.empty()) return usage_error(a.error, usage);
  auto size_text = a.value("--max-size"), count_arg = a.value("--num-shards");
  if (size_text && count_arg) return usage_error("shard: --max-size and --num-shards exclude each other", usage);
  if (!size_text && !count_arg) return usage_error("shard: missing --max-size or --num-shards", usage);
  std::optional<std::uint64_t> max_size;
  std::size_t shard_count = 0;
  if (size_text) {
    max_size = parse_size(*size_text);
    if (!max_size)
      return usage_error("shard: --max-size wants a size like 5GB, 500MB or 2GiB, not `" + printable(*size_text) + "`",
                         usage);
  } else {
    auto [end, ec] = std::from_chars(count_arg->data(), count_arg->data() + count_arg->size(), shard_count);
    if (ec != std::errc() || end != count_arg->data() + count_arg->size() || shard_count == 0)
      return usage_error("shard: --num-shards wants a whole number of at least 1, not `" + printable(*count_arg) + "`",
                         usage);
  }
  if (a.operands.size() != 2)
    return usage_error(a.operands.size() < 2 ? "shard: needs IN and OUTDIR" : "shard: too many arguments", usage);
  const std::string &in = a.operands[0], &outdir = a.operands[1];

  auto r = open_input(in);
  if (!r) return fail(r.error_value());
  if (shard_count > r->tensors().size())
    return usage_error("shard: --num-shards " + std::to_string(shard_count) + " but " + printable(in) + " holds " +
                           count_text(r->tensors().size(), "tensor", "tensors") +
                           ", and each shard needs at least one",
                       usage);
  if (auto made = ensure_dir(outdir); !made) return fail(made.error_value());

  const auto shards = max_size ? split(r->tensors(), *max_size) : split_into(r->tensors(), shard_count);
  const bool single = shards.size() == 1;
  std::set<std::string> written;
  std::vector<std::pair<std::string_view, std::string_view>> weight_map;
  std::uint64_t total_parameters = 0, total_size = 0;
  for (std::size_t k = 0; k < shards.size(); ++k) {
    const std::string name = single ? "model.safetensors" : sw::shard_file_name(k + 1, shards.size());
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
    const std::string index_path = (std::filesystem::path(outdir) / sw::shard_index_file_name).string();
    if (auto w = write_text_file(index_path, sw::shard_index_json(total_parameters, total_size, weight_map)); !w)
      return fail(w.error_value());
    written.insert(std::string(sw::shard_index_file_name));
  }
  remove_stale(outdir, written, single, in);
  const std::size_t tensors = r->tensors().size();
  if (single) {
    const std::string path = (std::filesystem::path(outdir) / "model.safetensors").string();
    report_written(quiet_requested(a), path, tensors_written(tensors, path));
  } else {
    std::uint64_t bytes = 0;
    for (const std::string& name : written) bytes += size_on_disk((std::filesystem::path(outdir) / name).string());
    report_written(quiet_requested(a), outdir,
                   count_text(tensors, "tensor", "tensors") + " in " + std::to_string(shards.size()) + " shards, " +
                       human_size(bytes) + " (index " + std::string(sw::shard_index_file_name) + ")");
  }
  return exit_ok;
}

}  // namespace safeweights_cli
