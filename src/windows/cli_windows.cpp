// The Windows CLI's counterparts of signals.cpp and module_loader.cpp.
//
// Commands: the Windows build has no OpenSSL or libzip, so the commands that
// need them (digest, seal, sign, verify, convert, inspect --sha256), which
// live in the command module elsewhere, say so and fail; there is no module
// to load.
//
// Interruptions: Ctrl-C, Ctrl-Break and closing the console reach a console
// control handler, which runs on a thread of its own: it removes the hidden
// temporaries of unfinished outputs, then lets the process end. (A mapped
// input cannot shrink on Windows, so there is no SIGBUS to report.)
#include <windows.h>

#include <string>
#include <string_view>

#include "command.hpp"
#include "module.hpp"
#include "signals.hpp"
#include "safeweights/io/temporary_files.hpp"

namespace safeweights_cli {

int run_in_module(std::string_view command, args_t) {
  print_error("`" + std::string(command) +
              "` is not available in this build: it needs OpenSSL or libzip, which the Windows build lacks");
  return exit_invalid;
}

namespace {
BOOL WINAPI on_console_event(DWORD) {
  safeweights::remove_temporary_files();
  return FALSE;  // the default handler ends the process
}
}  // namespace

void set_changed_input_status(int) {}

void install_signal_handlers() { ::SetConsoleCtrlHandler(on_console_event, TRUE); }

}  // namespace safeweights_cli
