// The tensors of a model, from one safetensors file or from the shards a
// `model.safetensors.index.json` names (io/shard_index.hpp), looked up by
// name as one set. nn's state dicts load from it; the command line's
// `merge`, `inspect`, `validate` and `stats` read indexes through it.
//
// Each file is opened (and mapped) once. A name held by two files is an
// error (duplicate_key); so is a tensor the index maps to a shard that does
// not hold it (tensor_not_found), and a tensor a shard holds but the index
// does not list (invalid_shard_index). The index's `total_size`, when
// present, must be the data bytes of the tensors it lists, as transformers
// computes it (invalid_shard_index, both numbers named). Errors name the
// index, and a shard by the index's name for it.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "safeweights/io/reader.hpp"
#include "safeweights/io/shard_index.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

namespace detail {

// A shard's error as the index's: the shard's path in front (which holds
// the index's name for it) replaced by that name, quoted, since an index may
// name shards anything.
inline error in_shard(error e, const std::string& path, const std::string& index_path, std::string_view shard) {
  std::string_view why = e.message;
  if (why.starts_with(path + ": ")) why.remove_prefix(path.size() + 2);
  e.message = "shard " + quote_name(shard) + ": " + std::string(why);
  return std::move(e.in(index_path));
}

}  // namespace detail

class checkpoint {
 public:
  struct entry {
    std::string_view name;  // points into the file's index: valid as long as the checkpoint
    std::size_t file = 0;   // index into files()
    const tensor_info* info = nullptr;
  };

  checkpoint() = default;

  // A file whose name ends in ".json" is read as a shard index, anything else as safetensors.
  static result<checkpoint> open(const std::string& path, const read_options& options = {}) {
    if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) return open_sharded(path, options);
    auto file = reader::open(path, options);
    if (!file) return std::move(file).error_value();
    std::vector<reader> files;
    files.push_back(std::move(*file));
    return from_files(std::move(files), path);
  }

  // The shards an index names (files beside it), checked against the index.
  static result<checkpoint> open_sharded(const std::string& index_path, const read_options& options = {}) {
    auto index = read_shard_index(index_path);
    if (!index) return std::move(index).error_value();
    const std::filesystem::path dir = platform::utf8_path(index_path).parent_path();
    std::vector<reader> files;
    std::unordered_map<std::string_view, std::size_t> shard_number;
    for (const std::string& shard : index->shards) {
      const std::string path = platform::path_utf8(dir / platform::utf8_path(shard));
      auto file = reader::open(path, options);
      if (!file) return detail::in_shard(std::move(file).error_value(), path, index_path, shard);
      shard_number.emplace(shard, files.size());
      files.push_back(std::move(*file));
    }
    auto set = collect(std::move(files), index_path, index->shards);
    if (!set) return set;
    // The index and the shards must tell the same story.
    std::uint64_t total = 0;
    for (const auto& [name, shard] : index->weight_map) {
      const entry* e = set->find(name);
      if (!e || e->file != shard_number.at(shard))
        return make_error(errc::tensor_not_found,
                          "tensor " + quote_name(name) + " is mapped to " + quote_name(shard) +
                              ", which does not hold it" +
                              (e ? " (it is in " + quote_name(index->shards[e->file]) + ")" : std::string()))
            .in(index_path);
      total += e->info->byte_size();
    }
    if (index->weight_map.size() != set->tensors().size()) {
      std::unordered_set<std::string_view> listed;
      for (const auto& kv : index->weight_map) listed.insert(kv.first);
      for (const entry& e : set->tensors())
        if (!listed.count(e.name))
          return make_error(errc::invalid_shard_index, "shard " + quote_name(index->shards[e.file]) + " holds tensor " +
                                                           quote_name(e.name) + ", which the index does not list")
              .in(index_path);
    }
    if (index->total_size && *index->total_size != total)
      return make_error(errc::invalid_shard_index, "metadata `total_size` is " + std::to_string(*index->total_size) +
                                                       " but the tensors the index lists hold " +
                                                       std::to_string(total) + " bytes")
          .in(index_path);
    set->index_ = std::move(*index);
    return set;
  }

  // Tensors of several open files as one set (each file once).
  static result<checkpoint> from_files(std::vector<reader> files, std::string source) {
    std::vector<std::string> labels;
    for (const reader& r : files) labels.push_back(r.source());
    return collect(std::move(files), std::move(source), labels);
  }

  const std::string& source() const noexcept { return source_; }
  std::span<const reader> files() const noexcept { return files_; }
  std::span<const entry> tensors() const noexcept { return entries_; }
  std::uint64_t total_bytes() const noexcept { return bytes_; }
  // The index the shards were opened from (open_sharded), or nothing.
  const std::optional<shard_index>& index() const noexcept { return index_; }

  const entry* find(std::string_view name) const noexcept {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &entries_[it->second];
  }

  result<tensor_view> view(const entry& e) const { return files_[e.file].tensor(*e.info); }

  // An error from files()[file] told in the index's terms (the index's path,
  // then the shard as the index names it); unchanged when not opened from an index.
  error shard_error(error e, std::size_t file) const {
    if (!index_ || file >= index_->shards.size()) return e;
    return detail::in_shard(std::move(e), files_[file].source(), source_, index_->shards[file]);
  }

  // A metadata value from the first file that has the key.
  std::optional<std::string_view> metadata_value(std::string_view key) const noexcept {
    for (const reader& r : files_)
      if (auto v = r.metadata_value(key)) return v;
    return std::nullopt;
  }

 private:
  // `labels[f]` names files[f] in a message: its path, or the index's name for the shard.
  static result<checkpoint> collect(std::vector<reader> files, std::string source,
                                    std::span<const std::string> labels) {
    checkpoint c;
    c.source_ = std::move(source);
    c.files_ = std::move(files);
    for (std::size_t f = 0; f < c.files_.size(); ++f) {
      for (const tensor_info& t : c.files_[f].tensors()) {
        auto [it, fresh] = c.by_name_.emplace(t.name, c.entries_.size());
        if (!fresh)
          return make_error(errc::duplicate_key, "tensor " + quote_name(t.name) + " is in both " +
                                                     quote_name(labels[c.entries_[it->second].file]) + " and " +
                                                     quote_name(labels[f]))
              .in(c.source_);
        c.entries_.push_back({t.name, f, &t});
        c.bytes_ += t.byte_size();
      }
    }
    return c;
  }

  std::string source_;
  std::vector<reader> files_;
  std::vector<entry> entries_;
  std::unordered_map<std::string_view, std::size_t> by_name_;
  std::uint64_t bytes_ = 0;
  std::optional<shard_index> index_;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
