// The command module's one entry point (see module.hpp).
#include <cstring>

#include "module.hpp"
#include "signals.hpp"

extern "C" __attribute__((visibility("default"))) int safeweights_cli_module_run(const char* command,
                                                                                 char* const* args,
                                                                                 std::size_t count) {
  namespace cli = safeweights_cli;
  // The module's temporaries are its own list: its handlers remove them, then pass on to the executable's.
  static const bool handlers_installed = (cli::install_signal_handlers(), true);
  (void)handlers_installed;
  struct entry {
    const char* name;
    int (*run)(cli::args_t);
  };
  static constexpr entry commands[] = {
      {"inspect --sha256", cli::run_inspect_sha256},  // the executable runs inspect itself, but cannot hash
      {"digest", cli::run_digest},
      {"seal", cli::run_seal},
      {"sign", cli::run_sign},
      {"verify", cli::run_verify},
      {"convert", cli::run_convert},
  };
  for (const entry& e : commands)
    if (std::strcmp(e.name, command) == 0) return e.run(cli::args_t(args, count));
  cli::print_error(std::string("the command module has no command `") + command + "`");
  return cli::exit_invalid;
}
