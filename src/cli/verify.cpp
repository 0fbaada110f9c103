// `safeweights verify`: with --signature, checks a model (a directory or a
// file) against its OpenSSF model signature (a Sigstore bundle) before
// anything of it is mapped or parsed, naming each file that differs, is
// missing or is extra; without, checks a sealed file's tensors against its
// seal. Exit 0 when everything checked is good, 1 naming what failed, 2 usage.
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "file_kind.hpp"
#include "input.hpp"
#include "model_paths.hpp"
#include "safeweights/integrity/sealed_reader.hpp"
#include "safeweights/util/json_text.hpp"
#include "value_options.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage =
    "usage: safeweights verify --signature SIG (--public-key PUB.pem | --certificate-chain CA.pem ... |\n"
    "                          --identity ID --identity-provider URL --trust-config TRUST.json)\n"
    "                          [--ignore-paths P ...] [--json] MODEL_PATH\n"
    "       safeweights verify [--json] FILE.safetensors   (a sealed file's tensors)";

constexpr std::string_view help =
    "usage: safeweights verify --signature SIG (--public-key PUB.pem | --certificate-chain CA.pem ... |\n"
    "                          --identity ID --identity-provider URL --trust-config TRUST.json)\n"
    "                          [--ignore-paths P ...] [--json] MODEL_PATH\n"
    "       safeweights verify [--json] FILE.safetensors\n"
    "\n"
    "With --signature: check MODEL_PATH (a model directory or one file) against SIG,\n"
    "an OpenSSF model signature (a Sigstore bundle from `safeweights sign` or the\n"
    "`model_signing` tool, v1.0 or v1.1). First the signer: the public key (its hint\n"
    "in the bundle), the certificate chain up to a CA of CA.pem at signing time, or,\n"
    "for keyless Sigstore signatures, the Fulcio certificate up to the trust\n"
    "configuration's CAs, its identity and OIDC issuer, and its Rekor entry (signed\n"
    "entry timestamp, inclusion proof and checkpoint), all offline. Then the\n"
    "signature over the statement, then every file's SHA-256 (read, never mapped).\n"
    "Files the signature records as ignored, --ignore-paths, SIG itself and .git*\n"
    "files are left out. Each file that changed, is missing or is not signed is\n"
    "named. What cannot be checked offline is printed as a note, never passed over.\n"
    "\n"
    "Without --signature: if FILE is sealed (`safeweights seal`), check every tensor's\n"
    "SHA-256, dtype and shape against the seal, naming each tensor that does not\n"
    "match; a file with no seal has nothing to verify (exit 1).\n"
    "Exit status: 0 verified, 1 not (named on stderr), 2 usage.\n"
    "\n"
    "Options:\n"
    "  --signature SIG             the Sigstore bundle\n"
    "  --public-key PUB.pem        the signer's public key (PEM or DER)\n"
    "  --certificate-chain CA.pem  trusted CA certificates (repeatable)\n"
    "  --identity ID               keyless: the signer's identity (certificate SAN)\n"
    "  --identity-provider URL     keyless: the OIDC issuer that vouched for ID\n"
    "  --trust-config TRUST.json   keyless: Sigstore trust configuration or trusted root\n"
    "  --ignore-paths P            leave P out as well (repeatable)\n"
    "  --no-ignore-git-paths       check .git* files too\n"
    "  --json                      the verdict as JSON on stdout:\n"
    "                              with --signature: {\"model\": P, \"signature\": SIG,\n"
    "                               \"ok\": B, \"signer\": S|null, \"resources\": N,\n"
    "                               \"changed\": [...], \"missing\": [...], \"extra\": [...],\n"
    "                               \"notes\": [...], \"error\": MESSAGE|null}\n"
    "                              without: {\"file\": F, \"ok\": B, \"seal\": \"ok\"|\"bad\"|\"none\",\n"
    "                               \"tensors\": N, \"failures\": [...], \"error\": MESSAGE|null}\n"
    "  -h, --help                  show this help\n";

// What was checked, for --json.
struct outcome {
  std::string seal = "not checked";
  std::size_t tensors = 0;
  std::vector<std::string> failures;
  std::optional<std::string> error;
};

