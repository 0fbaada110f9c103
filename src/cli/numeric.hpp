// Tensor scalars as doubles, a block at a time, for diff, stats and cast.
// The element conversions are the library's (format/elements.hpp); this only
// hoists the dtype switch out of the loop: each case instantiates the loop
// with the dtype as a constant, so scalar_as_double's switch folds away.
#pragma once

#include <cstddef>
#include <cstdint>

#include "safeweights/format/elements.hpp"

namespace safeweights_cli {

// One instantiation per dtype, chosen by the switch below.
template <safeweights::dtype T>
void scalars_of_dtype_as_double(const std::byte* data, std::uint64_t first, std::size_t n, double* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = *safeweights::scalar_as_double(T, data, first + i);
}

// Scalars per element of `t` (2 for C64), 0 for the packed types nothing converts.
inline unsigned scalars_per_element(safeweights::dtype t) { return safeweights::components_of(t); }

// Scalars [first, first + n) of `data` (a tensor of dtype `t`) into out[0, n).
// `t` must have scalars_per_element(t) > 0.
inline void scalars_as_double(safeweights::dtype t, const std::byte* data, std::uint64_t first, std::size_t n,
                              double* out) {
  using safeweights::dtype;
  switch (t) {
#define SAFEWEIGHTS_CLI_CASE(T) \
  case dtype::T: return scalars_of_dtype_as_double<dtype::T>(data, first, n, out);
    SAFEWEIGHTS_CLI_CASE(BOOL)
    SAFEWEIGHTS_CLI_CASE(U8)
    SAFEWEIGHTS_CLI_CASE(I8)
    SAFEWEIGHTS_CLI_CASE(F8_E5M2)
    SAFEWEIGHTS_CLI_CASE(F8_E4M3)
    SAFEWEIGHTS_CLI_CASE(F8_E8M0)
    SAFEWEIGHTS_CLI_CASE(F8_E4M3FNUZ)
    SAFEWEIGHTS_CLI_CASE(F8_E5M2FNUZ)
    SAFEWEIGHTS_CLI_CASE(I16)
    SAFEWEIGHTS_CLI_CASE(U16)
    SAFEWEIGHTS_CLI_CASE(F16)
    SAFEWEIGHTS_CLI_CASE(BF16)
    SAFEWEIGHTS_CLI_CASE(I32)
    SAFEWEIGHTS_CLI_CASE(U32)
    SAFEWEIGHTS_CLI_CASE(F32)
    SAFEWEIGHTS_CLI_CASE(C64)
    SAFEWEIGHTS_CLI_CASE(F64)
    SAFEWEIGHTS_CLI_CASE(I64)
    SAFEWEIGHTS_CLI_CASE(U64)
#undef SAFEWEIGHTS_CLI_CASE
    default:
      for (std::size_t i = 0; i < n; ++i) out[i] = 0;
  }
}

// How many scalars one block holds: 16K doubles, 128 KiB, stays in L2.
inline constexpr std::size_t block_scalars = 16384;

}  // namespace safeweights_cli
