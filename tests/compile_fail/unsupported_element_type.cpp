// expect: safeweights: no dtype holds this element type. The element types are bool
// long long is not std::int64_t on Linux (that is long): the message lists what is supported.
#include <safeweights/safeweights.hpp>
namespace sw = safeweights;
int main() {
  std::vector<long long> ids{1, 2, 3};
  sw::writer w;
  return w.add<long long>("ids", {3}, ids).has_value() ? 0 : 1;
}
