// libFuzzer target: classic::load_model on any bytes, read as a safetensors
// image from memory. A file that loads must predict on a fixed input (a few
// rows with ordinary, huge, infinite and NaN values) without a crash or a
// read outside its arrays, and a classifier's classes must be in range.
// Run: fuzz/run SECONDS classic_model.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <span>
#include <vector>

#include "fuzz_target.hpp"
#include "safeweights/classic/model.hpp"

namespace sw = safeweights;
namespace classic = safeweights::classic;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto file = sw::reader::from_buffer(std::as_bytes(std::span(data, size)), {}, "<fuzz>");
  if (!file) return 0;
  auto loaded = classic::load_model(*file);
  if (!loaded) {
    FUZZ_REQUIRE(loaded.code() == sw::errc::invalid_model || loaded.code() == sw::errc::unsupported_model);
    return 0;
  }
  const classic::model& m = *loaded;
  // A file may claim any width for a tree model (no per-feature array bounds
  // it); the caller's input bounds it, so this input stays small.
  const std::size_t F = m.n_features();
  if (F > 4096 || m.n_outputs() > 4096 || m.classes().size() > 4096) return 0;
  constexpr std::size_t rows = 3;
  const double specials[] = {0.5, -1e300, std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN(), 3.4028235677973366e38, -2.0};
  std::vector<double> x(rows * F);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = specials[i % std::size(specials)] * (1 + double(i % 7));
  std::vector<double> out(rows * std::max(m.n_outputs(), m.classes().size()));
  switch (m.kind()) {
    case classic::model_kind::transformer:
      FUZZ_REQUIRE(m.transform(x, rows, std::span(out).first(rows * m.n_outputs())).has_value());
      break;
    case classic::model_kind::regressor:
      FUZZ_REQUIRE(m.predict(x, rows, std::span(out).first(rows * m.n_outputs())).has_value());
      break;
    case classic::model_kind::classifier: {
      FUZZ_REQUIRE(m.predict_proba(x, rows, std::span(out).first(rows * m.classes().size())).has_value());
      std::vector<std::size_t> index(rows);
      FUZZ_REQUIRE(m.predict_class(x, rows, index).has_value());
      for (std::size_t k : index) FUZZ_REQUIRE(k < m.classes().size());
      if (!m.class_numbers().empty()) FUZZ_REQUIRE(m.predict(x, rows, std::span(out).first(rows)).has_value());
      break;
    }
  }
  return 0;
}
