// Signing and verifying a model (a directory, or one file) in the OpenSSF
// model-signing format: a Sigstore bundle whose DSSE envelope signs an in-toto
// statement listing every file's SHA-256 (model_manifest.hpp). Bundles made
// by model_signing v1.0 and v1.1 verify here, and ours verify there.
//
// Verification goes in the order that trusts nothing early: the bundle is
// parsed, the signer is established (the key's hint, the certificate chain at
// signing time, or the keyless certificate and its transparency-log entry),
// the DSSE signature over the statement is checked, and only then is the
// statement read and the model hashed (with pread; nothing is mapped) and
// compared, naming every file that differs, is missing or is extra.
//
// What it proves: the bytes read during the check are the ones the signer
// signed. A file changed after the check is not covered; keep verified models
// where only you can write.
#pragma once

#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "safeweights/integrity/certificate_chain.hpp"
#include "safeweights/integrity/dsse.hpp"
#include "safeweights/integrity/keyless.hpp"
#include "safeweights/integrity/model_hashing.hpp"
#include "safeweights/integrity/sigstore_bundle.hpp"
#include "safeweights/io/atomic_file.hpp"
#include "safeweights/io/checkpoint.hpp"
#include "safeweights/io/output_sink.hpp"
#include "safeweights/format/printable.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// Who signs: a private key, with its certificate chain (signing certificate
// first, then intermediates) when signing with a certificate.
struct model_signer {
  private_key key;
  std::vector<x509_certificate> certificate_chain;
};

struct model_sign_options {
  serialization_method method = serialization_method::files;
  std::uint64_t shard_size = default_shard_size;
  bool allow_symlinks = false;
  std::vector<std::string> ignore_paths;  // relative to the model
  bool ignore_git_paths = true;           // .git, .gitattributes, .github, .gitignore
  std::string signature_path;             // left out of the manifest when inside the model
  unsigned threads = 0;                   // 0: every core
  std::vector<std::string> only_files;    // sign just these files of the model (relative to it); empty: all
};

// Whom a verifier trusts: exactly one of a public key, CA certificates (the
// signing certificate must chain to one), or a keyless identity with its
// Sigstore trust root.
struct model_trust {
  std::optional<public_key> key;
  std::vector<x509_certificate> certificate_authorities;
  std::optional<trust_root> sigstore_root;
  keyless_identity identity;
};

struct model_verify_options {
  std::vector<std::string> ignore_paths;  // relative to the model, on top of what the signature records
  bool ignore_git_paths = true;
  unsigned threads = 0;
  // Check just these files (relative to the model), as a loader that reads
  // only some files of a model would: each must be signed and match; other
  // files are neither hashed nor reported. Empty: the whole model.
  std::vector<std::string> only_files;
};

struct model_verification {
  std::string signer;               // who signed, as established
  std::vector<std::string> notes;   // what could not be checked offline (keyless), said not skipped
  std::size_t resources = 0;        // files (or shards) the signature lists
  std::vector<std::string> changed, missing, extra;  // model-relative paths
  bool ok() const noexcept { return changed.empty() && missing.empty() && extra.empty(); }
  // One line naming each failed file, for errors and the command line.
  std::string summary() const {
    std::string out;
    auto list = [&](const char* what, const std::vector<std::string>& paths) {
      for (const auto& p : paths) out += (out.empty() ? "" : "; ") + std::string(what) + " " + quote_name(p);
    };
    list("changed:", changed);
    list("missing:", missing);
    list("not signed:", extra);
    return out;
  }
};

