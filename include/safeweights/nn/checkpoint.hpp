// The tensors of a model, from one safetensors file or from the shards a
// `model.safetensors.index.json` names, looked up by name as one set.
//
// Each file is opened (and mapped) once. A name held by two files is an
// error (duplicate_key); so is a tensor the index maps to a shard that does
// not hold it (tensor_not_found), a tensor a shard holds but the index does
// not list, or a `total_size` that differs from the tensors' bytes
// (invalid_shard_index). Errors name the file.
#pragma once

#include <filesystem>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "safeweights/io/reader.hpp"
#include "safeweights/nn/sharded.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

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

  static result<checkpoint> open_sharded(const std::string& index_path, const read_options& options = {}) {
    auto index = read_shard_index(index_path);
    if (!index) return std::move(index).error_value();
    const std::filesystem::path dir = std::filesystem::path(index_path).parent_path();
    std::vector<reader> files;
    std::unordered_map<std::string_view, std::size_t> shard_number;
    for (const std::string& shard : index->shards) {
      auto file = reader::open((dir / shard).string(), options);
      if (!file) return std::move(file).error_value().in(index_path);
      shard_number.emplace(shard, files.size());
      files.push_back(std::move(*file));
    }
    auto set = from_files(std::move(files), index_path);
    if (!set) return set;
    // The index and the shards must tell the same story.
    std::uint64_t total = 0;
    std::size_t listed = 0;
    for (const auto& [name, shard] : index->weight_map) {
      const std::size_t want = shard_number.at(shard);
      const entry* e = set->find(name);
      if (!e || e->file != want)
        return make_error(errc::tensor_not_found, "tensor " + safeweights::quote_name(name) +
                                                      " is mapped to " + safeweights::quote_name(shard) +
                                                      ", which does not hold it")
            .in(index_path);
      total += e->info->byte_size();
      ++listed;
    }
    if (listed != set->tensors().size()) {
      std::unordered_set<std::string_view> in_index;
      for (const auto& kv : index->weight_map) in_index.insert(kv.first);
      for (const entry& e : set->tensors()) {
        if (!in_index.count(e.name))
          return make_error(errc::invalid_shard_index, "shard " + safeweights::quote_name(set->files()[e.file].source()) +
                                                           " holds tensor " + safeweights::quote_name(e.name) +
                                                           ", which the index does not list")
              .in(index_path);
      }
    }
    if (index->total_size && *index->total_size != total)
      return make_error(errc::invalid_shard_index, "`total_size` is " + std::to_string(*index->total_size) +
                                                       " but the tensors hold " + std::to_string(total) + " bytes")
          .in(index_path);
    return set;
  }

  // Tensors of several open files as one set (each file once).
  static result<checkpoint> from_files(std::vector<reader> files, std::string source) {
    checkpoint c;
    c.source_ = std::move(source);
    c.files_ = std::move(files);
    for (std::size_t f = 0; f < c.files_.size(); ++f) {
      for (const tensor_info& t : c.files_[f].tensors()) {
        auto [it, fresh] = c.by_name_.emplace(t.name, c.entries_.size());
        if (!fresh)
          return make_error(errc::duplicate_key, "tensor " + safeweights::quote_name(t.name) + " is in both " +
                                                     safeweights::quote_name(c.files_[c.entries_[it->second].file].source()) +
                                                     " and " + safeweights::quote_name(c.files_[f].source()))
              .in(c.source_);
        c.entries_.push_back({t.name, f, &t});
        c.bytes_ += t.byte_size();
      }
    }
    return c;
  }

  const std::string& source() const noexcept { return source_; }
  std::span<const reader> files() const noexcept { return files_; }
  std::span<const entry> tensors() const noexcept { return entries_; }
  std::uint64_t total_bytes() const noexcept { return bytes_; }

  const entry* find(std::string_view name) const noexcept {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &entries_[it->second];
  }

  result<tensor_view> view(const entry& e) const { return files_[e.file].tensor(*e.info); }

  // A metadata value from the first file that has the key.
  std::optional<std::string_view> metadata_value(std::string_view key) const noexcept {
    for (const reader& r : files_)
      if (auto v = r.metadata_value(key)) return v;
    return std::nullopt;
  }

 private:
  std::string source_;
  std::vector<reader> files_;
  std::vector<entry> entries_;
  std::unordered_map<std::string_view, std::size_t> by_name_;
  std::uint64_t bytes_ = 0;
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
