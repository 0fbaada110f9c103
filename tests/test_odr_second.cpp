#include "safeweights/safeweights.hpp"
#include "safeweights/integrity/sha256.hpp"

std::size_t count_tensors_in_second_unit(std::span<const std::byte> bytes) {
  auto r = safeweights::reader::from_buffer(bytes);
  return r ? r->tensors().size() : 0;
}
