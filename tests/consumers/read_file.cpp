// The consumer projects' program: opens a safetensors file with the
// installed safeweights and prints what it holds, one line.
#include <iostream>

#include <safeweights/safeweights.hpp>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto file = safeweights::reader::open(argv[1]);
  if (!file) {
    std::cerr << file.error_value().message << '\n';
    return 1;
  }
  std::cout << file->tensors().size() << " tensors, format=" << file->metadata_value("format").value_or("?") << '\n';
  return 0;
}
