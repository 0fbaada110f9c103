// What every fuzz target shares: the libFuzzer entry point's signature, and
// `require`, which turns a broken property into a crash libFuzzer records
// (and the corpus replay reports) instead of a silent pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fuzz {

[[noreturn]] inline void property_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
  std::abort();
}

}  // namespace fuzz

#define FUZZ_REQUIRE(cond) ((cond) ? void(0) : ::fuzz::property_failed(#cond, __FILE__, __LINE__))