namespace detail {

// `path` relative to the model directory, or nullopt when it is not inside it.
inline std::optional<std::string> inside_model(const std::string& model_path, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(model_path, ec);
  if (ec) return std::nullopt;
  const fs::path p = fs::weakly_canonical(path, ec);
  if (ec) return std::nullopt;
  const fs::path rel = p.lexically_relative(root);
  if (rel.empty() || *rel.begin() == ".." || rel == ".") return std::nullopt;
  return rel.generic_string();
}

// Paths a caller gives (ignore paths, a list of files) must lie inside the model.
inline result<void> check_model_relative(const std::vector<std::string>& paths, std::string_view what) {
  for (const auto& p : paths)
    if (!is_safe_relative_path(p))
      return make_error(errc::invalid_argument, std::string(what) + " " + quote_name(p) + " is not a relative path inside the model");
  return {};
}

inline std::vector<std::string> ignored_paths(const std::string& model_path, std::vector<std::string> given,
                                              bool git, const std::string& signature_path) {
  if (git) given.insert(given.end(), default_ignored_paths().begin(), default_ignored_paths().end());
  if (!signature_path.empty())
    if (auto rel = inside_model(model_path, signature_path)) given.push_back(*rel);
  std::sort(given.begin(), given.end());
  given.erase(std::unique(given.begin(), given.end()), given.end());
  return given;
}

// Fills report.resources, changed, missing and extra from the signed
// resources (those of `only_files`, or all when it is empty) and the model's
// as hashed now. Per file: a file is changed when any of its pieces (or the
// set of pieces) differs.
inline void compare_resources(const std::vector<manifest_resource>& signed_resources,
                              const std::vector<manifest_resource>& local, const std::vector<std::string>& only_files,
                              model_verification& report) {
  std::map<std::string, std::vector<const manifest_resource*>> want, have;
  const std::set<std::string> only(only_files.begin(), only_files.end());
  const auto asked = [&](const std::string& path) { return only.empty() || only.count(path) != 0; };
  for (const auto& r : signed_resources)
    if (asked(r.path)) want[r.path].push_back(&r);
  report.resources = 0;
  for (const auto& kv : want) report.resources += kv.second.size();
  for (const auto& r : local) have[r.path].push_back(&r);
  for (const auto& [path, pieces] : want) {
    auto it = have.find(path);
    if (it == have.end()) {
      report.missing.push_back(path);
      continue;
    }
    bool same = pieces.size() == it->second.size();
    for (std::size_t i = 0; same && i < pieces.size(); ++i)
      same = pieces[i]->start == it->second[i]->start && pieces[i]->end == it->second[i]->end &&
             pieces[i]->digest == it->second[i]->digest;
    if (!same) report.changed.push_back(path);
  }
  for (const auto& [path, pieces] : have)
    if (!want.count(path)) report.extra.push_back(path);
  for (const auto& path : only_files)
    if (!want.count(path) && !have.count(path)) report.missing.push_back(path);
}

}  // namespace detail

// The signature of the model at `model_path`, as a bundle (write it with write_model_signature).
inline result<sigstore_bundle> sign_model(const std::string& model_path, const model_signer& signer,
                                          const model_sign_options& options = {}) {
  model_serialization s;
  s.method = options.method;
  s.shard_size = options.shard_size;
  s.allow_symlinks = options.allow_symlinks;
  if (s.shard_size == 0) return make_error(errc::invalid_argument, "the shard size must be positive");
  for (const auto& [paths, what] : {std::pair{&options.ignore_paths, "ignore path"}, std::pair{&options.only_files, "file"}})
    if (auto c = detail::check_model_relative(*paths, what); !c) return std::move(c).error_value();
  s.ignore_paths = detail::ignored_paths(model_path, options.ignore_paths, options.ignore_git_paths, options.signature_path);
  auto manifest = hash_model(model_path, s, {}, options.threads, options.only_files);
  if (!manifest) return std::move(manifest).error_value();
  sigstore_bundle b;
  b.payload = in_toto_statement(*manifest);
  auto sig = signer.key.sign(dsse_pae(b.payload_type, b.payload));
  if (!sig) return std::move(sig).error_value();
  b.signature = std::move(*sig);
  if (signer.certificate_chain.empty()) {
    b.kind = sigstore_bundle::material::public_key;
    b.public_key_hint = signer.key.public_half().hint();
  } else {
    auto cert_key = signer.certificate_chain.front().key("the signing certificate");
    if (!cert_key) return std::move(cert_key).error_value();
    if (!(*cert_key == signer.key.public_half()))
      return make_error(errc::wrong_key, "the signing certificate " + signer.certificate_chain.front().subject() +
                                             " is not for the private key given");
    b.kind = sigstore_bundle::material::certificate_chain;
    for (const auto& c : signer.certificate_chain) b.certificates.push_back(c.der());
  }
  return b;
}

