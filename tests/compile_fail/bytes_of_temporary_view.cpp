// expect: tensor_view::bytes() &&
// The bytes of a temporary view: in io_mode::pread the view owns them alone.
#include <safeweights/safeweights.hpp>
namespace sw = safeweights;
int main() {
  auto model = sw::reader::open("model.safetensors", {.mode = sw::io_mode::pread});
  std::span<const std::byte> b = model->tensor("fc.weight").value().bytes();
  return static_cast<int>(b.size());
}
