// expect: operator std::span<const T>() &&
// The README's old idiom: a span of a temporary view's elements (a use-after-free in io_mode::pread).
#include <safeweights/safeweights.hpp>
namespace sw = safeweights;
int main() {
  auto model = sw::reader::open("model.safetensors");
  std::span<const float> w = model->tensor("fc.weight").value().as<float>().value();
  return static_cast<int>(w.size());
}
