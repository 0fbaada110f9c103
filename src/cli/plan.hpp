// An output safetensors file described before it is written: which input
// tensors go in, under which names and dtypes, with which metadata. The
// commands that rewrite files (cast, rename, extract, metadata, shard, merge)
// build a plan and write it here: streamed from the inputs' mappings,
// converted where the dtype changes, atomically, with a progress bar.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "safeweights/safeweights.hpp"
#include "streams.hpp"

namespace safeweights_cli {

struct planned_tensor {
  std::string name;
  sw::tensor_view source;  // the input tensor (keeps its file mapped)
  sw::dtype type;          // the output dtype: source.type(), or a cast
};

struct planned_file {
  std::vector<planned_tensor> tensors;
  bool has_metadata = false;  // write `__metadata__` even when empty
  std::vector<std::pair<std::string, std::string>> metadata;

  // A new key goes last, an existing one keeps its place.
  void set_metadata(std::string key, std::string value) {
    has_metadata = true;
    for (auto& kv : metadata)
      if (kv.first == key) {
        kv.second = std::move(value);
        return;
      }
    metadata.emplace_back(std::move(key), std::move(value));
  }
  std::uint64_t source_bytes() const {
    std::uint64_t n = 0;
    for (const planned_tensor& t : tensors) n += t.source.bytes().size();
    return n;
  }
};

// Adds `r`'s metadata to `plan` (an empty `__metadata__` object is kept too).
inline void copy_metadata(const sw::reader& r, planned_file& plan) {
  if (!r.has_metadata()) return;
  plan.has_metadata = true;
  for (const sw::metadata_entry& m : r.metadata()) plan.set_metadata(std::string(m.key), std::string(m.value));
}

// Every tensor of `r` in file order, unchanged, and its metadata.
inline sw::result<planned_file> plan_all(const sw::reader& r) {
  planned_file plan;
  plan.tensors.reserve(r.tensors().size());
  for (const sw::tensor_info& info : r.tensors()) {
    auto view = r.tensor(info);
    if (!view) return std::move(view).error_value();
    plan.tensors.push_back({std::string(info.name), *view, info.type});
  }
  copy_metadata(r, plan);
  return plan;
}

// Sets every float tensor's output dtype to `to` (see is_castable_float);
// a packed float (F4, F6_*) cannot be converted and is an error.
inline sw::result<void> cast_floats(planned_file& plan, sw::dtype to, std::string_view source) {
  for (planned_tensor& t : plan.tensors) {
    if (is_packed(t.type))
      return sw::make_error(sw::errc::invalid_argument,
                            std::string(source) + ": tensor " + sw::quote_name(t.name) + " is " +
                                std::string(sw::dtype_name(t.type)) +
                                ", a packed type that cannot be converted; `extract` the other tensors first");
    if (is_castable_float(t.type)) t.type = to;
  }
  return {};
}

// Writes `plan` to `path` atomically: the old file stays whole until the new
// one is complete and synced, and no temporary is left on failure.
inline sw::result<void> write_plan(const planned_file& plan, const std::string& path,
                                   const sw::write_options& options = {}) {
  progress bar("writing " + printable(path), plan.source_bytes());
  sw::writer w;
  for (const planned_tensor& t : plan.tensors) {
    sw::chunk_source bytes = span_source(t.source.bytes(), &bar);
    if (t.type != t.source.type()) bytes = cast_source(std::move(bytes), t.source.type(), t.type, t.source.elements());
    std::vector<std::uint64_t> shape(t.source.shape().begin(), t.source.shape().end());
    if (auto added = w.add_stream(t.name, t.type, std::move(shape), std::move(bytes)); !added)
      return std::move(added).error_value().in(path);
  }
  if (plan.has_metadata) w.enable_metadata();
  for (const auto& [key, value] : plan.metadata) w.set_metadata(key, value);
  return w.write_file(path, options);
}

}  // namespace safeweights_cli

namespace safeweights_cli {

// Writes `text` to `path` atomically (temporary file, fsync, rename).
inline sw::result<void> write_text_file(const std::string& path, std::string_view text) {
  auto file = sw::atomic_file::create(path);
  if (!file) return std::move(file).error_value();
  sw::fd_sink sink(file->fd());
  if (auto r = sink.write(std::as_bytes(std::span(text.data(), text.size()))); !r) return std::move(r).error_value().in(path);
  if (auto r = sink.flush(); !r) return std::move(r).error_value().in(path);
  return file->commit();
}

}  // namespace safeweights_cli
