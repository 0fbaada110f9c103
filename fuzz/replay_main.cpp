// A main() for builds without libFuzzer: runs the target once on every file
// named on the command line (directories are read recursively, in sorted
// order), so the committed corpus replays under `meson test` in the normal
// and the sanitizer builds. A crash, a sanitizer report or a broken property
// fails the test, naming the input on stderr.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_target.hpp"

namespace fs = std::filesystem;

// Sanitizer runtimes call this before they end the process on a report.
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(void (*)(void));

namespace {

char current_input[4096];  // static storage: read from signal handlers

void say_which_input() {
  const char prefix[] = "replay: failed on input ";
  (void)!::write(2, prefix, sizeof prefix - 1);
  (void)!::write(2, current_input, std::strlen(current_input));
  (void)!::write(2, "\n", 1);
}

void on_fatal_signal(int sig) {
  say_which_input();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

static std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    fs::path p(argv[i]);
    if (fs::is_directory(p)) {
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file()) inputs.push_back(e.path());
    } else if (fs::is_regular_file(p)) {
      inputs.push_back(p);
    } else {
      std::fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "replay: no inputs (give files or directories)\n");
    return 2;
  }
  std::sort(inputs.begin(), inputs.end());
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, on_fatal_signal);
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(say_which_input);
  for (const fs::path& p : inputs) {
    std::snprintf(current_input, sizeof current_input, "%s", p.c_str());
    auto bytes = read_file(p);
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  }
  std::printf("replayed %zu inputs, no failure\n", inputs.size());
  return 0;
}
