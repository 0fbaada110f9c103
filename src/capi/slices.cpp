// Slices of every dimension at once through the C API: [starts[d], stops[d])
// along each dimension d, copied row-major into the caller's buffer. The core
// plans one-dimension slices (format/slice_layout.hpp); this plans a box as
// runs of contiguous bytes and reads them with reader::read_ranges, a batch
// at a time, so memory stays bounded whatever the number of runs.
#include <algorithm>

#include "handles.hpp"

using namespace safeweights;
using capi::check_buffer;
using capi::fail;
using capi::guarded;
using capi::null_argument;
using capi::status;

namespace {

struct box_layout {
  std::uint64_t bytes = 0;      // of the whole slice
  std::size_t split = 0;        // dimensions [0, split) give one run per index; [split, rank) lie in each run
  std::uint64_t run_bytes = 0;  // bytes in each run
  std::uint64_t first = 0;      // byte offset of the first run from the tensor's first byte
  std::vector<std::uint64_t> stride_bytes;  // bytes between two indices of dimension d < split
};

// The box's runs; every size is at most the tensor's byte size (bounds are
// checked first), which the header's validation keeps under 2^64.
result<box_layout> plan_box(const tensor_info& t, std::size_t ndim, const std::uint64_t* starts,
                            const std::uint64_t* stops) {
  auto who = [&t] { return "tensor " + quote_name(t.name); };
  const std::size_t rank = t.shape.size();
  if (ndim != rank)
    return make_error(errc::invalid_argument, who() + ": a slice of " + std::to_string(ndim) + " dimensions of a " +
                                                  std::to_string(rank) + "-dimensional tensor");
  for (std::size_t d = 0; d < rank; ++d)
    if (starts[d] > stops[d] || stops[d] > t.shape[d])
      return make_error(errc::invalid_argument, who() + ": slice [" + std::to_string(starts[d]) + ", " +
                                                    std::to_string(stops[d]) + ") of dimension " + std::to_string(d) +
                                                    " is outside [0, " + std::to_string(t.shape[d]) + ")");
  box_layout out;
  // Bits of one index of each dimension (the product of the dimensions after it, times the element's bits).
  std::vector<std::uint64_t> stride_bits(rank);
  std::uint64_t bits = bit_width(t.type);
  for (std::size_t d = rank; d-- > 0;) {
    stride_bits[d] = bits;
    if (!checked_mul(bits, t.shape[d], bits))
      return make_error(errc::size_overflow, who() + ": slice size overflows 64 bits");
  }
  std::uint64_t elements = 1;
  for (std::size_t d = 0; d < rank; ++d) elements *= stops[d] - starts[d];  // <= the tensor's elements
  if (elements == 0 || rank == 0) {
    out.bytes = rank == 0 ? t.byte_size() : 0;
    out.run_bytes = out.bytes;
    return out;
  }
  // Trailing dimensions taken whole join the run; the innermost one that is
  // not whole (or the first dimension) closes it.
  std::size_t k = rank - 1;
  while (k > 0 && starts[k] == 0 && stops[k] == t.shape[k]) --k;
  out.split = k;
  const std::uint64_t run_bits = (stops[k] - starts[k]) * stride_bits[k];
  std::uint64_t first_bits = 0;
  for (std::size_t d = 0; d < rank; ++d) first_bits += starts[d] * stride_bits[d];
  bool whole_bytes = run_bits % 8 == 0 && first_bits % 8 == 0;
  for (std::size_t d = 0; d < k; ++d) whole_bytes = whole_bytes && stride_bits[d] % 8 == 0;
  if (!whole_bytes)
    return make_error(errc::subbyte_misaligned, who() + ": a slice of " + std::string(dtype_name(t.type)) +
                                                    " whose runs do not start and end on whole bytes");
  out.run_bytes = run_bits / 8;
  out.first = first_bits / 8;
  out.bytes = elements * bit_width(t.type) / 8;
  for (std::size_t d = 0; d < k; ++d) out.stride_bytes.push_back(stride_bits[d] / 8);
  return out;
}

int check_args(const safeweights_reader* reader, const safeweights_tensor* tensor, std::size_t ndim,
               const std::uint64_t* starts, const std::uint64_t* stops, const char* function,
               safeweights_error** err, const tensor_info*& info) {
  if (!reader) return null_argument(err, function, "reader");
  if (!tensor) return null_argument(err, function, "tensor");
  if (ndim && !starts) return null_argument(err, function, "starts");
  if (ndim && !stops) return null_argument(err, function, "stops");
  info = capi::tensor_of(reader, tensor);
  if (!info) return guarded(err, [&] {
      return fail(err, errc::invalid_argument, std::string(function) + ": the tensor is not one of this reader's");
    });
  return 0;
}

}  // namespace

extern "C" {

SAFEWEIGHTS_API int safeweights_slice_nd_size(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                              size_t ndim, const uint64_t* starts, const uint64_t* stops,
                                              uint64_t* bytes, safeweights_error** err) {
  const tensor_info* info = nullptr;
  if (int s = check_args(reader, tensor, ndim, starts, stops, "safeweights_slice_nd_size", err, info)) return s;
  if (!bytes) return null_argument(err, "safeweights_slice_nd_size", "bytes");
  return guarded(err, [&] {
    auto layout = plan_box(*info, ndim, starts, stops);
    if (!layout) return fail(err, std::move(layout).error_value().in(reader->reader.source()));
    *bytes = layout->bytes;
    return 0;
  });
}

SAFEWEIGHTS_API int safeweights_slice_nd_copy(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                              size_t ndim, const uint64_t* starts, const uint64_t* stops, void* dst,
                                              size_t dst_size, safeweights_error** err) {
  const tensor_info* info = nullptr;
  if (int s = check_args(reader, tensor, ndim, starts, stops, "safeweights_slice_nd_copy", err, info)) return s;
  if (!dst && dst_size) return null_argument(err, "safeweights_slice_nd_copy", "dst");
  return guarded(err, [&] {
    auto layout = plan_box(*info, ndim, starts, stops);
    if (!layout) return fail(err, std::move(layout).error_value().in(reader->reader.source()));
    if (int s = check_buffer(err, "slice of tensor " + quote_name(info->name), layout->bytes, dst_size,
                             reader->reader.source()))
      return s;
    if (layout->bytes == 0) return 0;
    auto* out = static_cast<std::byte*>(dst);
    const std::size_t split = layout->split;
    // The index of each run along dimensions [0, split), odometer order (row-major).
    std::vector<std::uint64_t> index(split);
    for (std::size_t d = 0; d < split; ++d) index[d] = starts[d];
    const std::uint64_t runs = layout->bytes / layout->run_bytes;
    constexpr std::size_t batch = 4096;
    std::vector<byte_range> ranges;
    ranges.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(runs, batch)));
    std::uint64_t written = 0;
    for (std::uint64_t r = 0; r < runs; ++r) {
      std::uint64_t offset = info->begin + layout->first;
      for (std::size_t d = 0; d < split; ++d) offset += (index[d] - starts[d]) * layout->stride_bytes[d];
      ranges.push_back(byte_range{offset, layout->run_bytes, out + written});
      written += layout->run_bytes;
      for (std::size_t d = split; d-- > 0;) {  // the next index
        if (++index[d] < stops[d]) break;
        index[d] = starts[d];
      }
      if (ranges.size() == batch || r + 1 == runs) {
        if (auto s = reader->reader.read_ranges(ranges); !s) return fail(err, s.error_value());
        ranges.clear();
      }
    }
    return 0;
  });
}

}  // extern "C"
