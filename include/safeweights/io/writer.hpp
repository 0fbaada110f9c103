// Writing safetensors files in the reference's canonical layout:
// tensors ordered by dtype rank descending, then by name (bytewise);
// `__metadata__` first; compact JSON; header padded with spaces to a multiple
// of 8. Given the same tensors and metadata our bytes equal the reference's.
// Metadata keys keep the order they were given in (the reference's order for
// several keys follows a hash map and varies from run to run).
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

#include "safeweights/detail/name_table.hpp"
#include "safeweights/detail/padded_buffer.hpp"
#include "safeweights/format/elements.hpp"
#include "safeweights/format/read_options.hpp"
#include "safeweights/io/atomic_file.hpp"
#include "safeweights/io/output_sink.hpp"
#include "safeweights/io/tensor_view.hpp"
#include "safeweights/util/checked.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// Produces a tensor's bytes in order, a chunk at a time: fills the front of
// `dst` and returns how many bytes it wrote (at least 1). Returning 0 before
// the tensor is complete fails the write (errc::stream_failed).
using chunk_source = std::function<std::size_t(std::span<std::byte> dst)>;

struct write_options {
  // Pad the header with spaces so the data section starts on a 64-byte
  // boundary (for SIMD loads and device copies). Still valid safetensors,
  // but not the reference's bytes, so it is off by default.
  bool align_data = false;
  // Size of the buffer a chunk_source fills.
  std::size_t chunk_bytes = std::size_t{4} << 20;
};

class writer {
 public:
  // Adds a tensor whose bytes the caller keeps alive until the write is done.
  result<void> add(std::string name, dtype type, std::vector<std::uint64_t> shape,
                   std::span<const std::byte> bytes) {
    auto size = checked_size(name, type, shape);
    if (!size) return std::move(size).error_value();
    if (*size != bytes.size())
      return make_error(errc::size_mismatch, "tensor " + quote_name(name) + ": shape and dtype need " +
                                                 std::to_string(*size) + " bytes, " +
                                                 std::to_string(bytes.size()) + " given");
    return push(entry{std::move(name), type, std::move(shape), *size, bytes, {}});
  }

  // Adds host values of T (stored as dtype_of_v<T>); on a big-endian host
  // they are swapped to the file's little-endian order as they are written.
  // (The add of raw bytes above takes them as the file's bytes, unswapped.)
  template <class T>
  result<void> add(std::string name, std::vector<std::uint64_t> shape, std::span<const T> values) {
    return add_host_order(std::move(name), dtype_of_v<T>, std::move(shape), std::as_bytes(values));
  }

  // Adds float values stored as `type` (F32, F64, F16 or BF16), rounded to
  // nearest even as PyTorch's `.to()` does. The values, like bytes above,
  // stay with the caller until the write is done; they are converted a chunk
  // at a time each time the file is written. BF16 weights already held as
  // raw uint16 bits go in as add(name, dtype::BF16, shape, std::as_bytes(bits)):
  // add<std::uint16_t> would store them as U16 numbers.
  // (Any contiguous range of float: a vector, an array, a span.)
  template <std::ranges::contiguous_range Floats>
    requires std::same_as<std::ranges::range_value_t<Floats>, float>
  result<void> add(std::string name, dtype type, std::vector<std::uint64_t> shape, const Floats& floats) {
    const std::span<const float> values(std::ranges::data(floats), std::ranges::size(floats));
    if (type == dtype::F32) return add_host_order(std::move(name), type, std::move(shape), std::as_bytes(values));
    if (type != dtype::F64 && type != dtype::F16 && type != dtype::BF16)
      return make_error(errc::invalid_argument, "tensor " + quote_name(name) + ": floats are written as F32, "
                                                "F64, F16 or BF16, not " + std::string(dtype_name(type)));
    auto size = checked_size(name, type, shape);
    if (!size) return std::move(size).error_value();
    const std::size_t width = byte_width(type);
    if (*size / width != values.size())
      return make_error(errc::size_mismatch, "tensor " + quote_name(name) + ": shape needs " +
                                                 std::to_string(*size / width) + " values, " +
                                                 std::to_string(values.size()) + " given");
    return push(entry{std::move(name), type, std::move(shape), *size, {}, {}, values});
  }

  // Adds every tensor of a view: name, dtype, shape and bytes (swapped back
  // to little-endian when they are an eager load()'s host-order values on a
  // big-endian host).
  result<void> add(const tensor_view& view) {
    std::vector<std::uint64_t> shape(view.shape().begin(), view.shape().end());
    if (view.byte_order() != std::endian::little)
      return add_host_order(std::string(view.name()), view.type(), std::move(shape), view.bytes());
    return add(std::string(view.name()), view.type(), std::move(shape), view.bytes());
  }

  // Adds a tensor whose bytes come from `source` while the file is written,
  // so they never sit in memory whole.
  result<void> add_stream(std::string name, dtype type, std::vector<std::uint64_t> shape, chunk_source source) {
    auto size = checked_size(name, type, shape);
    if (!size) return std::move(size).error_value();
    if (!source) return make_error(errc::invalid_argument, "tensor " + quote_name(name) + ": no source");
    return push(entry{std::move(name), type, std::move(shape), *size, {}, std::move(source)});
  }

