// `safeweights COMMAND ...`: finds the command and runs it; --help, --version.
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "command.hpp"
#include "signals.hpp"
#include "safeweights/version.hpp"

namespace cli = safeweights_cli;

namespace {

struct command {
  std::string_view name;
  int (*run)(cli::args_t);
  std::string_view summary;
};

#define SAFEWEIGHTS_CLI_COMMAND(name, summary) {#name, cli::run_##name, summary},
constexpr command commands[] = {
#include "commands.def"
};
#undef SAFEWEIGHTS_CLI_COMMAND

// The help pads each name to this width; at least one space must separate it from its summary.
constexpr std::size_t summary_column = 10;
constexpr bool names_fit_the_help() {
  for (const command& c : commands)
    if (c.name.size() >= summary_column) return false;
  return true;
}
static_assert(names_fit_the_help(), "a command name in commands.def is too long for the help's summary column");

constexpr std::string_view usage = "usage: safeweights COMMAND [OPTION...] ARG...";

std::string help_text() {
  std::string text(usage);
  text +=
      "\n\nRead, check and rewrite safetensors weight files.\n\n"
      "Commands:\n";
  for (const command& c : commands) {
    text += "  ";
    text += c.name;
    text.append(summary_column - c.name.size(), ' ');
    text += c.summary;
    text += '\n';
  }
  text +=
      "\nOptions:\n"
      "  -h, --help  show this help\n"
      "  --version   show the version\n"
      "\n`safeweights COMMAND --help` describes a command.\n"
      "Exit status: 0 ok, 1 invalid or unreadable input (or a failed write), 2 usage error;\n"
      "diff: 0 the same, 1 they differ, 2 usage error, 3 could not compare (a file\n"
      "missing, unreadable or invalid). Commands that write files print one line,\n"
      "`wrote OUT: ...`, on stdout; --quiet (-q) silences it.\n";
  return text;
}

int dispatch(int argc, char** argv) {
  if (argc < 2) return cli::usage_error("no command given", usage);
  std::string_view first(argv[1]);
  if (first == "--help" || first == "-h") {
    cli::write_out(stdout, help_text());
    return cli::exit_ok;
  }
  if (first == "--version") {
    cli::write_out(stdout, "safeweights " SAFEWEIGHTS_VERSION_STRING "\n");
    return cli::exit_ok;
  }
  if (first.size() > 1 && first[0] == '-')
    return cli::usage_error("unknown option `" + cli::printable(first) + "`", usage);
  cli::args_t rest(argv + 2, static_cast<std::size_t>(argc - 2));
  for (const command& c : commands)
    if (c.name == first) return c.run(rest);
  return cli::usage_error("unknown command `" + cli::printable(first) + "`", usage);
}

}  // namespace

int main(int argc, char** argv) {
  cli::install_signal_handlers();
  int status;
  try {
    status = dispatch(argc, argv);
  } catch (const std::bad_alloc&) {
    cli::print_error("out of memory");
    return cli::exit_invalid;
  } catch (const std::exception& e) {
    cli::print_error(e.what());
    return cli::exit_invalid;
  }
  // Output that never arrived (a full disk, a closed pipe) is a failure too.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    cli::print_error("cannot write to standard output");
    return status == cli::exit_ok ? cli::exit_invalid : status;
  }
  return status;
}
