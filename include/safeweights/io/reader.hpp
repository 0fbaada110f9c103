// Reading safetensors files.
//
// The format: 8 bytes, a little-endian u64 N; N bytes of UTF-8 JSON naming
// each tensor's dtype, shape and byte span [begin, end) in the data section;
// then the data section, the tensors' raw little-endian bytes back to back.
// Nothing in a file is ever executed. spec/FORMAT.md has the rules.
//
// Opening reads the prefix and the header, validates all of it, and maps the
// file; no tensor byte is read or copied until asked for, so opening a 1 GiB
// file costs what opening a 1 KiB one with the same header costs.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "safeweights/detail/padded_buffer.hpp"
#include "safeweights/format/header/length_prefix.hpp"
#include "safeweights/format/header/parse_header.hpp"
#include "safeweights/format/header/tuning.hpp"
#include "safeweights/format/slice_layout.hpp"
#include "safeweights/io/file_handle.hpp"
#include "safeweights/io/loaded_tensors.hpp"
#include "safeweights/io/mapping.hpp"
#include "safeweights/io/reader_state.hpp"
#include "safeweights/io/tensor_view.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
class reader;
namespace detail {
// `reader::open(path)->tensors()` would dangle with the temporary result; its
// `.value()` gives a temporary reader, whose such members are deleted.
// (Declared before the class, whose own members already name result<reader>.)
template <>
inline constexpr bool hands_out_views<reader> = true;
}  // namespace detail

class reader {
 public:
  // Opens, validates and (in io_mode::mmap) maps a file. Never throws but for bad_alloc.
  static result<reader> open(const std::string& path, const read_options& options = {}) {
    auto r = open_impl(path, options);
    if (!r) return std::move(r).error_value().in(path);
    return r;
  }

  // Opens a file already open for reading (`label` names it in messages):
  // the reader reads and maps this descriptor, whatever its path is now.
  static result<reader> open(file_handle file, const std::string& label, const read_options& options = {}) {
    auto r = open_impl(std::move(file), label, options);
    if (!r) return std::move(r).error_value().in(label);
    return r;
  }

  // Reads a file image the caller holds; the caller keeps `bytes` alive
  // for as long as this reader and its views live.
  static result<reader> from_buffer(std::span<const std::byte> bytes, const read_options& options = {},
                                    std::string label = "<buffer>") {
    auto state = std::make_shared<detail::reader_state>();
    state->source = std::move(label);
    state->bytes = bytes;
    state->file_size = bytes.size();
    auto n = check_length_prefix(
        {reinterpret_cast<const unsigned char*>(bytes.data()), std::min<std::size_t>(bytes.size(), 8)}, bytes.size(),
        options);
    if (!n) return std::move(n).error_value().in(state->source);
    const std::uint64_t data_bytes = bytes.size() - 8 - *n;
    auto index = parse_header(
        std::string_view(reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<std::size_t>(*n)),
        static_cast<std::size_t>(data_bytes), data_bytes, options, caller_keeps_alive(bytes.data()));
    if (!index) return std::move(index).error_value().in(state->source);
    state->index = std::move(*index);
    return reader(std::move(state));
  }

  // The path (or buffer label), how the file is read, its size, and the validated header:
  // tensors in offset order, lookup by name, the __metadata__ map. What these
  // hand out by reference lives as long as the reader (its views keep the
  // header alive too), so on a temporary reader they are deleted.
  const std::string& source() const& noexcept { return state_->source; }
  io_mode mode() const noexcept { return state_->mode; }
  std::uint64_t file_size() const noexcept { return state_->file_size; }
  const header_index& index() const& noexcept { return state_->index; }
  std::span<const tensor_info> tensors() const& noexcept { return state_->index.tensors(); }
  const tensor_info* find(std::string_view name) const& noexcept { return state_->index.find(name); }
  bool has_metadata() const noexcept { return state_->index.has_metadata(); }
  std::span<const metadata_entry> metadata() const& noexcept { return state_->index.metadata(); }
  std::optional<std::string_view> metadata_value(std::string_view key) const& noexcept {
    return state_->index.metadata_value(key);
  }
  const std::string& source() && = delete;
  const header_index& index() && = delete;
  std::span<const tensor_info> tensors() && = delete;
  const tensor_info* find(std::string_view name) && = delete;
  std::span<const metadata_entry> metadata() && = delete;
  std::optional<std::string_view> metadata_value(std::string_view key) && = delete;

