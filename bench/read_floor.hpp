// The floor of a memory-bound kernel: summing n floats, split over the
// kernels' threads the way a product splits its weights, so that the
// benchmarks compare their kernels with plain reading of the same bytes.
#pragma once

#include <cstddef>
#include <vector>

#include "safeweights/kernels/parallel.hpp"

namespace swbench {

inline double sum_on_kernel_threads(const float* data, std::size_t n) {
  namespace kn = safeweights::kernels;
  const std::size_t parts = kn::thread_count();
  std::vector<double> partial(parts);
  kn::parallel_parts(parts, [&](std::size_t p) {
    const std::size_t n0 = n * p / parts, n1 = n * (p + 1) / parts;
    float a[8] = {};
    for (std::size_t i = n0; i + 8 <= n1; i += 8)
      for (int j = 0; j < 8; ++j) a[j] += data[i + static_cast<std::size_t>(j)];
    double s = 0;
    for (float x : a) s += x;
    partial[p] = s;
  });
  return partial[0];
}

}  // namespace swbench
