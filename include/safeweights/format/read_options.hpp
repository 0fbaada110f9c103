// What a reader accepts: ceilings on the work a hostile header can cause, and
// the leniencies, each off by default and documented in spec/FORMAT.md.
#pragma once

#include <cstdint>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

enum class io_mode : std::uint8_t {
  mmap,   // map the file read-only; views point into the mapping
  pread,  // never map: header and tensors are read with pread into owned memory
};

struct read_options {
  // The reference's cap on the JSON header; lower it to bound memory further.
  std::uint64_t max_header_bytes = 100'000'000;
  // A 100 MB header holds at most ~2.5 million entries; this caps the index size.
  std::uint64_t max_tensors = 10'000'000;
  // NumPy's own limit on dimensions; more is never a real tensor.
  std::uint32_t max_rank = 64;
  // Leniency: accept bytes after the last tensor (some tools pad files).
  // Risk: those bytes are unchecked and invisible to every reader.
  bool allow_trailing_bytes = false;
  io_mode mode = io_mode::mmap;
  // Tell the kernel the tensors are read in pieces (MADV_RANDOM on the
  // mapping, POSIX_FADV_RANDOM on the file): no readahead, so a slice brings
  // in only its own pages. For tensor-parallel ranks and network storage;
  // whole-tensor reads get slower without readahead.
  bool random_access = false;
  // The reader's own reads never touch the mapping: the header is parsed
  // from a pread copy (never in the mapping, whatever its size) and slices
  // and byte ranges are copied with pread, so a file that another process
  // truncates gives errc::file_changed from those calls, never SIGBUS. The
  // views tensor() and slice() hand out still point into the mapping: touch
  // them inside guard_mapped_reads (io/fault_guard.hpp), or use
  // io_mode::pread. Costs a copy of headers over 64 KiB.
  bool shrink_safe = false;
  // io_mode::mmap only: map the file copy-on-write (MAP_PRIVATE, writable),
  // so reader::writable_bytes hands out tensors a caller may modify in
  // place. A page is copied when first written; the file never changes.
  // What the Python package's load_file returns by default.
  bool copy_on_write = false;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