  // A view of one tensor (zero-copy when mapped; read into owned memory in pread mode).
  result<tensor_view> tensor(std::string_view name) const {
    const tensor_info* info = find(name);
    if (!info) return not_found(name);
    return tensor(*info);
  }

  // `info` must come from this reader's tensors().
  result<tensor_view> tensor(const tensor_info& info) const {
    if (!state_->bytes.empty() || state_->file_size == 0 || info.byte_size() == 0)
      return tensor_view(&info, state_->in_memory(info), state_);
    struct holder {
      std::shared_ptr<const detail::reader_state> state;
      aligned_buffer buffer;
    };
    auto h = std::make_shared<holder>(holder{state_, aligned_buffer(static_cast<std::size_t>(info.byte_size()))});
    if (auto r = read_into(info, h->buffer.bytes()); !r) return std::move(r).error_value();
    std::span<const std::byte> bytes = h->buffer.bytes();
    return tensor_view(&info, bytes, std::move(h));
  }

  // Copies one tensor's bytes into `dst`, which must be exactly its size.
  result<void> read_into(const tensor_info& info, std::span<std::byte> dst) const {
    if (dst.size() != info.byte_size())
      return make_error(errc::invalid_argument, "tensor " + quote_name(info.name) + " is " +
                                                    std::to_string(info.byte_size()) + " bytes, buffer is " +
                                                    std::to_string(dst.size()))
          .in(source());
    if (dst.empty()) return {};
    return state_->read_range(dst.data(), dst.size(), info.begin);
  }

  // Slices (format/slice_layout.hpp says where their bytes lie). A slice
  // never reads outside itself: in memory its runs are copied from the
  // mapping, touching only their pages; in io_mode::pread each run is fetched
  // exactly, and runs that touch in the file go in one preadv.
  // As a view: zero-copy when its bytes are contiguous and in memory,
  // otherwise an owned copy of exactly its bytes; the view's info() carries
  // the slice's shape.
  result<tensor_view> slice(const tensor_info& info, slice_spec spec) const {
    auto layout = plan_slice(info, spec);
    if (!layout) return std::move(layout).error_value().in(source());
    // The view's own tensor_info (the slice's shape), kept beside its bytes.
    struct holder {
      std::shared_ptr<const detail::reader_state> state;
      std::vector<std::uint64_t> shape;
      tensor_info info;
      aligned_buffer copy;
    };
    auto h = std::make_shared<holder>();
    h->state = state_;
    h->shape = std::move(layout->shape);
    h->info = info;
    h->info.shape = h->shape;
    h->info.elements = layout->elements;
    h->info.begin = info.begin + layout->offset;
    h->info.end = h->info.begin + layout->bytes();
    if (layout->contiguous() && (state_->mode == io_mode::mmap || !state_->file)) {
      std::span<const std::byte> bytes;
      if (layout->bytes())
        bytes = state_->bytes.subspan(static_cast<std::size_t>(state_->index.data_offset() + h->info.begin),
                                      static_cast<std::size_t>(layout->bytes()));
      const tensor_info* p = &h->info;
      return tensor_view(p, bytes, std::move(h));
    }
    h->copy = aligned_buffer(static_cast<std::size_t>(layout->bytes()));
    if (auto r = read_slice(info, spec, h->copy.bytes()); !r) return std::move(r).error_value();
    std::span<const std::byte> bytes = h->copy.bytes();
    const tensor_info* p = &h->info;
    return tensor_view(p, bytes, std::move(h));
  }

  result<tensor_view> slice(std::string_view name, slice_spec spec) const {
    const tensor_info* info = find(name);
    if (!info) return not_found(name);
    return slice(*info, spec);
  }

  // Copies a slice into `dst` (exactly its bytes), reading only those bytes.
  result<void> read_slice(const tensor_info& info, slice_spec spec, std::span<std::byte> dst) const {
    auto layout = plan_slice(info, spec);
    if (!layout) return std::move(layout).error_value().in(source());
    if (dst.size() != layout->bytes())
      return make_error(errc::invalid_argument, "slice of tensor " + quote_name(info.name) + " is " +
                                                    std::to_string(layout->bytes()) + " bytes, buffer is " +
                                                    std::to_string(dst.size()))
          .in(source());
    std::vector<byte_range> runs(static_cast<std::size_t>(layout->runs));
    for (std::size_t k = 0; k < runs.size(); ++k)
      runs[k] = byte_range{info.begin + layout->offset + k * layout->stride, layout->run_bytes,
                           dst.data() + k * layout->run_bytes};
    return read_ranges(runs);
  }

