// `safeweights sign --key PRIVATE.pem FILE`: writes FILE.sig, a detached
// Ed25519 signature over FILE's SHA-256 and byte length.
#include "command.hpp"
#include "file_kind.hpp"
#include "key_option.hpp"
#include "safeweights/integrity/signature.hpp"
#include "summary.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights sign [--quiet] --key PRIVATE.pem FILE";

constexpr std::string_view help =
    "usage: safeweights sign [--quiet] --key PRIVATE.pem FILE\n"
    "\n"
    "Write FILE.sig: FILE's byte length and SHA-256, signed with the Ed25519\n"
    "private key in PRIVATE.pem (make one with `openssl genpkey -algorithm\n"
    "ed25519 -out PRIVATE.pem`; its public half with `openssl pkey -in\n"
    "PRIVATE.pem -pubout -out PUBLIC.pem`). FILE may be any file. FILE.sig is\n"
    "replaced atomically. Check it with `safeweights verify --key PUBLIC.pem FILE`.\n"
    "Then one line on stdout: `wrote FILE.sig: signature of FILE (N bytes,\n"
    "sha256 HEX) with key ID`.\n"
    "\n"
    "Options:\n"
    "  --key PRIVATE.pem  the signing key (PEM, PKCS#8, unencrypted)\n"
    "  -q, --quiet        no summary line\n"
    "  -h, --help         show this help\n";

}  // namespace

int run_sign(args_t args) {
  key_split ks = take_key_option(args);
  if (!ks.problem.empty()) return usage_error("sign: " + ks.problem, usage);
  command_line cl = split_args(ks.rest);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (auto f = cl.unknown_flag({quiet_flag, quiet_short_flag}); !f.empty())
    return usage_error("sign: unknown option `" + printable(f) + "`", usage);
  if (!ks.key) return usage_error("sign: --key PRIVATE.pem is required", usage);
  if (cl.operands.size() != 1) return usage_error(cl.operands.empty() ? "sign: missing FILE" : "sign: one FILE only", usage);
  auto key = sw::ed25519_key::load_private(*ks.key);
  if (!key) return fail(key.error_value());
  auto rec = sw::sign_file(cl.operands[0], *key);
  // FILE may be any file; only a directory is worth a word more than the error.
  if (!rec) return fail(kind_of(cl.operands[0]) == input_kind::directory
                            ? explain_input(std::move(rec).error_value(), cl.operands[0])
                            : rec.error_value());
  report_written(quiet_requested(cl), sw::signature_path(cl.operands[0]),
                 "signature of " + printable(cl.operands[0]) + " (" + std::to_string(rec->size) + " bytes, sha256 " +
                     sw::to_hex(rec->sha256) + ") with key " + key->id());
  return exit_ok;
}

}  // namespace safeweights_cli
