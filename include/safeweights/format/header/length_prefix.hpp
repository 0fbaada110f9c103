// The 8-byte length prefix (spec/FORMAT.md R1-R3), checked against the file
// size and the options before anything is allocated for the header.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "safeweights/error.hpp"
#include "safeweights/format/read_options.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// `head`: the file's first bytes (8 of them when the file has 8); returns
// N, the header's length, which then fits the file.
inline result<std::uint64_t> check_length_prefix(std::span<const unsigned char> head, std::uint64_t file_size,
                                                 const read_options& options = {}) {
  if (file_size < 8 || head.size() < 8)
    return make_error(errc::header_too_small,
                      "file is " + std::to_string(file_size) + " bytes, shorter than the 8-byte length prefix");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | head[static_cast<std::size_t>(i)];
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

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
