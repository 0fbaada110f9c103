// expect: result<T>::operator->() &&
// `->` of a temporary result<reader>: the span of tensor_info would outlive the reader.
#include <safeweights/safeweights.hpp>
namespace sw = safeweights;
int main() {
  auto tensors = sw::reader::open("model.safetensors")->tensors();
  return static_cast<int>(tensors.size());
}
