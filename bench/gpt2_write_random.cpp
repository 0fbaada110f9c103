// Writes bench/gpt2_random.hpp's GPT-2-small-sized random checkpoint to a
// file, for runs outside the benchmark programs (bench/run-gpt2-tp).
//
//   gpt2-write-random PATH [f32|bf16]
#include <cstdio>
#include <string>

#include "gpt2_random.hpp"

int main(int argc, char** argv) {
  const std::string type = argc > 2 ? argv[2] : "f32";
  if (argc < 2 || argc > 3 || (type != "f32" && type != "bf16")) {
    std::fputs("usage: gpt2-write-random PATH [f32|bf16]\n", stderr);
    return 2;
  }
  swbench::write_random_gpt2(argv[1], type == "f32" ? safeweights::dtype::F32 : safeweights::dtype::BF16);
  return 0;
}
