// Header-only ODR check: this file and test_odr_second.cpp both include the
// umbrella header and use it; the test binary links them together.
#include "safeweights/safeweights.hpp"
#include "safeweights/integrity/sha256.hpp"
#include "support.hpp"

std::size_t count_tensors_in_second_unit(std::span<const std::byte> bytes);

TEST_CASE("two translation units include the whole library and link into one program") {
  safeweights::writer w;
  std::vector<float> v = {1, 2};
  REQUIRE(w.add<float>("x", {2}, v));
  auto bytes = w.serialize().value();
  CHECK(count_tensors_in_second_unit(bytes) == 1);
  safeweights::reader first = safeweights::reader::from_buffer(bytes).value();
  CHECK(first.tensors().size() == 1);
}
