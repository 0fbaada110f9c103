// DSSE's pre-authentication encoding (secure-systems-lab/dsse, protocol v1):
// what a DSSE signature signs, so that the payload's type is signed with it
// and no payload can be read as another type.
#pragma once

#include <string>
#include <string_view>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload, lengths in decimal.
inline std::string dsse_pae(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 " + std::to_string(payload_type.size()) + " ";
  out += payload_type;
  out += " " + std::to_string(payload.size()) + " ";
  out += payload;
  return out;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