// Writes a bundle's JSON to `path` atomically (no partial file on failure).
inline result<void> write_model_signature(const std::string& path, const sigstore_bundle& b) {
  auto out = atomic_file::create(path);
  if (!out) return std::move(out).error_value();
  const std::string text = sigstore_bundle_json(b);
  fd_sink sink(out->fd());
  if (auto w = sink.write(std::as_bytes(std::span(text.data(), text.size()))); !w) return std::move(w).error_value().in(path);
  if (auto f = sink.flush(); !f) return std::move(f).error_value().in(path);
  return out->commit();
}

inline result<sigstore_bundle> read_model_signature(const std::string& path) {
  auto text = read_small_file(path, max_bundle_bytes);
  if (!text) return make_error(errc::invalid_signature, "cannot read the signature " + std::move(text).error_value().message);
  return parse_sigstore_bundle(*text, path);
}

// The signer's key, once the bundle's material is trusted; `who` says who it is.
inline result<public_key> establish_signer(const sigstore_bundle& b, const model_trust& trust, const std::string& label,
                                           std::string& who, std::vector<std::string>& notes) {
  const int given = int(trust.key.has_value()) + int(!trust.certificate_authorities.empty()) + int(trust.sigstore_root.has_value());
  if (given != 1)
    return make_error(errc::invalid_argument, "give exactly one of a public key, CA certificates or a Sigstore trust root");
  auto material_name = [](sigstore_bundle::material m) {
    return m == sigstore_bundle::material::public_key ? "a public key"
           : m == sigstore_bundle::material::certificate ? "a keyless (Fulcio) certificate" : "a certificate chain";
  };
  if (trust.key) {
    if (b.kind != sigstore_bundle::material::public_key)
      return make_error(errc::wrong_key, label + ": signed with " + std::string(material_name(b.kind)) +
                                             ", not with a bare key: verify with the certificate options");
    const std::string hint = trust.key->hint();
    if (!b.public_key_hint.empty() && b.public_key_hint != hint)
      return make_error(errc::wrong_key, label + ": signed with the key whose hint is " + b.public_key_hint.substr(0, 64) +
                                             ", not with the given key (" + hint + ")");
    if (!b.public_key_raw.empty()) {
      auto embedded = public_key::from_bytes(b.public_key_raw, label + ": the bundle's public key");
      if (!embedded || !(*embedded == *trust.key))
        return make_error(errc::wrong_key, label + ": signed with the key the bundle holds, not with the given key (" + hint + ")");
    }
    if (b.public_key_hint.empty() && b.public_key_raw.empty()) notes.push_back("the bundle names no key: the signature alone decides");
    who = "key " + std::string(key_algorithm_name(trust.key->algorithm())) + " " + hint;
    return *trust.key;
  }
  if (!trust.certificate_authorities.empty()) {
    if (b.kind != sigstore_bundle::material::certificate_chain)
      return make_error(errc::wrong_key, label + ": signed with " + std::string(material_name(b.kind)) +
                                             ", not with a certificate chain");
    auto leaf = x509_certificate::from_der(b.certificates.front(), label + ": the signing certificate");
    if (!leaf) return std::move(leaf).error_value();
    std::vector<x509_certificate> intermediates;
    for (std::size_t i = 1; i < b.certificates.size(); ++i) {
      auto c = x509_certificate::from_der(b.certificates[i], label + ": certificate " + std::to_string(i + 1) + " of the chain");
      if (!c) return std::move(c).error_value();
      intermediates.push_back(std::move(*c));
    }
    // As model_signing: the chain must hold when the certificate was issued (when it signed, at the latest).
    if (auto v = verify_certificate_chain(*leaf, intermediates, trust.certificate_authorities, leaf->not_before(), label); !v)
      return std::move(v).error_value();
    who = "certificate " + leaf->subject();
    return leaf->key(label);
  }
  if (b.kind != sigstore_bundle::material::certificate)
    return make_error(errc::wrong_key, label + ": signed with " + std::string(material_name(b.kind)) +
                                           ", not keyless: verify with --public-key or --certificate-chain");
  auto key = verify_keyless(b, *trust.sigstore_root, trust.identity, notes, label);
  if (!key) return std::move(key).error_value();
  who = "identity " + trust.identity.identity + " (issuer " + trust.identity.issuer + ")";
  return key;
}

