// Runs a test body once per instruction set this CPU supports, with that
// path forced, and puts the detected one back afterwards.
#pragma once

#include <doctest/doctest.h>

#include <vector>

#include "safeweights/kernels/isa.hpp"

namespace test_support {

inline std::vector<safeweights::kernels::isa> supported_isas() {
  using safeweights::kernels::isa;
  std::vector<isa> out{isa::baseline};
  if (safeweights::kernels::detected_isa() >= isa::avx2) out.push_back(isa::avx2);
  return out;
}

template <class F>
void for_each_isa(F&& body) {
  for (auto i : supported_isas()) {
    REQUIRE(safeweights::kernels::force_isa(i));
    INFO("isa ", safeweights::kernels::isa_name(i));
    body(i);
  }
  safeweights::kernels::force_isa(safeweights::kernels::detected_isa());
}

}  // namespace test_support
