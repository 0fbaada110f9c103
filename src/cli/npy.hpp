// NumPy's .npy array format, for `convert`: reading a file's preamble (magic,
// version, header length, the header dict), turning its dtype into ours,
// writing preambles, and the byte-order and layout fixes on the way in.
//
// Format (numpy.lib.format): "\x93NUMPY", major and minor version bytes, a
// little-endian header length (2 bytes in version 1.0, 4 in 2.0 and 3.0),
// then the header, a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n', then the raw elements.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "progress.hpp"
#include "safeweights/io/writer.hpp"

namespace safeweights_cli {

namespace sw = safeweights;

struct npy_array {
  sw::dtype type = sw::dtype::U8;
  unsigned swap_width = 0;  // the data is big-endian: swap every unit of this many bytes
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
  std::uint64_t elements = 0;
  std::uint64_t data_offset = 0;  // where the data starts: the preamble's length
  std::uint64_t data_bytes = 0;
};

// Bytes needed to know how long a preamble is.
inline constexpr std::size_t npy_prefix_bytes = 12;

// "\x93NUMPY"
bool has_npy_magic(std::span<const std::byte> first);

// From the first min(npy_prefix_bytes, file size) bytes: the length of the
// whole preamble. Errors say what is wrong without saying where (callers add that).
sw::result<std::uint64_t> npy_preamble_size(std::span<const std::byte> first);

// Parses a whole preamble (its length from npy_preamble_size). Refuses, saying
// why, what has no safetensors dtype: object arrays (pickled Python objects),
// strings, structured and datetime arrays, complex128, long double.
sw::result<npy_array> parse_npy_preamble(std::span<const std::byte> preamble);

// NumPy's descr for one of our dtypes ('<f4', '|b1', ...); nullopt when NumPy
// has no such dtype (BF16, the F8_* and the packed F4/F6 types).
std::optional<std::string> npy_descr(sw::dtype t);

// The preamble of a C-order little-endian array, by xtensor's xnpy.
std::string npy_preamble(sw::dtype t, std::span<const std::uint64_t> shape);

// `in` with the bytes of every `width`-byte unit reversed (big- to little-endian).
sw::chunk_source byteswap_source(sw::chunk_source in, unsigned width);

// The elements of a Fortran-order (column-major) array, `data`, in C order.
sw::chunk_source fortran_to_c_source(std::span<const std::byte> data, std::vector<std::uint64_t> shape,
                                     unsigned width, progress* bar);

}  // namespace safeweights_cli
