// What an input is when it is not safetensors: told by its first bytes (or
// that it is a directory), so every command can say "a NumPy .npz archive"
// rather than "length prefix 43016997712 is over the limit". Commands ask
// only after the safetensors reader refused a file: the success path never
// pays for it. Names are never trusted, with one exception: a JSON file named
// *.index.json counts as a shard index even when its first bytes do not show
// a "weight_map".
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "safeweights/error.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/io/file_handle.hpp"

namespace safeweights_cli {

enum class input_kind {
  unknown,      // nothing recognised (or unreadable): the reader's own error stands
  safetensors,  // an 8-byte length that fits the file, then '{': safetensors with some other fault
  directory,
  npy,          // "\x93NUMPY"
  npz,          // a zip whose first member is NAME.npy
  zip,          // another zip
  torch_zip,    // a zip whose first member is [ARCHIVE/]data.pkl: torch.save's format since PyTorch 1.6
  pickle,       // 0x80 then protocol 2..5: pickle.dump, joblib, torch.save's legacy format
  shard_index,  // JSON with a "weight_map" (model.safetensors.index.json)
  json,         // other JSON
};

// Enough for the magic numbers, a zip's first member name, and an index's
// "weight_map" key (transformers writes "metadata", a few lines, before it).
inline constexpr std::size_t kind_prefix_bytes = 4096;

// The kind of a file from its first min(kind_prefix_bytes, size) bytes.
inline input_kind kind_of_prefix(std::span<const std::byte> b, std::uint64_t file_size) {
  auto at = [&](std::size_t i) { return std::to_integer<unsigned>(b[i]); };
  auto starts_with = [&](std::string_view magic) {
    if (b.size() < magic.size()) return false;
    for (std::size_t i = 0; i < magic.size(); ++i)
      if (at(i) != static_cast<unsigned char>(magic[i])) return false;
    return true;
  };
  if (b.size() >= 9) {
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | at(static_cast<std::size_t>(i));
    if (n <= file_size - 8 && at(8) == '{') return input_kind::safetensors;
  }
  if (starts_with("\x93NUMPY")) return input_kind::npy;
  if (b.size() >= 2 && at(0) == 0x80 && at(1) >= 2 && at(1) <= 5) return input_kind::pickle;
  if (starts_with("PK\x05\x06")) return input_kind::zip;  // an empty archive
  if (starts_with("PK\x03\x04")) {
    // The first local file header: the name's length at 26, the name at 30.
    if (b.size() < 30) return input_kind::zip;
    std::size_t length = at(26) | at(27) << 8;
    std::string name;
    for (std::size_t i = 30; i < std::min(b.size(), 30 + length); ++i) name += static_cast<char>(at(i));
    if (name == "data.pkl" || name.ends_with("/data.pkl")) return input_kind::torch_zip;
    if (name.ends_with(".npy")) return input_kind::npz;
    return input_kind::zip;
  }
  std::size_t first = 0;
  while (first < b.size() && (at(first) == ' ' || at(first) == '\n' || at(first) == '\r' || at(first) == '\t')) ++first;
  if (first < b.size() && at(first) == '{') {
    std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
    return text.find("\"weight_map\"") != std::string_view::npos ? input_kind::shard_index : input_kind::json;
  }
  return input_kind::unknown;
}

// The kind of the file at `path`: a directory by stat, anything else by its
// first bytes (FIFOs and devices are refused unread, as everywhere).
inline input_kind kind_of(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return input_kind::directory;
  auto file = safeweights::file_handle::open_read(path);
  if (!file) return input_kind::unknown;
  std::vector<std::byte> head(static_cast<std::size_t>(std::min<std::uint64_t>(file->size(), kind_prefix_bytes)));
  if (!file->read_exact(head.data(), head.size(), 0)) return input_kind::unknown;
  input_kind kind = kind_of_prefix(head, file->size());
  if (kind == input_kind::json && path.ends_with(".index.json")) return input_kind::shard_index;
  return kind;
}

// The shard index in a directory, if it holds exactly one *.safetensors.index.json.
inline std::optional<std::string> index_in_directory(const std::string& dir) {
  std::optional<std::string> found;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.ends_with(".safetensors.index.json")) continue;
    if (found) return std::nullopt;
    found = it->path().string();
  }
  return found;
}

// What a directory given as an input holds that the user may have meant.
inline std::string describe_directory(const std::string& dir) {
  std::string text = "a directory, not a file";
  if (auto index = index_in_directory(dir))
    return text + " (did you mean " + safeweights::printable(*index) + "?)";
  std::vector<std::string> weights;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    if (it->path().filename().string().ends_with(".safetensors")) weights.push_back(it->path().string());
  std::sort(weights.begin(), weights.end());
  if (weights.size() == 1) return text + " (did you mean " + safeweights::printable(weights[0]) + "?)";
  if (weights.size() > 1)
    return text + " (it holds " + std::to_string(weights.size()) + " .safetensors files, " +
           safeweights::printable(weights[0]) + " first: name one)";
  return text;
}

inline const std::string pickle_refusal =
    "a Python pickle (pickle.dump, joblib, or torch.save's legacy format): unpickling runs code the file "
    "chooses, so it is refused; load it in a Python you trust and save the tensors as safetensors "
    "(README: migrating from pickle / torch.save)";

inline const std::string torch_refusal =
    "a PyTorch checkpoint (torch.save): its tensors sit behind a pickle (data.pkl), and unpickling runs code "
    "the file chooses, so it is refused; load it with torch.load(weights_only=True) in a Python you trust and "
    "save with safetensors.torch.save_file (README: migrating from pickle / torch.save)";

// Why a file of `kind` is not a safetensors input, or "" when there is
// nothing better to say than the reader's error (unknown, safetensors).
inline std::string describe_input(input_kind kind, const std::string& path) {
  switch (kind) {
    case input_kind::unknown:
    case input_kind::safetensors: return "";
    case input_kind::directory: return describe_directory(path);
    case input_kind::npy: return "a NumPy .npy array, not safetensors (use `safeweights convert`)";
    case input_kind::npz: return "a NumPy .npz archive, not safetensors (use `safeweights convert`)";
    case input_kind::zip:
      return "a zip archive, not safetensors (`safeweights convert` reads NumPy .npz archives)";
    case input_kind::torch_zip: return torch_refusal;
    case input_kind::pickle: return pickle_refusal;
    case input_kind::shard_index:
      return "a shard index, not a safetensors file (use `merge`, or pass it to `inspect`, `validate` or `stats`, "
             "which accept indexes)";
    case input_kind::json: return "a JSON file, not safetensors (which starts with an 8-byte header length)";
  }
  return "";
}

// `e`, the error of reading `path` as safetensors, with its message replaced
// by what the file is when that is known; the code is kept (it is what the
// format says is wrong).
inline safeweights::error explain_input(safeweights::error e, const std::string& path) {
  std::string why = describe_input(kind_of(path), path);
  if (!why.empty()) e.message = path + ": " + why;
  return e;
}

}  // namespace safeweights_cli
