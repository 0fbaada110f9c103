// The one line a command that writes files prints when it is done, e.g.
// `wrote out.safetensors: 148 tensors, 497.8 MB (74 cast F32 -> BF16)`, on
// stdout unless --quiet (-q). Used by the executable's commands and the
// module's alike (header-only, nothing of either side).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "command.hpp"
#include "safeweights/format/dtype.hpp"
#include "size.hpp"

namespace safeweights_cli {

// The two spellings of the flag every writing command takes.
inline constexpr std::string_view quiet_flag = "--quiet", quiet_short_flag = "-q";

// Whether --quiet or -q was given; `Args` is parsed_args or command_line.
template <class Args>
bool quiet_requested(const Args& args) {
  return args.has(quiet_flag) || args.has(quiet_short_flag);
}

// "1 tensor", "148 tensors".
inline std::string count_text(std::uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// The bytes `path` holds on disk: a file's size, or a directory's regular files summed (0 if unreadable).
inline std::uint64_t size_on_disk(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  }
  std::uint64_t total = 0;
  for (const auto& entry : fs::directory_iterator(path, ec))
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  return total;
}

// "148 tensors, 497.8 MB": how many tensors went to `path`, and its size on disk.
inline std::string tensors_written(std::uint64_t tensors, const std::string& path,
                                   std::string_view one = "tensor", std::string_view many = "tensors") {
  return count_text(tensors, one, many) + ", " + human_size(size_on_disk(path));
}

// Counts dtype changes, in the order "74 cast F32 -> BF16, 2 cast F64 -> BF16" (by source dtype's rank).
class cast_counter {
 public:
  void add(safeweights::dtype from, safeweights::dtype to) {
    if (from != to) ++counts_[{from, to}];
  }
  // " (74 cast F32 -> BF16)", or "" when nothing changed dtype.
  std::string note() const {
    std::string out;
    for (const auto& [types, n] : counts_) {
      out += out.empty() ? " (" : ", ";
      out += std::to_string(n) + " cast " + std::string(safeweights::dtype_name(types.first)) + " -> " +
             std::string(safeweights::dtype_name(types.second));
    }
    return out.empty() ? out : out + ")";
  }

 private:
  std::map<std::pair<safeweights::dtype, safeweights::dtype>, std::uint64_t> counts_;
};

// "wrote PATH: WHAT" on stdout, unless `quiet`.
inline void report_written(bool quiet, std::string_view path, std::string_view what) {
  if (quiet) return;
  write_out(stdout, "wrote " + printable(path) + ": " + std::string(what) + "\n");
}

// A warning on stderr ("safeweights: warning: ..."), unless `quiet`.
inline void warn_unless_quiet(bool quiet, std::string_view message) {
  if (!quiet) print_error("warning: " + std::string(message));
}

}  // namespace safeweights_cli