  // Sets a metadata key; a new key goes last, an existing one keeps its place.
  void set_metadata(std::string key, std::string value) {
    has_metadata_ = true;
    for (auto& kv : metadata_)
      if (kv.first == key) {
        kv.second = std::move(value);
        return;
      }
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  // Writes `"__metadata__":{}` even with no keys (the reference distinguishes
  // an empty map from none).
  void enable_metadata() { has_metadata_ = true; }

  // How many tensors have been added.
  std::size_t size() const noexcept { return entries_.size(); }

  // The JSON header with its padding, without the 8-byte length prefix.
  result<std::string> header(const write_options& options = {}) const {
    std::string json = "{";
    if (has_metadata_) {
      for (const auto& [key, value] : metadata_)
        if (!simdjson::validate_utf8(key.data(), key.size()) || !simdjson::validate_utf8(value.data(), value.size()))
          return make_error(errc::invalid_argument, "metadata " + quote_name(key) + ": key or value is not UTF-8");
      json += "\"__metadata__\":{";
      for (std::size_t i = 0; i < metadata_.size(); ++i) {
        if (i) json += ',';
        append_json_string(json, metadata_[i].first);
        json += ':';
        append_json_string(json, metadata_[i].second);
      }
      json += '}';
    }
    std::uint64_t offset = 0;
    bool first = !has_metadata_;
    for (const entry* e : canonical_order()) {
      if (!first) json += ',';
      first = false;
      append_json_string(json, e->name);
      json += ":{\"dtype\":\"";
      json += dtype_name(e->type);
      json += "\",\"shape\":[";
      for (std::size_t d = 0; d < e->shape.size(); ++d) {
        if (d) json += ',';
        append_uint(json, e->shape[d]);
      }
      json += "],\"data_offsets\":[";
      append_uint(json, offset);
      json += ',';
      if (!checked_add(offset, e->size, offset))
        return make_error(errc::size_overflow, "tensors add up to more than 2^64 bytes");
      append_uint(json, offset);
      json += "]}";
    }
    json += '}';
    // The reference pads to 8; aligned mode pads so 8 + header is a multiple of 64.
    std::size_t unit = options.align_data ? 64 : 8;
    std::size_t prefix = options.align_data ? 8 : 0;
    std::size_t padded = (json.size() + prefix + unit - 1) / unit * unit - prefix;
    json.append(padded - json.size(), ' ');
    if (json.size() > read_options{}.max_header_bytes)
      return make_error(errc::header_too_large, "header of " + std::to_string(json.size()) +
                                                    " bytes is over the 100,000,000-byte limit readers enforce");
    return json;
  }

  // Writes the file atomically: the old file (if any) stays whole until the
  // new one is complete and synced, and no temporary is left on failure.
  result<void> write_file(const std::string& path, const write_options& options = {}) const {
    auto file = atomic_file::create(path);
    if (!file) return std::move(file).error_value();
    fd_sink sink(file->fd());
    if (auto r = write_to(sink, options); !r) return std::move(r).error_value().in(path);
    if (auto r = sink.flush(); !r) return std::move(r).error_value().in(path);
    return file->commit();
  }

  // The whole file in memory.
  result<std::vector<std::byte>> serialize(const write_options& options = {}) const {
    vector_sink sink;
    if (auto r = write_to(sink, options); !r) return std::move(r).error_value();
    return std::move(sink.bytes);
  }

 private:
  struct entry {
    std::string name;
    dtype type;
    std::vector<std::uint64_t> shape;
    std::uint64_t size;
    std::span<const std::byte> bytes = {};
    chunk_source source = {};
    std::span<const float> floats = {};  // values stored as `type` by the write (not F32: those are `bytes`)
    bool host_order = false;  // `bytes` are host-order values to swap as written (big-endian hosts only)
  };

  // add() of bytes holding host-order values: the same as add() of the
  // file's bytes on a little-endian host; marked for swapping on a big-endian one.
  result<void> add_host_order(std::string name, dtype type, std::vector<std::uint64_t> shape,
                              std::span<const std::byte> bytes) {
    auto r = add(std::move(name), type, std::move(shape), bytes);
    if constexpr (host_is_big_endian)
      if (r && needs_swap(type)) entries_.back().host_order = true;
    return r;
  }

  static result<std::uint64_t> checked_size(const std::string& name, dtype type,
                                            const std::vector<std::uint64_t>& shape) {
    if (name == "__metadata__")
      return make_error(errc::invalid_argument, "`__metadata__` is reserved and cannot name a tensor");
    if (!simdjson::validate_utf8(name.data(), name.size()))
      return make_error(errc::invalid_argument, "tensor " + quote_name(name) + ": name is not UTF-8");
    auto elements = element_count(shape);
    std::uint64_t bits = 0;
    if (!elements || !checked_mul(*elements, bit_width(type), bits))
      return make_error(errc::size_overflow, "tensor " + quote_name(name) + ": size overflows 64 bits");
    if (bits % 8 != 0)
      return make_error(errc::subbyte_misaligned, "tensor " + quote_name(name) + ": " +
                                                      std::to_string(*elements) + " elements of " +
                                                      std::string(dtype_name(type)) + " are not whole bytes");
    return bits / 8;
  }

  result<void> push(entry e) {
    auto k = static_cast<std::uint32_t>(entries_.size());
    auto name_of = [this](std::uint32_t i) -> std::string_view { return entries_[i].name; };
    entries_.push_back(std::move(e));
    // Insert after the push so the table can read the name back.
    if (names_.insert(entries_.back().name, k, name_of) != detail::name_table::empty) {
      std::string name = std::move(entries_.back().name);
      entries_.pop_back();
      return make_error(errc::duplicate_key, "tensor " + quote_name(name) + " added twice");
    }
    return {};
  }

  std::vector<const entry*> canonical_order() const {
    std::vector<const entry*> order;
    order.reserve(entries_.size());
    for (const entry& e : entries_) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](const entry* a, const entry* b) {
      if (a->type != b->type) return rank_of(a->type) > rank_of(b->type);
      return a->name < b->name;  // std::string compares bytes as unsigned, like Rust
    });
    return order;
  }

  template <class Sink>
  result<void> write_to(Sink& sink, const write_options& options) const {
    auto json = header(options);
    if (!json) return std::move(json).error_value();
    unsigned char prefix[8];
    std::uint64_t n = json->size();
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(n >> (8 * i));
    if (auto r = sink.write(std::as_bytes(std::span(prefix))); !r) return r;
    if (auto r = sink.write(std::as_bytes(std::span(json->data(), json->size()))); !r) return r;
    std::vector<std::byte> chunk;
    for (const entry* e : canonical_order()) {
      if (!e->floats.empty()) {
        if (auto r = write_floats(sink, *e, chunk); !r) return r;
        continue;
      }
      if (host_is_big_endian && e->host_order) {
        if (auto r = write_swapped(sink, *e); !r) return r;
        continue;
      }
      if (!e->source) {
        if (auto r = sink.write(e->bytes); !r) return r;
        continue;
      }
      if (chunk.empty()) chunk.resize(std::max<std::size_t>(options.chunk_bytes, 1));
      std::uint64_t done = 0;
      while (done < e->size) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), e->size - done));
        std::size_t got = e->source(std::span(chunk.data(), want));
        if (got == 0 || got > want)
          return make_error(errc::stream_failed, "tensor " + quote_name(e->name) + ": source " +
                                                     (got == 0 ? "stopped" : "overran its buffer") + " after " +
                                                     std::to_string(done) + " of " + std::to_string(e->size) +
                                                     " bytes");
        if (auto r = sink.write(std::span<const std::byte>(chunk.data(), got)); !r) return r;
        done += got;
      }
    }
    return {};
  }

  // Host-order values written as the file's little-endian bytes, swapped
  // 64 KiB at a time (big-endian hosts only).
  template <class Sink>
  static result<void> write_swapped(Sink& sink, const entry& e) {
    constexpr std::size_t per_chunk = std::size_t{64} << 10;
    std::vector<std::byte> chunk(std::min(per_chunk, e.bytes.size()));
    for (std::size_t done = 0; done < e.bytes.size();) {
      const std::size_t n = std::min(per_chunk, e.bytes.size() - done);  // a multiple of 8: whole elements
      copy_swapped(e.type, e.bytes.subspan(done, n), chunk.data());
      if (auto r = sink.write(std::span<const std::byte>(chunk.data(), n)); !r) return r;
      done += n;
    }
    return {};
  }

  // A float entry's values stored as its dtype, converted through `chunk` 64 KiB at a time.
  template <class Sink>
  static result<void> write_floats(Sink& sink, const entry& e, std::vector<std::byte>& chunk) {
    constexpr std::size_t per_chunk = 8192;
    const std::size_t width = byte_width(e.type);
    if (chunk.size() < per_chunk * width) chunk.resize(per_chunk * width);
    for (std::size_t done = 0; done < e.floats.size();) {
      const std::size_t n = std::min(per_chunk, e.floats.size() - done);
      std::byte* out = chunk.data();
      for (std::size_t i = 0; i < n; ++i) {
        const float v = e.floats[done + i];
        if (e.type == dtype::F64) {
          const double d = to_little(static_cast<double>(v));
          std::memcpy(out + i * width, &d, width);
        } else {
          const std::uint16_t h = to_little(e.type == dtype::BF16 ? float_to_bf16(v) : float_to_f16(v));
          std::memcpy(out + i * width, &h, width);
        }
      }
      if (auto r = sink.write(std::span<const std::byte>(out, n * width)); !r) return r;
      done += n;
    }
    return {};
  }

  std::vector<entry> entries_;
  detail::name_table names_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  bool has_metadata_ = false;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
