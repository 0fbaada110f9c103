// `safeweights sign`: signs a model directory (or one file) in the OpenSSF
// model-signing format, a Sigstore bundle that model_signing verifies.
#include <charconv>

#include "command.hpp"
#include "file_kind.hpp"
#include "model_paths.hpp"
#include "summary.hpp"
#include "value_options.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage =
    "usage: safeweights sign --signature SIG --private-key KEY.pem [--signing-certificate CERT.pem\n"
    "                        --certificate-chain CHAIN.pem ...] [--ignore-paths P ...]\n"
    "                        [--serialization files|shards] [--shard-size N] MODEL_PATH";

constexpr std::string_view help =
    "usage: safeweights sign --signature SIG --private-key KEY.pem [--signing-certificate CERT.pem\n"
    "                        --certificate-chain CHAIN.pem ...] [--ignore-paths P ...]\n"
    "                        [--serialization files|shards] [--shard-size N] MODEL_PATH\n"
    "\n"
    "Sign MODEL_PATH (a model directory, or one file) in the OpenSSF model-signing\n"
    "format (the `model_signing` tool's, v1.x): SIG is a Sigstore bundle (v0.3 JSON)\n"
    "whose DSSE envelope signs an in-toto statement listing every file's SHA-256.\n"
    "Files are hashed in parallel on every core. SIG is written atomically and is left\n"
    "out of the manifest when it lies inside the model, as are .git, .gitattributes,\n"
    ".github and .gitignore. Verify with `safeweights verify` or `model_signing verify`.\n"
    "Then one line on stdout: `wrote SIG: signature of MODEL_PATH (N files) with ...`.\n"
    "\n"
    "Options:\n"
    "  --signature SIG             the bundle to write\n"
    "  --private-key KEY.pem       the signing key: ECDSA P-256, P-384 or P-521, or\n"
    "                              Ed25519 (PEM, unencrypted)\n"
    "  --signing-certificate CERT.pem  sign with a certificate for that key: the bundle\n"
    "                              carries it and the chain (verify with the CA)\n"
    "  --certificate-chain CHAIN.pem   certificates between CERT and the CA (repeatable)\n"
    "  --ignore-paths P            leave P (a file or directory in the model) out;\n"
    "                              repeatable; recorded in the signature\n"
    "  --serialization files|shards    hash whole files (default) or pieces of\n"
    "                              --shard-size bytes (default 1000000000)\n"
    "  --shard-size N              the piece size for --serialization shards\n"
    "  --allow-symlinks            follow symbolic links (refused by default)\n"
    "  --no-ignore-git-paths       sign .git* files too\n"
    "  -q, --quiet                 no summary line\n"
    "  -h, --help                  show this help\n";

}  // namespace

int run_sign(args_t args) {
  value_split vs = take_value_options(args, {"--signature", "--private-key", "--signing-certificate",
                                             "--certificate-chain", "--ignore-paths", "--serialization", "--shard-size"},
                                      {"--certificate-chain", "--ignore-paths"});
  if (!vs.problem.empty()) return usage_error("sign: " + vs.problem, usage);
  command_line cl = split_args(vs.rest);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (auto f = cl.unknown_flag({quiet_flag, quiet_short_flag, "--allow-symlinks", "--no-ignore-git-paths"}); !f.empty())
    return usage_error("sign: unknown option `" + printable(f) + "`", usage);
  if (!vs.one("--private-key")) return usage_error("sign: --private-key KEY.pem is required", usage);
  if (!vs.one("--signature")) return usage_error("sign: --signature SIG is required", usage);
  if (cl.operands.size() != 1)
    return usage_error(cl.operands.empty() ? "sign: missing MODEL_PATH" : "sign: one MODEL_PATH only", usage);
  if (!vs.all("--certificate-chain").empty() && !vs.one("--signing-certificate"))
    return usage_error("sign: --certificate-chain needs --signing-certificate", usage);
  const std::string& model = cl.operands[0];

  sw::model_sign_options o;
  o.signature_path = *vs.one("--signature");
  o.allow_symlinks = cl.has("--allow-symlinks");
  o.ignore_git_paths = !cl.has("--no-ignore-git-paths");
  if (auto s = vs.one("--serialization")) {
    if (*s == "files") o.method = sw::serialization_method::files;
    else if (*s == "shards") o.method = sw::serialization_method::shards;
    else return usage_error("sign: --serialization is files or shards, not `" + printable(*s) + "`", usage);
  }
  if (auto n = vs.one("--shard-size")) {
    auto [end, ec] = std::from_chars(n->data(), n->data() + n->size(), o.shard_size);
    if (ec != std::errc() || end != n->data() + n->size() || o.shard_size == 0)
      return usage_error("sign: --shard-size is a positive number of bytes, not `" + printable(*n) + "`", usage);
    if (o.method != sw::serialization_method::shards) return usage_error("sign: --shard-size needs --serialization shards", usage);
  }
  auto ignored = model_relative_paths(model, vs.all("--ignore-paths"));
  if (!ignored) return usage_error("sign: " + ignored.error_value().message, usage);
  o.ignore_paths = std::move(*ignored);

  auto key = sw::private_key::load(*vs.one("--private-key"));
  if (!key) return fail(key.error_value());
  sw::model_signer signer{std::move(*key), {}};
  if (auto cert = vs.one("--signing-certificate")) {
    auto leaf = sw::x509_certificate::load_pem_file(*cert);
    if (!leaf) return fail(leaf.error_value());
    signer.certificate_chain.push_back(leaf->front());
    for (const std::string& chain : vs.all("--certificate-chain")) {
      auto certs = sw::x509_certificate::load_pem_file(chain);
      if (!certs) return fail(certs.error_value());
      signer.certificate_chain.insert(signer.certificate_chain.end(), certs->begin(), certs->end());
    }
  }
  auto bundle = sw::sign_model(model, signer, o);
  if (!bundle) return fail(bundle.error_value());
  if (auto w = sw::write_model_signature(o.signature_path, *bundle); !w) return fail(w.error_value());
  auto manifest = sw::parse_in_toto_statement(bundle->payload, o.signature_path);
  const std::size_t count = manifest ? manifest->resources.size() : 0;
  const std::string by = signer.certificate_chain.empty()
                             ? "key " + std::string(sw::key_algorithm_name(signer.key.algorithm())) + " " +
                                   signer.key.public_half().hint()
                             : "certificate " + signer.certificate_chain.front().subject();
  report_written(quiet_requested(cl), o.signature_path,
                 "signature of " + printable(model) + " (" + std::to_string(count) +
                     (o.method == sw::serialization_method::files ? " files" : " shards") + ") with " + by);
  return exit_ok;
}

}  // namespace safeweights_cli
