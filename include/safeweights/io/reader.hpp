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
#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "safeweights/format/parse_header.hpp"
#include "safeweights/format/slice_layout.hpp"
#include "safeweights/io/file_handle.hpp"
#include "safeweights/io/loaded_tensors.hpp"
#include "safeweights/io/mapping.hpp"
#include "safeweights/io/tensor_view.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

struct reader_state {
  std::string source;  // the path, or a caller's label for a buffer
  io_mode mode = io_mode::mmap;
  bool shrink_safe = false;  // read_options::shrink_safe: copies come by pread, never from the mapping
  file_handle file;    // unset for a buffer
  mapping map;         // unset for pread mode and buffers
  std::span<const std::byte> bytes;  // the whole file, where it is in memory
  std::uint64_t file_size = 0;
  header_index index;
  // What was fetched from the file by pread (all of it in io_mode::pread):
  // bytes and calls, for the callers who account for I/O per process.
  mutable std::atomic<std::uint64_t> bytes_fetched{0};
  mutable std::atomic<std::uint64_t> fetch_calls{0};
};

inline std::uint64_t read_le64(const unsigned char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Checks the length prefix against the file size and the options; returns N.
inline result<std::uint64_t> check_prefix(const unsigned char* prefix, std::uint64_t file_size,
                                          const read_options& options) {
  std::uint64_t n = read_le64(prefix);
  // Past the limit and past the end of the file, the 8 bytes are not a length
  // at all (text, a zip, a pickle): their value as a number would only mislead.
  if (n > options.max_header_bytes && n > file_size - 8)
    return make_error(errc::header_too_large,
                      "not a safetensors file: its first 8 bytes are not a plausible header length (over the " +
                          std::to_string(options.max_header_bytes) + "-byte limit and past the end of the file)");
  if (n > options.max_header_bytes)
    return make_error(errc::header_too_large, "length prefix " + std::to_string(n) + " is over the limit of " +
                                                  std::to_string(options.max_header_bytes) + " bytes");
  if (n > file_size - 8)
    return make_error(errc::header_length_exceeds_file, "length prefix " + std::to_string(n) +
                                                            " runs past the end of the file (" +
                                                            std::to_string(file_size) + " bytes)");
  return n;
}

}  // namespace detail

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
    if (bytes.size() < 8)
      return make_error(errc::header_too_small, "file is " + std::to_string(bytes.size()) +
                                                    " bytes, shorter than the 8-byte length prefix")
          .in(state->source);
    auto n = detail::check_prefix(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), options);
    if (!n) return std::move(n).error_value().in(state->source);
    auto index = detail::parse_header_in_place(
        std::string_view(reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<std::size_t>(*n)),
        static_cast<std::size_t>(bytes.size() - 8 - *n), bytes.size() - 8 - *n, options);
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
      return tensor_view(&info, in_memory(info), state_);
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
    return read_range(dst.data(), dst.size(), info.begin);
  }

  // Slices (format/slice_layout.hpp says where their bytes lie; the
  // definitions are in io/reader_slices.hpp). A slice as a view: zero-copy
  // when its bytes are contiguous and in memory, otherwise an owned copy of
  // exactly its bytes. The view's info() carries the slice's shape.
  result<tensor_view> slice(const tensor_info& info, slice_spec spec) const;
  result<tensor_view> slice(std::string_view name, slice_spec spec) const;
  // Copies a slice into `dst` (exactly its bytes), reading only those bytes.
  result<void> read_slice(const tensor_info& info, slice_spec spec, std::span<std::byte> dst) const;

  // Byte ranges of the data section, each copied to its own destination. In
  // io_mode::pread ranges that touch in the file are fetched by one call
  // (preadv into their destinations); nothing outside the ranges is read.
  struct byte_range {
    std::uint64_t offset = 0;  // from the start of the data section
    std::uint64_t size = 0;
    std::byte* dst = nullptr;
  };
  result<void> read_ranges(std::span<const byte_range> ranges) const;

  // Bytes and read calls fetched from the file by pread so far.
  std::uint64_t bytes_fetched() const noexcept { return state_->bytes_fetched.load(std::memory_order_relaxed); }
  std::uint64_t fetch_calls() const noexcept { return state_->fetch_calls.load(std::memory_order_relaxed); }

  // Eager mode: copies the named tensors (all of them when `names` is empty)
  // into owned, 64-byte aligned memory. All of them from 64 MiB up are read
  // by up to 4 threads at once.
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
      auto r = read_range_parallel(base, total, 0);
      if (!r) return std::move(r).error_value();
    } else {
      for (std::size_t i = 0; i < chosen.size(); ++i) {
        auto r = read_range(base + place[i], chosen[i]->byte_size(), chosen[i]->begin);
        if (!r) return std::move(r).error_value();
      }
    }
    std::vector<tensor_view> views;
    views.reserve(chosen.size());
    for (std::size_t i = 0; i < chosen.size(); ++i)
      views.emplace_back(chosen[i], std::span<const std::byte>(base + place[i], chosen[i]->byte_size()), owner);
    return loaded_tensors(std::move(owner), std::move(views));
  }

 private:
  explicit reader(std::shared_ptr<detail::reader_state> state) : state_(std::move(state)) {}

  static result<reader> open_impl(const std::string& path, const read_options& options) {
    auto file = file_handle::open_read(path);
    if (!file) return std::move(file).error_value();
    return open_impl(std::move(*file), path, options);
  }

  static result<reader> open_impl(file_handle file, const std::string& path, const read_options& options) {
    auto state = std::make_shared<detail::reader_state>();
    state->source = path;
    state->mode = options.mode;
    state->shrink_safe = options.shrink_safe;
    state->file = std::move(file);
    state->file_size = state->file.size();
    if (state->file_size < 8)
      return make_error(errc::header_too_small, "file is " + std::to_string(state->file_size) +
                                                    " bytes, shorter than the 8-byte length prefix");
    // One read for the prefix and, in most files, the whole header, into
    // the buffer the header is parsed in; a larger header costs a second
    // read for the rest (and a copy, unless it is parsed in the mapping).
    constexpr std::size_t first_read = 16384;
    const auto got = static_cast<std::size_t>(std::min<std::uint64_t>(state->file_size, first_read));
    detail::padded_buffer json(got - 8, 8);
    auto* head = reinterpret_cast<unsigned char*>(json.data() - 8);
    if (auto r = state->file.read_exact(head, got, 0); !r) return std::move(r).error_value();
    auto n = detail::check_prefix(head, state->file_size, options);
    if (!n) return std::move(n).error_value();
    if (options.mode == io_mode::mmap && !options.shrink_safe && *n > in_place_header_bytes)
      return open_in_place(std::move(state), *n, options);
    if (*n <= json.size()) {
      json.shrink(static_cast<std::size_t>(*n));
    } else {
      detail::padded_buffer whole(static_cast<std::size_t>(*n));
      std::memcpy(whole.data(), json.data(), json.size());
      if (auto r = state->file.read_exact(whole.data() + json.size(), whole.size() - json.size(), 8 + json.size()); !r)
        return std::move(r).error_value();
      json = std::move(whole);
    }
    auto index = parse_header(std::move(json), state->file_size - 8 - *n, options);
    if (!index) return std::move(index).error_value();
    state->index = std::move(*index);
    if (options.random_access) ::posix_fadvise(state->file.fd(), 0, 0, POSIX_FADV_RANDOM);  // a hint only
    if (options.mode == io_mode::mmap) {
      auto m = mapping::map(state->file);
      if (!m) return std::move(m).error_value();
      state->map = std::move(*m);
      if (options.random_access) state->map.advise_random();
      state->bytes = state->map.bytes();
    }
    return reader(std::move(state));
  }

  // Headers larger than this are parsed where they lie in the mapping.
  // Smaller ones are cheaper to copy with one pread into warm memory than
  // to fault into the mapping (and unmap again); larger ones cost more to
  // copy, and a fresh process pays for every page of the copy.
  static constexpr std::uint64_t in_place_header_bytes = std::uint64_t{64} << 10;

  // Maps the file and parses the header of `n` bytes in the mapping: no
  // copy. Past the end of the file the last page reads as zeros, which is
  // what the parser may overread.
  static result<reader> open_in_place(std::shared_ptr<detail::reader_state> state, std::uint64_t n,
                                      const read_options& options) {
    auto m = mapping::map(state->file);
    if (!m) return std::move(m).error_value();
    state->map = std::move(*m);
    state->bytes = state->map.bytes();
    static const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    std::uint64_t mapped = (state->file_size + page - 1) / page * page;
    auto index = detail::parse_header_in_place(
        std::string_view(reinterpret_cast<const char*>(state->bytes.data()) + 8, static_cast<std::size_t>(n)),
        static_cast<std::size_t>(mapped - 8 - n), state->file_size - 8 - n, options);
    if (!index) return std::move(index).error_value();
    state->index = std::move(*index);
    if (options.random_access) {  // hints only
      ::posix_fadvise(state->file.fd(), 0, 0, POSIX_FADV_RANDOM);
      state->map.advise_random();
    }
    return reader(std::move(state));
  }

  std::span<const std::byte> in_memory(const tensor_info& info) const noexcept {
    if (info.byte_size() == 0) return {};
    return state_->bytes.subspan(static_cast<std::size_t>(state_->index.data_offset() + info.begin),
                                 static_cast<std::size_t>(info.byte_size()));
  }

  // Copies data-section bytes [at, at + n) to dst: pread from the file when
  // there is one (faster than faulting the mapping in), memcpy otherwise.
  result<void> read_range(std::byte* dst, std::uint64_t n, std::uint64_t at) const {
    if (n == 0) return {};
    if (state_->file) {
      auto r = state_->file.read_exact(dst, static_cast<std::size_t>(n), state_->index.data_offset() + at);
      if (!r) return std::move(r).error_value().in(source());
      state_->bytes_fetched.fetch_add(n, std::memory_order_relaxed);
      state_->fetch_calls.fetch_add(1, std::memory_order_relaxed);
      return {};
    }
    std::memcpy(dst, state_->bytes.data() + state_->index.data_offset() + at, static_cast<std::size_t>(n));
    return {};
  }

  // read_range split over up to 4 threads for large reads: copying from the
  // page cache and first-touching fresh memory both scale with cores. Pieces
  // start on 2 MiB boundaries of `dst`, so no huge page is shared.
  result<void> read_range_parallel(std::byte* dst, std::uint64_t n, std::uint64_t at) const {
    constexpr std::uint64_t piece_unit = std::uint64_t{2} << 20, threshold = std::uint64_t{64} << 20;
    const unsigned cores = std::thread::hardware_concurrency();
    const unsigned k = n < threshold || cores < 2 ? 1 : std::min(cores, 4u);
    if (k == 1) return read_range(dst, n, at);
    const std::uint64_t piece = (n / k + piece_unit - 1) / piece_unit * piece_unit;
    std::vector<result<void>> results(k);
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < k; ++i) {
      std::uint64_t from = std::min(n, piece * i), to = std::min(n, piece * (i + 1));
      auto work = [this, &results, dst, at, from, to, i] { results[i] = read_range(dst + from, to - from, at + from); };
      try {
        threads.emplace_back(work);
      } catch (const std::system_error&) {
        work();  // no thread to be had: this one does it
      }
    }
    results[0] = read_range(dst, std::min(n, piece), at);
    for (std::thread& t : threads) t.join();
    for (auto& r : results)
      if (!r) return std::move(r).error_value();
    return {};
  }

  error not_found(std::string_view name) const {
    return make_error(errc::tensor_not_found, "no tensor " + quote_name(name)).in(source());
  }

  std::shared_ptr<const detail::reader_state> state_;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights

#include "safeweights/io/reader_slices.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// The throwing convenience layer.
inline reader open(const std::string& path, const read_options& options = {}) {
  return reader::open(path, options).value();
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
