// Compiles the kernel body named by SAFEWEIGHTS_KERNEL_BODY once for each
// instruction set: in detail::baseline, and inside the AVX2 target region
// in detail::avx2 (see target_region.hpp). No include guard: each public
// kernel header includes this once for its own body.
//
//   #define SAFEWEIGHTS_KERNEL_BODY "safeweights/kernels/detail/x_body.inl"
//   #include "safeweights/kernels/detail/instantiate.inl"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels::detail::baseline {
#include SAFEWEIGHTS_KERNEL_BODY
}  // namespace kernels::detail::baseline
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights

#if SAFEWEIGHTS_HAVE_AVX2_PATH
SAFEWEIGHTS_AVX2_REGION_BEGIN
namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels::detail::avx2 {
#include SAFEWEIGHTS_KERNEL_BODY
}  // namespace kernels::detail::avx2
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
SAFEWEIGHTS_AVX2_REGION_END
#endif

#undef SAFEWEIGHTS_KERNEL_BODY
