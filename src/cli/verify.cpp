// `safeweights verify [--json] [--key PUBLIC.pem] FILE`: checks FILE's detached
// signature (FILE.sig, with --key) before the file is mapped or parsed, then
// every tensor against FILE's seal, if it has one. Prints one line per check;
// exit 0 when everything checked is good, 1 naming what failed.
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "file_kind.hpp"
#include "input.hpp"
#include "key_option.hpp"
#include "safeweights/integrity/sealed_reader.hpp"
#include "safeweights/integrity/signature.hpp"
#include "safeweights/util/json_text.hpp"

namespace sw = safeweights;

namespace safeweights_cli {
namespace {

constexpr std::string_view usage = "usage: safeweights verify [--json] [--key PUBLIC.pem] FILE";

constexpr std::string_view help =
    "usage: safeweights verify [--json] [--key PUBLIC.pem] FILE\n"
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
    "  --json            print what was checked and the verdict, on stdout:\n"
    "                    {\"file\": F, \"ok\": true|false,\n"
    "                     \"signature\": \"ok\"|\"bad\"|\"not checked\", \"key\": ID|null,\n"
    "                     \"seal\": \"ok\"|\"bad\"|\"none\"|\"not checked\",\n"
    "                     \"tensors\": N (checked against the seal),\n"
    "                     \"failures\": [MESSAGE, ...] (tensors that do not match),\n"
    "                     \"error\": MESSAGE|null}\n"
    "                    (errors still go to stderr as well; exit codes as without)\n"
    "  -h, --help        show this help\n";

// What was checked, for --json.
struct outcome {
  std::string signature = "not checked";
  std::optional<std::string> key;  // the key's id, once loaded
  std::string seal = "not checked";
  std::size_t tensors = 0;
  std::vector<std::string> failures;
  std::optional<std::string> error;
};

std::string to_json(const std::string& path, const outcome& o, bool ok) {
  std::string out = "{\"file\": ";
  sw::append_json_string(out, path);
  out += ok ? ", \"ok\": true" : ", \"ok\": false";
  out += ", \"signature\": \"" + o.signature + "\", \"key\": ";
  if (o.key) sw::append_json_string(out, *o.key);
  else out += "null";
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

}  // namespace

int run_verify(args_t args) {
  key_split ks = take_key_option(args);
  if (!ks.problem.empty()) return usage_error("verify: " + ks.problem, usage);
  command_line cl = split_args(ks.rest);
  if (cl.has("--help") || cl.has("-h")) {
    write_out(stdout, help);
    return exit_ok;
  }
  if (auto f = cl.unknown_flag({"--json"}); !f.empty())
    return usage_error("verify: unknown option `" + printable(f) + "`", usage);
  if (cl.operands.size() != 1)
    return usage_error(cl.operands.empty() ? "verify: missing FILE" : "verify: one FILE only", usage);
  const std::string& path = cl.operands[0];
  const bool json = cl.has("--json");

  outcome o;
  // Every way out: the verdict as JSON (with --json) or as the lines so far.
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

  std::optional<sw::result<sw::reader>> opened;
  if (ks.key) {
    auto key = sw::ed25519_key::load_public(*ks.key);
    if (!key) return failed(key.error_value());
    o.key = key->id();
    auto file = sw::file_handle::open_read(path);
    if (!file) return failed(explain_input(std::move(file).error_value().in(path), path));
    if (auto v = sw::verify_signature(*file, path, sw::signature_path(path), *key); !v) {
      o.signature = "bad";
      return failed(v.error_value());
    }
    o.signature = "ok";
    say("signature: ok (" + std::to_string(file->size()) + " bytes, key " + key->id() + ")\n");
    opened.emplace(open_input(std::move(*file), path));
  } else {
    opened.emplace(open_input(path));
  }
  if (!*opened) return failed(opened->error_value());
  sw::reader& r = **opened;

  if (!r.metadata_value(sw::seal_key)) {
    o.seal = "none";
    if (ks.key) {
      say("seal: none\n");
      return finish(exit_ok);
    }
    return failed(sw::make_error(sw::errc::not_sealed,
                                 printable(path) + ": nothing to verify: not sealed (safeweights seal) and no --key"));
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

}  // namespace safeweights_cli
