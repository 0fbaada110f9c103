// The one switch between instruction sets: each public kernel forwards to the
// body compiled for the active one (kernels/isa.hpp).
#pragma once

#include "safeweights/kernels/isa.hpp"

// Calls detail::<active isa>::name(args...).
#if SAFEWEIGHTS_HAVE_AVX2_PATH
#define SAFEWEIGHTS_DISPATCH(name, ...)                                               \
  (::safeweights::kernels::active_isa() == ::safeweights::kernels::isa::avx2          \
       ? ::safeweights::kernels::detail::avx2::name(__VA_ARGS__)                      \
       : ::safeweights::kernels::detail::baseline::name(__VA_ARGS__))
#else
#define SAFEWEIGHTS_DISPATCH(name, ...) (::safeweights::kernels::detail::baseline::name(__VA_ARGS__))
#endif
