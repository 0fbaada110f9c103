// The Windows CLI's counterpart of signals.cpp, and its stand-ins for the
// commands that need OpenSSL or libzip, which the Windows build lacks
// (src/cli/meson.build): digest, seal, sign, verify, convert and
// inspect --sha256 say so and fail; so do registry, which needs SQLite, and predict,
// which reads .npy with convert's code.
//
// Interruptions: Ctrl-C, Ctrl-Break and closing the console reach a console
// control handler, which runs on a thread of its own: it removes the hidden
// temporaries of unfinished outputs, then lets the process end. (A mapped
// input cannot shrink on Windows, so there is no SIGBUS to report.)
#include <windows.h>

#include <string>
#include <string_view>

#include "command.hpp"
#include "inspect_output.hpp"
#include "signals.hpp"
#include "safeweights/io/temporary_files.hpp"

namespace safeweights_cli {
namespace {

int unavailable(std::string_view command) {
  print_error("`" + std::string(command) +
              "` is not available in this build: it needs OpenSSL or libzip, which the Windows build lacks");
  return exit_invalid;
}

BOOL WINAPI on_console_event(DWORD) {
  safeweights::remove_temporary_files();
  return FALSE;  // the default handler ends the process
}

}  // namespace

int run_digest(args_t) { return unavailable("digest"); }
int run_seal(args_t) { return unavailable("seal"); }
int run_sign(args_t) { return unavailable("sign"); }
int run_verify(args_t) { return unavailable("verify"); }
int run_convert(args_t) { return unavailable("convert"); }
int run_registry(args_t) {
  print_error("`registry` is not available in this build: it needs SQLite and OpenSSL, which the Windows build lacks");
  return exit_invalid;
}
// predict reads .npy files with convert's reader (npy.cpp), which this build leaves out.
int run_predict(args_t) {
  print_error("`predict` is not available in this build: it reads .npy files with `convert`'s code, which the Windows build leaves out");
  return exit_invalid;
}
int run_inspect_sha256(args_t) { return unavailable("inspect --sha256"); }

void set_changed_input_status(int) {}

void install_signal_handlers() { ::SetConsoleCtrlHandler(on_console_event, TRUE); }

}  // namespace safeweights_cli