  // Byte ranges of the data section, each copied to its own destination. In
  // io_mode::pread ranges that touch in the file are fetched by one call
  // (preadv into their destinations); nothing outside the ranges is read.
  using byte_range = safeweights::byte_range;
  result<void> read_ranges(std::span<const byte_range> ranges) const { return state_->read_ranges(ranges); }

  // The whole data section (every tensor, in file order) copied into dst,
  // which must be exactly data_size() bytes: one pass, split over threads
  // for large files. The fastest way to materialise a file in owned memory.
  std::uint64_t data_size() const noexcept { return state_->index.data_size(); }
  result<void> read_data(std::span<std::byte> dst) const {
    if (dst.size() != data_size())
      return make_error(errc::invalid_argument, "data section is " + std::to_string(data_size()) +
                                                    " bytes, buffer is " + std::to_string(dst.size()))
          .in(source());
    return state_->read_range_parallel(dst.data(), dst.size(), 0);
  }

  // A tensor's bytes for writing in place: only in a reader opened with
  // read_options::copy_on_write, whose private mapping keeps every write in
  // this process. Lives as long as this reader (deleted on a temporary).
  result<std::span<std::byte>> writable_bytes(const tensor_info& info) const& {
    std::span<std::byte> all = state_->map ? state_->map->writable_bytes() : std::span<std::byte>();
    if (all.empty() && info.byte_size() != 0)
      return make_error(errc::invalid_argument, "tensor " + quote_name(info.name) +
                                                    ": writable bytes need a copy-on-write mapping "
                                                    "(read_options::copy_on_write, io_mode::mmap)")
          .in(source());
    if (info.end > data_size() || info.begin > info.end)
      return make_error(errc::invalid_argument, "tensor " + quote_name(info.name) + " is not one of this file's")
          .in(source());
    if (info.byte_size() == 0) return std::span<std::byte>();
    return all.subspan(static_cast<std::size_t>(state_->index.data_offset() + info.begin),
                       static_cast<std::size_t>(info.byte_size()));
  }
  result<std::span<std::byte>> writable_bytes(const tensor_info& info) && = delete;

  // Bytes and read calls fetched from the file by pread so far.
  std::uint64_t bytes_fetched() const noexcept { return state_->bytes_fetched.load(std::memory_order_relaxed); }
  std::uint64_t fetch_calls() const noexcept { return state_->fetch_calls.load(std::memory_order_relaxed); }