std::string to_json(const std::string& path, const outcome& o, bool ok) {
  std::string out = "{\"file\": ";
  sw::append_json_string(out, path);
  out += ok ? ", \"ok\": true" : ", \"ok\": false";
  out += ", \"seal\": \"" + o.seal + "\", \"tensors\": " + std::to_string(o.tensors) + ", \"failures\": [";
  for (std::size_t i = 0; i < o.failures.size(); ++i) {
    if (i) out += ", ";
    sw::append_json_string(out, o.failures[i]);
  }
  out += "], \"error\": ";
  if (o.error) sw::append_json_string(out, *o.error);
  else out += "null";
  return out + "}\n";
}


void append_list(std::string& out, const std::vector<std::string>& items) {
  out += "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    sw::append_json_string(out, items[i]);
  }
  out += "]";
}

// verify --signature: the model against its OpenSSF model signature.
int verify_model_signature(const value_split& vs, const command_line& cl) {
  const std::string& model = cl.operands[0];
  const std::string signature = *vs.one("--signature");
  const bool json = cl.has("--json");
  std::optional<sw::model_verification> report;
  auto finish = [&](int status, const std::optional<std::string>& error) {
    if (json) {
      std::string out = "{\"model\": ";
      sw::append_json_string(out, model);
      out += ", \"signature\": ";
      sw::append_json_string(out, signature);
      out += status == exit_ok ? ", \"ok\": true, \"signer\": " : ", \"ok\": false, \"signer\": ";
      if (report) sw::append_json_string(out, report->signer);
      else out += "null";
      out += ", \"resources\": " + std::to_string(report ? report->resources : 0) + ", \"changed\": ";
      append_list(out, report ? report->changed : std::vector<std::string>{});
      out += ", \"missing\": ";
      append_list(out, report ? report->missing : std::vector<std::string>{});
      out += ", \"extra\": ";
      append_list(out, report ? report->extra : std::vector<std::string>{});
      out += ", \"notes\": ";
      append_list(out, report ? report->notes : std::vector<std::string>{});
      out += ", \"error\": ";
      if (error) sw::append_json_string(out, *error);
      else out += "null";
      write_out(stdout, out + "}\n");
    }
    return status;
  };
  auto failed = [&](const sw::error& e) {
    fail(e);
    return finish(exit_invalid, e.message);
  };

  sw::model_trust trust;
  if (auto pub = vs.one("--public-key")) {
    auto key = sw::public_key::load(*pub);
    if (!key) return failed(key.error_value());
    trust.key = std::move(*key);
  }
  for (const std::string& ca : vs.all("--certificate-chain")) {
    auto certs = sw::x509_certificate::load_pem_file(ca);
    if (!certs) return failed(certs.error_value());
    trust.certificate_authorities.insert(trust.certificate_authorities.end(), certs->begin(), certs->end());
  }
  if (auto config = vs.one("--trust-config")) {
    auto root = sw::load_trust_root(*config);
    if (!root) return failed(root.error_value());
    trust.sigstore_root = std::move(*root);
    trust.identity.identity = *vs.one("--identity");
    trust.identity.issuer = *vs.one("--identity-provider");
  }
  sw::model_verify_options o;
  o.ignore_git_paths = !cl.has("--no-ignore-git-paths");
  auto ignored = model_relative_paths(model, vs.all("--ignore-paths"));
  if (!ignored) return failed(ignored.error_value());
  o.ignore_paths = std::move(*ignored);
  auto r = sw::verify_model(model, signature, trust, o);
  if (!r) return failed(r.error_value());
  report = std::move(*r);
  if (!json) {
    write_out(stdout, "signature: ok (" + printable(report->signer) + ")\n");
    for (const std::string& note : report->notes) write_out(stdout, "note: " + printable(note) + "\n");
  }
  if (!report->ok()) {
    for (const auto& p : report->changed) print_error(printable(model) + ": changed since signing: " + printable(p));
    for (const auto& p : report->missing) print_error(printable(model) + ": signed but missing: " + printable(p));
    for (const auto& p : report->extra) print_error(printable(model) + ": not signed: " + printable(p));
    const std::size_t bad = report->changed.size() + report->missing.size() + report->extra.size();
    return failed(sw::make_error(sw::errc::digest_mismatch, printable(model) + ": " + std::to_string(bad) +
                                                                (bad == 1 ? " file does" : " files do") +
                                                                " not match the signature"));
  }
  if (!json) write_out(stdout, "files: ok (" + std::to_string(report->resources) + " signed " +
                                   (report->resources == 1 ? "resource" : "resources") + " match)\n");
  return finish(exit_ok, std::nullopt);
}

