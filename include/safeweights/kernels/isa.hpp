// Which vector instruction set the kernels run on, chosen once at run time.
//
// The library is built for baseline x86-64 (SSE2), so nothing in it may
// assume more; each kernel is compiled twice, once for the baseline and once
// inside a target region for AVX2+FMA+F16C (kernels/detail/target_region.hpp),
// and every call goes to the best path this CPU supports. The environment
// variable SAFEWEIGHTS_ISA=baseline (or avx2) read at the first call, or
// force_isa() at any time, picks a path by hand: for tests that compare the
// paths and for benchmarks. A request above what the CPU supports is refused.
#pragma once

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "safeweights/version.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SAFEWEIGHTS_HAVE_AVX2_PATH 1
#else
#define SAFEWEIGHTS_HAVE_AVX2_PATH 0
#endif

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels {

enum class isa : std::uint8_t {
  baseline,  // SSE2 on x86-64 (xsimd's sse2 batches): every x86-64 CPU
  avx2,      // AVX2 + FMA + F16C: Haswell (2013), Zen and later
};

constexpr std::string_view isa_name(isa i) noexcept { return i == isa::avx2 ? "avx2" : "baseline"; }

constexpr std::optional<isa> parse_isa(std::string_view name) noexcept {
  if (name == "baseline") return isa::baseline;
  if (name == "avx2") return isa::avx2;
  return std::nullopt;
}

// The best path this CPU supports.
inline isa detected_isa() noexcept {
#if SAFEWEIGHTS_HAVE_AVX2_PATH
  static const isa best = [] {
    __builtin_cpu_init();  // its AVX answers include the OS saving the registers (XGETBV)
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    return avx2 ? isa::avx2 : isa::baseline;
  }();
  return best;
#else
  return isa::baseline;
#endif
}

namespace detail {

inline std::atomic<isa>& active_isa_slot() noexcept {
  static std::atomic<isa> slot = [] {
    isa chosen = detected_isa();
    if (const char* env = std::getenv("SAFEWEIGHTS_ISA")) {
      auto asked = parse_isa(env);
      if (asked && *asked <= chosen) chosen = *asked;
    }
    return chosen;
  }();
  return slot;
}

}  // namespace detail

// The path every kernel call takes now.
inline isa active_isa() noexcept { return detail::active_isa_slot().load(std::memory_order_relaxed); }

// Chooses the path for every later call; false (and no change) when the CPU
// does not support `i`.
inline bool force_isa(isa i) noexcept {
  if (i > detected_isa()) return false;
  detail::active_isa_slot().store(i, std::memory_order_relaxed);
  return true;
}

}  // namespace kernels
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
