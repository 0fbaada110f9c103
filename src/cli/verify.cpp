// `safeweights verify [--key PUBLIC.pem] FILE`: checks FILE's detached
// signature (FILE.sig, with --key) before the file is mapped or parsed, then
// every tensor against FILE's seal, if it has one. Prints one line per check;
// exit 0 when everything checked is good, 1 naming what failed.
#include "command.hpp"
#include "input.hpp"
#include "key_option.hpp"
#include "safeweights/integrity/sealed_reader.hpp"
#include "safeweights/integrity/signature.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights verify [--key PUBLIC.pem] FILE";

constexpr std::string_view help =
    "usage: safeweights verify [--key PUBLIC.pem] FILE\n"
    "\n"
    "With --key: check FILE.sig, the Ed25519 signature `safeweights sign` made,\n"
    "against the public key in PUBLIC.pem, and FILE's length and SHA-256 against\n"
    "the signed ones; this happens before FILE is parsed or mapped. Then, if FILE\n"
    "is sealed (`safeweights seal`), check every tensor's SHA-256, dtype and\n"
    "shape against the seal, naming each tensor that does not match.\n"
    "Exit status: 0 all good, 1 something failed (named on stderr), 2 usage.\n"
    "A file with neither a seal nor --key has nothing to verify: exit 1.\n"
    "\n"
    "Options:\n"
    "  --key PUBLIC.pem  the signer's public key (PEM)\n"
    "  -h, --help        show this help\n";

}  // namespace

int run_verify(args_t args) {
  key_split ks = take_key_option(args);
  if (!ks.problem.empty()) return usage_error("verify: " + ks.problem, usage);
  command_line cl = split_args(ks.rest);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (!cl.flags.empty()) return usage_error("verify: unknown option `" + printable(cl.flags[0]) + "`", usage);
  if (cl.operands.size() != 1)
    return usage_error(cl.operands.empty() ? "verify: missing FILE" : "verify: one FILE only", usage);
  const std::string& path = cl.operands[0];

  std::optional<sw::result<sw::reader>> opened;
  if (ks.key) {
    auto key = sw::ed25519_key::load_public(*ks.key);
    if (!key) return fail(key.error_value());
    auto file = sw::file_handle::open_read(path);
    if (!file) return fail(std::move(file).error_value().in(path));
    if (auto v = sw::verify_signature(*file, path, sw::signature_path(path), *key); !v)
      return fail(std::move(v).error_value());
    write_out(stdout, "signature: ok (" + std::to_string(file->size()) + " bytes, key " + key->id() + ")\n");
    opened.emplace(open_input(std::move(*file), path));
  } else {
    opened.emplace(open_input(path));
  }
  if (!*opened) return fail(opened->error_value());
  sw::reader& r = **opened;

  if (!r.metadata_value(sw::seal_key)) {
    if (ks.key) {
      write_out(stdout, "seal: none\n");
      return exit_ok;
    }
    print_error(printable(path) + ": nothing to verify: not sealed (safeweights seal) and no --key");
    return exit_invalid;
  }
  auto sealed = sw::sealed_reader::from(std::move(r));
  if (!sealed) return fail(sealed.error_value());
  auto report = sealed->verify_all();
  if (!report) return fail(report.error_value());
  for (const sw::error& e : report->failures) print_error(e.message);
  if (!report->ok()) {
    print_error(printable(path) + ": seal: " + std::to_string(report->failures.size()) + " of " +
                std::to_string(report->tensors) + " tensors do not match");
    return exit_invalid;
  }
  write_out(stdout, "seal: ok (" + std::to_string(report->tensors) + " tensors)\n");
  return exit_ok;
}

}  // namespace safeweights_cli
