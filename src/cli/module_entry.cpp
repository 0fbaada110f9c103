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
  // The module's commands and module parts, by the key the executable runs them with (commands.def).
#define SAFEWEIGHTS_CLI_ENTRY_core(name)
#define SAFEWEIGHTS_CLI_ENTRY_module(name) {#name, cli::run_##name},
#define SAFEWEIGHTS_CLI_COMMAND(name, place, summary) SAFEWEIGHTS_CLI_ENTRY_##place(name)
#define SAFEWEIGHTS_CLI_MODULE_PART(name, key) {key, cli::run_##name},
  static constexpr entry commands[] = {
#include "commands.def"
  };
#undef SAFEWEIGHTS_CLI_COMMAND
#undef SAFEWEIGHTS_CLI_MODULE_PART
#undef SAFEWEIGHTS_CLI_ENTRY_core
#undef SAFEWEIGHTS_CLI_ENTRY_module
  for (const entry& e : commands)
    if (std::strcmp(e.name, command) == 0) return e.run(cli::args_t(args, count));
  cli::print_error(std::string("the command module has no command `") + command + "`");
  return cli::exit_invalid;
}
