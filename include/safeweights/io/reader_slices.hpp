// reader's partial reads: slices of a tensor and batches of byte ranges.
// Included by reader.hpp; these are the definitions of members it declares.
//
// A slice never reads outside itself: in memory (mmap, buffer) its runs are
// copied from the mapping, touching only their pages; in io_mode::pread each
// run is fetched exactly, and runs that touch in the file go in one preadv.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <vector>

#include "safeweights/io/reader.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

inline result<void> reader::read_ranges(std::span<const byte_range> ranges) const {
  const std::uint64_t data_size = state_->index.data_size();
  for (const byte_range& r : ranges)
    if (r.offset > data_size || r.size > data_size - r.offset)
      return make_error(errc::invalid_argument, "byte range [" + std::to_string(r.offset) + ", +" +
                                                    std::to_string(r.size) + ") is outside the data section (" +
                                                    std::to_string(data_size) + " bytes)")
          .in(source());
  // In memory (and allowed to be read there): copy, touching only these pages.
  if (!state_->file || (state_->mode == io_mode::mmap && !state_->shrink_safe)) {
    for (const byte_range& r : ranges)
      if (r.size)
        std::memcpy(r.dst, state_->bytes.data() + state_->index.data_offset() + r.offset,
                    static_cast<std::size_t>(r.size));
    return {};
  }
  // File order, so that ranges that touch become one call.
  std::vector<const byte_range*> order;
  order.reserve(ranges.size());
  for (const byte_range& r : ranges)
    if (r.size) order.push_back(&r);
  std::sort(order.begin(), order.end(), [](const byte_range* a, const byte_range* b) { return a->offset < b->offset; });
  std::vector<iovec> parts;
  for (std::size_t i = 0; i < order.size();) {
    std::uint64_t start = order[i]->offset, end = start;
    parts.clear();
    // Each range that starts where the last one ended joins the call; one
    // that overlaps it starts the next call.
    for (; i < order.size() && order[i]->offset == end; ++i) {
      parts.push_back(iovec{order[i]->dst, static_cast<std::size_t>(order[i]->size)});
      end += order[i]->size;
    }
    auto r = state_->file.read_exact_v(parts, state_->index.data_offset() + start);
    if (!r) return std::move(r).error_value().in(source());
    state_->bytes_fetched.fetch_add(end - start, std::memory_order_relaxed);
    state_->fetch_calls.fetch_add(1, std::memory_order_relaxed);
  }
  return {};
}

inline result<void> reader::read_slice(const tensor_info& info, slice_spec spec, std::span<std::byte> dst) const {
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

inline result<tensor_view> reader::slice(const tensor_info& info, slice_spec spec) const {
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

inline result<tensor_view> reader::slice(std::string_view name, slice_spec spec) const {
  const tensor_info* info = find(name);
  if (!info) return not_found(name);
  return slice(*info, spec);
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
