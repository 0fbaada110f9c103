// expect: result<T>::operator->() &&
// `->` of a temporary result<tensor_view>: the span would outlive the view.
#include <safeweights/safeweights.hpp>
namespace sw = safeweights;
int main() {
  auto model = sw::reader::open("model.safetensors");
  auto w = model->tensor("fc.weight")->as<float>();
  return static_cast<int>(w.value().size());
}
