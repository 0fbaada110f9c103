// What a reader reads from, shared by the reader and every view it hands
// out: the file or the caller's buffer, the file's mapping, the validated
// header, and the one way bytes of the data section are fetched (memcpy
// from memory, pread, preadv for batches of ranges).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "safeweights/format/header_index.hpp"
#include "safeweights/format/read_options.hpp"
#include "safeweights/io/file_handle.hpp"
#include "safeweights/io/mapping.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// A byte range of the data section and where to copy it (reader::read_ranges).
struct byte_range {
  std::uint64_t offset = 0;  // from the start of the data section
  std::uint64_t size = 0;
  std::byte* dst = nullptr;
};

namespace detail {

struct reader_state {
  std::string source;  // the path, or a caller's label for a buffer
  io_mode mode = io_mode::mmap;
  bool shrink_safe = false;  // read_options::shrink_safe: copies come by pread, never from the mapping
  file_handle file;          // unset for a buffer
  // Unset for pread mode and buffers. Shared with the index when the header
  // was parsed where it lies in the mapping (its names point there).
  std::shared_ptr<const mapping> map;
  std::span<const std::byte> bytes;  // the whole file, where it is in memory
  std::uint64_t file_size = 0;
  header_index index;
  // What was fetched from the file by pread (all of it in io_mode::pread):
  // bytes and calls, for the callers who account for I/O per process.
  mutable std::atomic<std::uint64_t> bytes_fetched{0};
  mutable std::atomic<std::uint64_t> fetch_calls{0};

  // A tensor's bytes where the file is in memory (mapping or buffer).
  std::span<const std::byte> in_memory(const tensor_info& info) const noexcept {
    if (info.byte_size() == 0) return {};
    return bytes.subspan(static_cast<std::size_t>(index.data_offset() + info.begin),
                         static_cast<std::size_t>(info.byte_size()));
  }

  // Copies data-section bytes [at, at + n) to dst: pread from the file when
  // there is one (faster than faulting the mapping in), memcpy otherwise.
  result<void> read_range(std::byte* dst, std::uint64_t n, std::uint64_t at) const {
    if (n == 0) return {};
    if (file) {
      auto r = file.read_exact(dst, static_cast<std::size_t>(n), index.data_offset() + at);
      if (!r) return std::move(r).error_value().in(source);
      bytes_fetched.fetch_add(n, std::memory_order_relaxed);
      fetch_calls.fetch_add(1, std::memory_order_relaxed);
      return {};
    }
    std::memcpy(dst, bytes.data() + index.data_offset() + at, static_cast<std::size_t>(n));
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

  // Each range copied to its destination. In memory (and allowed to be read
  // there) a memcpy touching only their pages; from the file, exactly their
  // bytes, ranges that touch in the file fetched by one preadv.
  result<void> read_ranges(std::span<const byte_range> ranges) const {
    const std::uint64_t data_size = index.data_size();
    for (const byte_range& r : ranges)
      if (r.offset > data_size || r.size > data_size - r.offset)
        return make_error(errc::invalid_argument, "byte range [" + std::to_string(r.offset) + ", +" +
                                                      std::to_string(r.size) + ") is outside the data section (" +
                                                      std::to_string(data_size) + " bytes)")
            .in(source);
    if (!file || (mode == io_mode::mmap && !shrink_safe)) {
      for (const byte_range& r : ranges)
        if (r.size) std::memcpy(r.dst, bytes.data() + index.data_offset() + r.offset, static_cast<std::size_t>(r.size));
      return {};
    }
    // File order, so that ranges that touch become one call.
    std::vector<const byte_range*> order;
    order.reserve(ranges.size());
    for (const byte_range& r : ranges)
      if (r.size) order.push_back(&r);
    std::sort(order.begin(), order.end(),
              [](const byte_range* a, const byte_range* b) { return a->offset < b->offset; });
    std::vector<platform::io_vec> parts;
    for (std::size_t i = 0; i < order.size();) {
      std::uint64_t start = order[i]->offset, end = start;
      parts.clear();
      // Each range that starts where the last one ended joins the call; one
      // that overlaps it starts the next call.
      for (; i < order.size() && order[i]->offset == end; ++i) {
        parts.push_back(platform::io_vec{order[i]->dst, static_cast<std::size_t>(order[i]->size)});
        end += order[i]->size;
      }
      auto r = file.read_exact_v(parts, index.data_offset() + start);
      if (!r) return std::move(r).error_value().in(source);
      bytes_fetched.fetch_add(end - start, std::memory_order_relaxed);
      fetch_calls.fetch_add(1, std::memory_order_relaxed);
    }
    return {};
  }
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
