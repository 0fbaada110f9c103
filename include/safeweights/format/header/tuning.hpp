// Every tuning constant of header reading, in one place, with the figure it
// serves. None of them changes a verdict or a message: a file is read the
// same whatever their values, only faster or slower. The figures are
// bench/bench-io's medians (bash bench/run), each constant ablated alone on
// 2026-12-05 (2 cores, release build): with it / without it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail::header_tuning {

// The reader's first read takes the length prefix and, in most files, the
// whole header with one pread: a GPT-2 header is 14 KiB. A larger header
// costs a second read for the rest. (open/gpt2: 14.4 / 16.1 us, a separate
// 8-byte read first.)
inline constexpr std::size_t first_read_bytes = std::size_t{16} << 10;

// In io_mode::mmap, headers larger than this are parsed where they lie in
// the file's mapping instead of being read into a buffer. Smaller ones are
// cheaper to copy with one pread into warm memory than to fault into the
// mapping; larger ones cost more to copy, and a fresh process pays for
// every page of the copy. (open/many_100k, a 9.5 MB header: ~3.8 / 4.26 ms
// read into a buffer.)
inline constexpr std::uint64_t in_place_above_bytes = std::uint64_t{64} << 10;

// In a name table larger than the cache, a name enters the table this many
// tensors after it was read, its slot prefetched when read, so that the
// cache misses of random inserts overlap instead of queueing. Tables of at
// most `name_lag_above_slots` slots (256 KiB) insert at once.
// (open/many_100k: ~3.8 / 5.65 ms inserting at once.)
inline constexpr std::uint32_t name_lag = 8;
inline constexpr std::size_t name_lag_above_slots = std::size_t{1} << 15;

// The canonical scanner remembers the text of this many recent shapes
// (a power of two): checkpoints repeat a few shapes in every layer.
// (open/many_10k: ~295 / 348 us remembering none.)
inline constexpr std::size_t remembered_shapes = 16;

}  // namespace detail::header_tuning
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