// The signed manifest, once the bundle is authentic under `trust`.
inline result<model_manifest> verified_manifest(const sigstore_bundle& b, const model_trust& trust, const std::string& label,
                                                std::string& who, std::vector<std::string>& notes) {
  auto key = establish_signer(b, trust, label, who, notes);
  if (!key) return std::move(key).error_value();
  if (!key->verify(dsse_pae(b.payload_type, b.payload), b.signature))
    return make_error(errc::signature_mismatch, label + ": the signature does not verify with the " +
                                                    std::string(key_algorithm_name(key->algorithm())) +
                                                    " key of " + who + ": the signed statement was altered, or another key signed it");
  return parse_in_toto_statement(b.payload, label);
}

// Verifies the model at `model_path` against the bundle at `signature_path`.
// An error when the signature is not authentic; a report naming every file
// that differs otherwise (ok() when none does).
inline result<model_verification> verify_model(const std::string& model_path, const std::string& signature_path,
                                               const model_trust& trust, const model_verify_options& options = {}) {
  auto b = read_model_signature(signature_path);
  if (!b) return std::move(b).error_value();
  model_verification report;
  auto signed_manifest = verified_manifest(*b, trust, signature_path, report.signer, report.notes);
  if (!signed_manifest) return std::move(signed_manifest).error_value();
  for (const auto& [paths, what] : {std::pair{&options.ignore_paths, "ignore path"}, std::pair{&options.only_files, "file"}})
    if (auto c = detail::check_model_relative(*paths, what); !c) return std::move(c).error_value();
  const auto extra_ignores = detail::ignored_paths(model_path, options.ignore_paths, options.ignore_git_paths, signature_path);
  // With only_files, the files asked for that exist are hashed; one that does not is missing.
  std::vector<std::string> present;
  for (const auto& p : options.only_files) {
    std::error_code ec;
    const bool single = !std::filesystem::is_directory(model_path, ec);
    if (single ? p == "." : std::filesystem::is_regular_file(std::filesystem::path(model_path) / p, ec)) present.push_back(p);
  }
  result<model_manifest> local = model_manifest{};
  if (options.only_files.empty() || !present.empty())
    local = hash_model(model_path, signed_manifest->serialization, extra_ignores, options.threads, present);
  if (!local) return std::move(local).error_value();
  detail::compare_resources(signed_manifest->resources, local->resources, options.only_files, report);
  return report;
}

// Verifies a model directory, then opens its tensors: the one
// `*.safetensors.index.json` (and the shards it names) or the one
// `.safetensors` file there, or `model_path` itself when it is a file.
// Nothing is mapped before every file of the model has verified.
inline result<checkpoint> open_verified(const std::string& model_path, const std::string& signature_path,
                                        const model_trust& trust, const model_verify_options& options = {},
                                        const read_options& read = {}) {
  auto report = verify_model(model_path, signature_path, trust, options);
  if (!report) return std::move(report).error_value();
  if (!report->ok())
    return make_error(errc::digest_mismatch, model_path + ": does not match its signature: " + report->summary());
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(model_path, ec)) return checkpoint::open(model_path, read);
  std::vector<std::string> indexes, files;
  for (const auto& e : fs::directory_iterator(model_path, ec)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".safetensors.index.json")) indexes.push_back(e.path().string());
    else if (name.ends_with(".safetensors")) files.push_back(e.path().string());
  }
  if (ec) return make_error(errc::io_error, model_path + ": " + ec.message());
  if (indexes.size() == 1) return checkpoint::open_sharded(indexes.front(), read);
  if (indexes.empty() && files.size() == 1) return checkpoint::open(files.front(), read);
  return make_error(errc::invalid_argument, model_path + ": holds " + std::to_string(indexes.size()) + " shard indexes and " +
                                                std::to_string(files.size()) +
                                                " .safetensors files: open_verified needs one index or one file");
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
