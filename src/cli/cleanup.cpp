// `safeweights cleanup [--delete] DIR...`: the hidden temporaries that a
// killed command left beside its outputs. Interrupted commands remove their
// own (signals.hpp); only SIGKILL or a power cut can leave one, and a live
// writer's temporary is never listed (atomic_file holds a lock on it).
#include <filesystem>
#include <string>
#include <system_error>

#include "command.hpp"
#include "safeweights/io/atomic_file.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights cleanup [--delete] DIR...";

constexpr std::string_view help =
    "usage: safeweights cleanup [--delete] DIR...\n"
    "\n"
    "List the temporary files (.NAME.tmp-XXXXXX) in each DIR that no process "
    "is\n"
    "writing: what a command killed with SIGKILL (or a crash, or a power cut)\n"
    "left of an unfinished output. Ctrl-C, SIGTERM and SIGHUP never leave "
    "one.\n"
    "Temporaries that a running command is still writing are not listed.\n"
    "Prints one path per line.\n"
    "\n"
    "Options:\n"
    "  --delete    remove them, printing `removed PATH` for each\n"
    "  -h, --help  show this help\n"
    "Exit status: 0 ok, 1 when a DIR cannot be listed or a file not removed.\n";

}  // namespace

int run_cleanup(args_t args) {
  command_line cl = split_args(args);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (auto f = cl.unknown_flag({"--delete"}); !f.empty())
    return usage_error("cleanup: unknown option `" + printable(f) + "`", usage);
  if (cl.operands.empty()) return usage_error("cleanup: missing DIR", usage);
  const bool remove = cl.has("--delete");
  int status = exit_ok;
  for (const std::string& dir : cl.operands) {
    auto stale = sw::atomic_file::stale_temporaries(dir);
    if (!stale) {
      print_error(printable(stale.error_value().message));
      status = exit_invalid;
      continue;
    }
    for (const std::string& path : *stale) {
      if (!remove) {
        write_out(stdout, printable(path) + "\n");
      } else if (std::error_code ec; std::filesystem::remove_all(path, ec) > 0 && !ec) {
        write_out(stdout, "removed " + printable(path) + "\n");
      } else {
        print_error(printable(path) + ": cannot remove it");
        status = exit_invalid;
      }
    }
  }
  return status;
}

}  // namespace safeweights_cli
