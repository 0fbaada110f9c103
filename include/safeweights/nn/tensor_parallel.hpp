// Tensor parallelism without a communication library: which part of a
// weight each of `world` ranks holds, and reading exactly that part.
//
// A split tensor is cut along one dimension into `blocks` equal blocks (3
// for GPT-2's fused q|k|v columns, else 1), and each block into `world`
// equal parts; rank r holds part r of every block, the blocks side by side
// in their order. Columns of a row-major matrix are a strided slice; the
// reader fetches only those bytes (io_mode::pread: exactly them).
//
// The ranks' sums (the all-reduce after a row-parallel layer) are the
// caller's: an all_reduce_fn, e.g. MPI_Allreduce in the program.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "safeweights/error.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/format/slice_layout.hpp"
#include "safeweights/io/reader.hpp"
#include "safeweights/util/checked.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

// Sums `count` floats in place over all ranks (every rank gets the sum).
using all_reduce_fn = std::function<void(float* data, std::size_t count)>;

struct shard_rule {
  bool split = false;      // false: every rank holds the whole tensor
  std::size_t dim = 0;     // the dimension cut
  std::size_t blocks = 1;  // equal blocks along `dim`, each cut into world parts
};

// One rank's part of one tensor: `pieces` along `dim`, side by side.
struct tensor_shard {
  bool replicated = true;
  std::size_t dim = 0;
  std::vector<slice_spec> pieces;  // a replicated tensor of rank >= 1: one piece, all of it
  std::vector<std::uint64_t> shape;  // the part's own shape
  std::uint64_t bytes = 0;
};

// Rank `rank`'s part of `t` under `rule`; invalid_argument when the parts
// would not be equal, subbyte_misaligned when they would split bytes.
inline result<tensor_shard> shard_of(const tensor_info& t, shard_rule rule, std::size_t rank, std::size_t world) {
  auto who = [&t] { return "tensor " + safeweights::quote_name(t.name); };
  if (world == 0 || rank >= world)
    return make_error(errc::invalid_argument, "rank " + std::to_string(rank) + " of " + std::to_string(world) + " ranks");
  tensor_shard s;
  s.shape.assign(t.shape.begin(), t.shape.end());
  s.replicated = !rule.split;
  s.dim = rule.dim;
  if (!rule.split) {
    if (!t.shape.empty()) s.pieces.push_back({0, 0, t.shape[0]});
    s.bytes = t.byte_size();
    return s;
  }
  if (rule.dim >= t.shape.size())
    return make_error(errc::invalid_argument, who() + ": cannot split dimension " + std::to_string(rule.dim) + " of a " +
                                                  std::to_string(t.shape.size()) + "-dimensional tensor");
  std::uint64_t parts = 0;
  const std::uint64_t extent = t.shape[rule.dim];
  if (rule.blocks == 0 || !safeweights::checked_mul(std::uint64_t{rule.blocks}, std::uint64_t{world}, parts) ||
      extent % parts != 0)
    return make_error(errc::invalid_argument, who() + ": dimension " + std::to_string(rule.dim) + " of " +
                                                  std::to_string(extent) + " does not split into " +
                                                  std::to_string(rule.blocks) + " x " + std::to_string(world) +
                                                  " equal parts");
  const std::uint64_t block = extent / rule.blocks, part = block / world;
  for (std::size_t b = 0; b < rule.blocks; ++b)
    s.pieces.push_back({rule.dim, b * block + rank * part, b * block + (rank + 1) * part});
  s.shape[rule.dim] = part * rule.blocks;
  s.bytes = 0;
  for (const slice_spec& p : s.pieces) {
    auto layout = plan_slice(t, p);  // also refuses sub-byte parts that do not end on whole bytes
    if (!layout) return std::move(layout).error_value();
    s.bytes += layout->bytes();
  }
  return s;
}

// Reads `shard` of `t` into dst (shard.bytes bytes, row-major in the shard's shape).
inline result<void> read_shard(const reader& file, const tensor_info& t, const tensor_shard& shard,
                               std::span<std::byte> dst) {
  if (dst.size() != shard.bytes)
    return make_error(errc::invalid_argument, "shard of tensor " + safeweights::quote_name(t.name) + " is " +
                                                  std::to_string(shard.bytes) + " bytes, buffer is " +
                                                  std::to_string(dst.size()))
        .in(file.source());
  if (shard.pieces.empty()) return file.read_into(t, dst);
  if (shard.pieces.size() == 1) return file.read_slice(t, shard.pieces.front(), dst);
  // Several pieces along one dimension: each outer index (row) of the shard
  // holds the pieces' runs in turn, so each run goes straight to its place.
  std::uint64_t outer = 1;
  for (std::size_t d = 0; d < shard.dim; ++d) outer *= t.shape[d];  // <= the tensor's elements: no overflow
  if (outer == 0 || shard.bytes == 0) return {};
  const std::uint64_t tensor_row = t.byte_size() / outer, shard_row = shard.bytes / outer;
  std::vector<reader::byte_range> ranges;
  ranges.reserve(static_cast<std::size_t>(outer * shard.pieces.size()));
  std::uint64_t at_in_row = 0;
  for (const slice_spec& p : shard.pieces) {
    auto layout = plan_slice(t, p);
    if (!layout) return std::move(layout).error_value().in(file.source());
    const std::uint64_t run = layout->bytes() / outer;
    for (std::uint64_t k = 0; k < outer; ++k)
      ranges.push_back({t.begin + layout->offset + k * tensor_row, run, dst.data() + k * shard_row + at_in_row});
    at_in_row += run;
  }
  return file.read_ranges(ranges);
}

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
