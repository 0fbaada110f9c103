// exp, sigmoid and erf on vectors (detail/math_body.inl), for every
// instruction set; shared by the activation, softmax and attention kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "safeweights/kernels/detail/ops_avx2.hpp"
#include "safeweights/kernels/detail/ops_baseline.hpp"

#define SAFEWEIGHTS_KERNEL_BODY "safeweights/kernels/detail/math_body.inl"
#include "safeweights/kernels/detail/instantiate.inl"
