// Compiling a stretch of code for AVX2+FMA+F16C inside a baseline build.
//
// xsimd 8 picks its instruction sets when it is compiled (from -mavx2 and
// the like), so it cannot give a baseline build an AVX2 path. Instead the
// kernels' bodies are included a second time between these two macros: every
// function defined there (templates and lambdas too) is compiled for AVX2
// and called only after the CPU check in kernels/isa.hpp. The intrinsics in
// <immintrin.h> are usable in such functions with GCC and Clang alike.
#pragma once

#include <immintrin.h>

#define SAFEWEIGHTS_PRAGMA(x) _Pragma(#x)

#if defined(__clang__)
#define SAFEWEIGHTS_AVX2_REGION_BEGIN \
  SAFEWEIGHTS_PRAGMA(clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function))
#define SAFEWEIGHTS_AVX2_REGION_END SAFEWEIGHTS_PRAGMA(clang attribute pop)
#else
#define SAFEWEIGHTS_AVX2_REGION_BEGIN \
  SAFEWEIGHTS_PRAGMA(GCC push_options) SAFEWEIGHTS_PRAGMA(GCC target("avx2,fma,f16c"))
#define SAFEWEIGHTS_AVX2_REGION_END SAFEWEIGHTS_PRAGMA(GCC pop_options)
#endif
