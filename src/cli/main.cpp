// `safeweights COMMAND ...`: finds the command and runs it; --help, --version.
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "command.hpp"
#include "module.hpp"
#include "signals.hpp"
#include "safeweights/version.hpp"

namespace cli = safeweights_cli;

namespace {

// `run` is null for the commands of the module (module.hpp).
struct command {
  std::string_view name;
  int (*run)(cli::args_t);
  std::string_view summary;
};

constexpr command commands[] = {
    {"inspect", cli::run_inspect, "list a file's tensors and metadata (a table, or JSON with --json)"},
    {"validate", cli::run_validate, "check files against the format, one line per file"},
    {"repack", cli::run_repack, "rewrite a file in the canonical layout (atomically; IN may equal OUT)"},
    {"digest", nullptr, "SHA-256 of a file and of each of its tensors"},
    {"seal", nullptr, "write a copy with every tensor's SHA-256 in its metadata"},
    {"sign", nullptr, "write FILE.sig, an Ed25519 signature of FILE"},
    {"verify", nullptr, "check a file's signature (--key) and seal"},
    {"diff", cli::run_diff, "compare two files: tensors, dtypes, shapes, values, metadata"},
    {"convert", nullptr, "NumPy .npy/.npz to safetensors and back (refuses pickles)"},
    {"shard", cli::run_shard, "split a file into Hugging Face shards plus model.safetensors.index.json"},
    {"merge", cli::run_merge, "join the shards of a model.safetensors.index.json into one file"},
    {"cast", cli::run_cast, "convert every float tensor to bf16, f16 or f32"},
    {"rename", cli::run_rename, "strip or add a prefix to every tensor name"},
    {"extract", cli::run_extract, "write a file with only the named tensors"},
    {"metadata", cli::run_metadata, "show or edit a file's __metadata__"},
    {"stats", cli::run_stats, "per tensor min, max, mean, std, NaN/Inf and zero counts"},
    {"cleanup", cli::run_cleanup, "find (--delete: remove) temporaries a killed command left"},
};

constexpr std::string_view usage = "usage: safeweights COMMAND [OPTION...] ARG...";

std::string help_text() {
  std::string text(usage);
  text +=
      "\n\nRead, check and rewrite safetensors weight files.\n\n"
      "Commands:\n";
  for (const command& c : commands) {
    text += "  ";
    text += c.name;
    text.append(10 - c.name.size(), ' ');
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
    if (c.name == first) return c.run ? c.run(rest) : cli::run_in_module(c.name, rest);
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