  // Eager mode: copies the named tensors (all of them when `names` is empty)
  // into owned, 64-byte aligned memory. All of them from 64 MiB up are read
  // by up to 4 threads at once. The memory holds host-order values: the
  // file's bytes on a little-endian host; on a big-endian host each tensor's
  // elements are swapped there, so as<T>() views them without a copy
  // (tensor_view::byte_order() is big for these views only).
  result<loaded_tensors> load(std::span<const std::string_view> names = {}) const {
    std::vector<const tensor_info*> chosen;
    if (names.empty()) {
      for (const tensor_info& t : tensors()) chosen.push_back(&t);
    } else {
      for (std::string_view n : names) {
        const tensor_info* t = find(n);
        if (!t) return not_found(n);
        chosen.push_back(t);
      }
    }
    const bool whole = names.empty();
    // Loading everything: one read of the whole data section, tensors at their
    // own offsets. A subset: each tensor on its own 64-byte boundary.
    std::vector<std::uint64_t> place(chosen.size());
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < chosen.size(); ++i) {
      if (whole) {
        place[i] = chosen[i]->begin;
      } else {
        place[i] = total;
        total += (chosen[i]->byte_size() + aligned_buffer::alignment - 1) / aligned_buffer::alignment *
                 aligned_buffer::alignment;
      }
    }
    if (whole) total = index().data_size();
    auto owner = std::make_shared<loaded_tensors::storage>(
        loaded_tensors::storage{state_, aligned_buffer(static_cast<std::size_t>(total))});
    std::byte* base = owner->buffer.data();
    if (whole) {
      auto r = state_->read_range_parallel(base, total, 0);
      if (!r) return std::move(r).error_value();
    } else {
      for (std::size_t i = 0; i < chosen.size(); ++i) {
        auto r = state_->read_range(base + place[i], chosen[i]->byte_size(), chosen[i]->begin);
        if (!r) return std::move(r).error_value();
      }
    }
    std::vector<tensor_view> views;
    views.reserve(chosen.size());
    for (std::size_t i = 0; i < chosen.size(); ++i) {
      std::span<std::byte> bytes(base + place[i], chosen[i]->byte_size());
      swap_elements(chosen[i]->type, bytes);  // nothing on a little-endian host
      views.emplace_back(chosen[i], bytes, owner, std::endian::native);
    }
    return loaded_tensors(std::move(owner), std::move(views));
  }

 private:
  explicit reader(std::shared_ptr<detail::reader_state> state) : state_(std::move(state)) {}

  static result<reader> open_impl(const std::string& path, const read_options& options) {
    auto file = file_handle::open_read(path);
    if (!file) return std::move(file).error_value();
    return open_impl(std::move(*file), path, options);
  }

  // The one open path: the header's text is obtained (read into a buffer,
  // or where it lies in the mapping), then parsed once.
  static result<reader> open_impl(file_handle file, const std::string& path, const read_options& options) {
    namespace tuning = detail::header_tuning;
    auto state = std::make_shared<detail::reader_state>();
    state->source = path;
    state->mode = options.mode;
    state->shrink_safe = options.shrink_safe;
    state->file = std::move(file);
    state->file_size = state->file.size();
    // One read for the prefix and, in most files, the whole header, into the
    // buffer the header is parsed in.
    const auto got = static_cast<std::size_t>(std::min<std::uint64_t>(state->file_size, tuning::first_read_bytes));
    auto buffer = std::make_shared<detail::padded_buffer>(got > 8 ? got - 8 : 0, 8);
    auto* head = reinterpret_cast<unsigned char*>(buffer->data() - 8);
    if (auto r = state->file.read_exact(head, got, 0); !r) return std::move(r).error_value();
    auto n = check_length_prefix({head, got}, state->file_size, options);
    if (!n) return std::move(n).error_value();
    if (options.mode == io_mode::mmap) {
      auto m = mapping::map(state->file, options.copy_on_write ? mapping::access::copy_on_write
                                                               : mapping::access::read_only);
      if (!m) return std::move(m).error_value();
      state->map = std::make_shared<const mapping>(std::move(*m));
      state->bytes = state->map->bytes();
    }
    std::string_view text;
    std::size_t readable_after = 0;
    std::shared_ptr<const void> text_owner;
    if (state->map && !options.shrink_safe && *n > tuning::in_place_above_bytes) {
      // Where it lies: past the end of the file the last page reads as zeros.
      const std::uint64_t page = mapping::page_size();
      const std::uint64_t mapped = (state->file_size + page - 1) / page * page;
      text = std::string_view(reinterpret_cast<const char*>(state->bytes.data()) + 8, static_cast<std::size_t>(*n));
      readable_after = static_cast<std::size_t>(mapped - 8 - *n);
      text_owner = state->map;
    } else {
      if (*n > buffer->size()) {  // the rest of a large header
        auto whole = std::make_shared<detail::padded_buffer>(static_cast<std::size_t>(*n));
        std::memcpy(whole->data(), buffer->data(), buffer->size());
        if (auto r = state->file.read_exact(whole->data() + buffer->size(), whole->size() - buffer->size(),
                                            8 + buffer->size());
            !r)
          return std::move(r).error_value();
        buffer = std::move(whole);
      }
      buffer->shrink(static_cast<std::size_t>(*n));
      text = std::string_view(buffer->data(), buffer->size());
      readable_after = buffer->readable_after();
      text_owner = std::move(buffer);
    }
    auto index = parse_header(text, readable_after, state->file_size - 8 - *n, options, std::move(text_owner));
    if (!index) return std::move(index).error_value();
    state->index = std::move(*index);
    if (options.random_access) {  // hints only
      state->file.advise_random();
      if (state->map) state->map->advise_random();
    }
    return reader(std::move(state));
  }

  error not_found(std::string_view name) const {
    return make_error(errc::tensor_not_found, "no tensor " + quote_name(name)).in(source());
  }

  std::shared_ptr<const detail::reader_state> state_;
};

// The throwing convenience layer.
inline reader open(const std::string& path, const read_options& options = {}) {
  return reader::open(path, options).value();
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