// verify without --signature: a sealed file's tensors against its seal.
int verify_seal(const command_line& cl) {
  const std::string& path = cl.operands[0];
  const bool json = cl.has("--json");
  outcome o;
  auto finish = [&](int status) {
    if (json) write_out(stdout, to_json(path, o, status == exit_ok));
    return status;
  };
  auto failed = [&](const sw::error& e) {
    o.error = e.message;
    fail(e);
    return finish(exit_invalid);
  };
  auto say = [&](const std::string& line) {
    if (!json) write_out(stdout, line);
  };
  auto opened = open_input(path);
  if (!opened) return failed(opened.error_value());
  sw::reader& r = *opened;
  if (!r.metadata_value(sw::seal_key)) {
    o.seal = "none";
    return failed(sw::make_error(sw::errc::not_sealed, printable(path) +
                                                           ": nothing to verify: not sealed (safeweights seal) and no "
                                                           "--signature"));
  }
  o.seal = "bad";
  auto sealed = sw::sealed_reader::from(std::move(r));
  if (!sealed) return failed(sealed.error_value());
  auto report = sealed->verify_all();
  if (!report) return failed(report.error_value());
  o.tensors = report->tensors;
  for (const sw::error& e : report->failures) {
    print_error(e.message);
    o.failures.push_back(e.message);
  }
  if (!report->ok())
    return failed(sw::make_error(sw::errc::digest_mismatch, printable(path) + ": seal: " +
                                                                std::to_string(report->failures.size()) + " of " +
                                                                std::to_string(report->tensors) +
                                                                " tensors do not match"));
  o.seal = "ok";
  say("seal: ok (" + std::to_string(report->tensors) + " tensors)\n");
  return finish(exit_ok);
}

}  // namespace

int run_verify(args_t args) {
  value_split vs = take_value_options(args, {"--signature", "--public-key", "--certificate-chain", "--identity",
                                             "--identity-provider", "--trust-config", "--ignore-paths"},
                                      {"--certificate-chain", "--ignore-paths"});
  if (!vs.problem.empty()) return usage_error("verify: " + vs.problem, usage);
  command_line cl = split_args(vs.rest);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (auto f = cl.unknown_flag({"--json", "--no-ignore-git-paths"}); !f.empty())
    return usage_error("verify: unknown option `" + printable(f) + "`", usage);
  if (cl.operands.size() != 1)
    return usage_error(cl.operands.empty() ? "verify: missing MODEL_PATH" : "verify: one MODEL_PATH only", usage);
  const bool by_key = vs.one("--public-key").has_value();
  const bool by_ca = !vs.all("--certificate-chain").empty();
  const bool keyless = vs.one("--identity") || vs.one("--identity-provider") || vs.one("--trust-config");
  if (!vs.one("--signature")) {
    if (by_key || by_ca || keyless || !vs.all("--ignore-paths").empty())
      return usage_error("verify: the signer options need --signature SIG", usage);
    return verify_seal(cl);
  }
  if (int(by_key) + int(by_ca) + int(keyless) != 1)
    return usage_error("verify: give one of --public-key, --certificate-chain, or --identity with "
                       "--identity-provider and --trust-config",
                       usage);
  if (keyless && !(vs.one("--identity") && vs.one("--identity-provider") && vs.one("--trust-config")))
    return usage_error("verify: keyless verification needs --identity, --identity-provider and --trust-config", usage);
  return verify_model_signature(vs, cl);
}

}  // namespace safeweights_cli
