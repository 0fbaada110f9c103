// Model signatures in the OpenSSF model-signing format: the real tool's
// bundles (v1.0.1 and v1.1.0, key and certificate) verify, and every kind of
// tampering fails with its own code; bundles we sign verify here and under an
// independent verifier (tests/interop/verify_bundle.py, Python's
// cryptography); hostile bundles and statements are refused with a message.
// The keyless (Sigstore) signer checks one by one: test_keyless.cpp.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "process_support.hpp"
#include "safeweights/integrity.hpp"
#include "safeweights/safeweights.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace fs = std::filesystem;
using sw::errc;
using test_support::scratch_dir;
using test_support::write_text;

namespace {

const fs::path upstream = test_support::data_dir() / "openssf-model-signing";

std::string text_of(const fs::path& p) { return test_support::read_text(p); }

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

sw::model_trust key_trust(const std::string& pem_path) {
  sw::model_trust t;
  t.key = sw::public_key::load(pem_path).value();
  return t;
}

sw::model_trust ca_trust(const std::string& pem_path) {
  sw::model_trust t;
  t.certificate_authorities = sw::x509_certificate::load_pem_file(pem_path).value();
  return t;
}

sw::model_trust keyless_trust(const std::string& identity, const std::string& issuer) {
  sw::model_trust t;
  t.sigstore_root = sw::load_trust_root((upstream / "trust_config.json").string()).value();
  t.identity = {identity, issuer};
  return t;
}

// A copy of an upstream model directory to tamper with.
fs::path copy_model(const scratch_dir& dir, const std::string& name) {
  fs::path to = dir / name;
  fs::copy(upstream / name, to, fs::copy_options::recursive);
  return to;
}

sw::model_verify_options ignoring(std::vector<std::string> paths) {
  sw::model_verify_options o;
  o.ignore_paths = std::move(paths);
  return o;
}

// A model directory: two shards, an index, a config and a nested file.
fs::path make_model(const scratch_dir& dir, const std::string& name = "model") {
  fs::path m = dir / name;
  fs::create_directories(m / "tokenizer");
  for (int s = 1; s <= 2; ++s) {
    sw::writer w;
    static std::vector<float> values(1000);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f + static_cast<float>(s);
    REQUIRE(w.add<float>("layer" + std::to_string(s) + ".weight", {10, 100}, values).has_value());
    REQUIRE(w.write_file((m / ("model-0000" + std::to_string(s) + "-of-00002.safetensors")).string()).has_value());
  }
  write_text(m / "model.safetensors.index.json",
             R"({"metadata": {"total_size": 8000}, "weight_map": {"layer1.weight": "model-00001-of-00002.safetensors", )"
             R"("layer2.weight": "model-00002-of-00002.safetensors"}})");
  write_text(m / "config.json", R"({"hidden_size": 100})");
  write_text(m / "tokenizer" / "vocab.txt", "a\nb\nc\n");
  return m;
}

void flip_byte(const fs::path& p, std::size_t at = 0) {
  auto bytes = test_support::read_bytes(p);
  REQUIRE(at < bytes.size());
  bytes[at] ^= std::byte{1};
  test_support::write_bytes(p, bytes);
}

// Runs openssl; the test fails when it does.
void openssl(const std::vector<std::string>& args) {
  auto r = test_support::run_program("openssl", args);
  REQUIRE_MESSAGE(r.status == 0, r.err);
}

// A root CA, an intermediate CA and a leaf for code signing, made by the openssl tool.
struct test_pki {
  scratch_dir dir;
  std::string root_key = (dir / "root.key").string(), root = (dir / "root.pem").string();
  std::string mid_key = (dir / "mid.key").string(), mid = (dir / "mid.pem").string();
  std::string leaf_key = (dir / "leaf.key").string(), leaf = (dir / "leaf.pem").string();
  test_pki(bool leaf_can_sign = true) {
    const std::string ext = (dir / "ext.cnf").string();
    write_text(ext, std::string("[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n") +
                        "[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical," +
                        (leaf_can_sign ? "digitalSignature" : "keyEncipherment") + "\n" +
                        (leaf_can_sign ? "extendedKeyUsage=codeSigning\n" : ""));
    for (const auto& k : {root_key, mid_key, leaf_key})
      openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", k});
    openssl({"req", "-x509", "-new", "-key", root_key, "-subj", "/CN=test-root", "-days", "3650", "-out", root,
             "-extensions", "ca", "-config", ext});
    const std::string mid_csr = (dir / "mid.csr").string(), leaf_csr = (dir / "leaf.csr").string();
    openssl({"req", "-new", "-key", mid_key, "-subj", "/CN=test-intermediate", "-out", mid_csr, "-config", ext});
    openssl({"x509", "-req", "-in", mid_csr, "-CA", root, "-CAkey", root_key, "-CAcreateserial", "-days", "3650",
             "-extfile", ext, "-extensions", "ca", "-out", mid});
    openssl({"req", "-new", "-key", leaf_key, "-subj", "/CN=test-signer", "-out", leaf_csr, "-config", ext});
    openssl({"x509", "-req", "-in", leaf_csr, "-CA", mid, "-CAkey", mid_key, "-CAcreateserial", "-days", "3650",
             "-extfile", ext, "-extensions", "leaf", "-out", leaf});
  }
};

sw::model_signer key_signer(sw::key_algorithm a) { return sw::model_signer{sw::private_key::generate(a).value(), {}}; }

sw::model_trust trust_of(const sw::model_signer& s) {
  sw::model_trust t;
  t.key = s.key.public_half();
  return t;
}

// Signs, writes, verifies: the report.
sw::model_verification sign_and_verify(const fs::path& model, const fs::path& sig, const sw::model_signer& signer,
                                       const sw::model_trust& trust, const sw::model_sign_options& options = {}) {
  auto o = options;
  o.signature_path = sig.string();
  auto b = sw::sign_model(model.string(), signer, o);
  REQUIRE_MESSAGE(b.has_value(), b.error_value().message);
  REQUIRE(sw::write_model_signature(sig.string(), *b).has_value());
  auto r = sw::verify_model(model.string(), sig.string(), trust);
  REQUIRE_MESSAGE(r.has_value(), r.error_value().message);
  return *r;
}

// The payload of a bundle replaced (re-encoded), the rest kept.
std::string with_payload(const std::string& bundle_json, const std::string& payload) {
  auto b = sw::parse_sigstore_bundle(bundle_json, "t").value();
  const std::string old_b64 = sw::base64_encode(b.payload);
  std::string out = bundle_json;
  auto at = out.find(old_b64);
  REQUIRE(at != std::string::npos);
  out.replace(at, old_b64.size(), sw::base64_encode(payload));
  return out;
}

std::string replace_once(std::string text, std::string_view from, std::string_view to) {
  auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  text.replace(at, from.size(), to);
  return text;
}

}  // namespace

TEST_CASE("the real model_signing tool's key, certificate and keyless bundles verify, v1.0.1 and v1.1.0") {
  for (std::string version : {"v1.0.1", "v1.1.0"}) {
    CAPTURE(version);
    const fs::path key_model = upstream / (version + "-elliptic-key");
    auto k = sw::verify_model(key_model.string(), (key_model / "model.sig").string(),
                              key_trust((upstream / "keys/signing-key-pub.pem").string()), ignoring({"ignore-me"}));
    REQUIRE_MESSAGE(k.has_value(), k.error_value().message);
    CHECK(k->ok());
    CHECK(k->resources == 2);
    CHECK(k->signer == "key ecdsa-p384 e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e");

    const fs::path keyless_model = upstream / (version + "-sigstore");
    auto s = sw::verify_model(keyless_model.string(), (keyless_model / "model.sig").string(),
                              keyless_trust("stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2"),
                              ignoring({"ignore-me"}));
    REQUIRE_MESSAGE(s.has_value(), s.error_value().message);
    CHECK(s->ok());
    CHECK(s->signer == "identity stefanb@us.ibm.com (issuer https://sigstore.verify.ibm.com/oauth2)");
    CHECK(std::any_of(s->notes.begin(), s->notes.end(), [](const std::string& n) { return has(n, "not checked"); }));

    const fs::path cert_model = upstream / (version + "-certificate");
    auto c = sw::verify_model(cert_model.string(), (cert_model / "model.sig").string(),
                              ca_trust((upstream / "keys/ca-cert.pem").string()), ignoring({"ignore-me"}));
    REQUIRE_MESSAGE(c.has_value(), c.error_value().message);
    CHECK(c->ok());
    CHECK(c->signer == "certificate /CN=intermediate-ca");
  }
  // v1.1.0 records its ignore paths in the signature: nothing needs to be said.
  const fs::path v11 = upstream / "v1.1.0-elliptic-key";
  auto recorded = sw::verify_model(v11.string(), (v11 / "model.sig").string(),
                                   key_trust((upstream / "keys/signing-key-pub.pem").string()));
  REQUIRE(recorded.has_value());
  CHECK(recorded->ok());
  // v1.0.1 does not: ignore-me is then a file the signature does not cover.
  const fs::path v10 = upstream / "v1.0.1-elliptic-key";
  auto unrecorded = sw::verify_model(v10.string(), (v10 / "model.sig").string(),
                                     key_trust((upstream / "keys/signing-key-pub.pem").string()));
  REQUIRE(unrecorded.has_value());
  CHECK(unrecorded->extra == std::vector<std::string>{"ignore-me"});
}

TEST_CASE("tampering with a model the real tool signed: each change is named, each wrong signer refused") {
  for (std::string version : {"v1.0.1", "v1.1.0"}) {
    for (std::string kind : {"elliptic-key", "certificate", "sigstore"}) {
      const std::string name = version + "-" + kind;
      CAPTURE(name);
      const auto trust = kind == "elliptic-key" ? key_trust((upstream / "keys/signing-key-pub.pem").string())
                         : kind == "certificate" ? ca_trust((upstream / "keys/ca-cert.pem").string())
                                                 : keyless_trust("stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2");
      scratch_dir dir;
      auto verify = [&](const fs::path& model, const sw::model_trust& t) {
        return sw::verify_model(model.string(), (model / "model.sig").string(), t, ignoring({"ignore-me"}));
      };
      {
        auto m = copy_model(dir, name);
        flip_byte(m / "signme-1", 3);
        auto r = verify(m, trust);
        REQUIRE(r.has_value());
        CHECK(r->changed == std::vector<std::string>{"signme-1"});
        CHECK(r->missing.empty());
        CHECK(r->extra.empty());
      }
      {
        fs::path m = dir / "extra";
        fs::copy(upstream / name, m, fs::copy_options::recursive);
        write_text(m / "added.bin", "not signed");
        auto r = verify(m, trust);
        REQUIRE(r.has_value());
        CHECK(r->extra == std::vector<std::string>{"added.bin"});
        CHECK_FALSE(r->ok());
      }
      {
        fs::path m = dir / "removed";
        fs::copy(upstream / name, m, fs::copy_options::recursive);
        fs::remove(m / "signme-2");
        auto r = verify(m, trust);
        REQUIRE(r.has_value());
        CHECK(r->missing == std::vector<std::string>{"signme-2"});
        // The ignored file changes freely.
        write_text(m / "ignore-me", "anything");
        CHECK(verify(m, trust)->missing.size() == 1);
      }
      // The wrong signer.
      const fs::path original = upstream / name;
      if (kind == "elliptic-key") {
        sw::model_trust other;
        other.key = sw::private_key::generate(sw::key_algorithm::ecdsa_p384).value().public_half();
        auto r = verify(original, other);
        CHECK(r.code() == errc::wrong_key);
        CHECK(has(r.error_value().message, "not with the given key"));
        // A key trust for a certificate bundle, and the other way round.
        CHECK(verify(upstream / (version + "-certificate"), trust).code() == errc::wrong_key);
      } else if (kind == "sigstore") {
        for (const auto& [identity, issuer] :
             {std::pair<std::string, std::string>{"someone@example.com", "https://sigstore.verify.ibm.com/oauth2"},
              {"stefanb@us.ibm.com", "https://accounts.google.com"}}) {
          auto r = verify(original, keyless_trust(identity, issuer));
          CHECK(r.code() == errc::untrusted_signer);
        }
        CHECK(verify(upstream / (version + "-elliptic-key"), trust).code() == errc::wrong_key);
      } else {
        test_pki other;
        auto r = verify(original, ca_trust(other.root));
        CHECK(r.code() == errc::untrusted_signer);
        CHECK(has(r.error_value().message, "does not chain to a trusted CA"));
        // The intermediate alone is not a trust anchor.
        CHECK(verify(original, ca_trust((upstream / "keys/int-ca-cert.pem").string())).code() == errc::untrusted_signer);
        CHECK(verify(upstream / (version + "-elliptic-key"), trust).code() == errc::wrong_key);
      }
    }
  }
}

TEST_CASE("an altered statement or signature is signature_mismatch; the signer is checked before the statement") {
  scratch_dir dir;
  const fs::path model = upstream / "v1.1.0-elliptic-key";
  const std::string bundle = text_of(model / "model.sig");
  const auto trust = key_trust((upstream / "keys/signing-key-pub.pem").string());
  auto b = sw::parse_sigstore_bundle(bundle, "t").value();
  // A statement claiming another digest for signme-1 (consistent in itself).
  auto manifest = sw::parse_in_toto_statement(b.payload, "t").value();
  manifest.resources[0].digest[0] ^= 1;
  const fs::path sig = dir / "forged.sig";
  write_text(sig, with_payload(bundle, sw::in_toto_statement(manifest)));
  auto r = sw::verify_model(model.string(), sig.string(), trust, ignoring({"ignore-me"}));
  CHECK(r.code() == errc::signature_mismatch);
  CHECK(has(r.error_value().message, "does not verify"));
  // One bit of the signature.
  std::string sig_b64 = sw::base64_encode(b.signature);
  std::string other = sig_b64;
  other[10] = other[10] == 'A' ? 'B' : 'A';
  write_text(sig, replace_once(bundle, sig_b64, other));
  CHECK(sw::verify_model(model.string(), sig.string(), trust, ignoring({"ignore-me"})).code() == errc::signature_mismatch);
}

TEST_CASE("bundles we sign verify: ECDSA P-256, P-384 and Ed25519 keys, files and shards, ignore paths") {
  scratch_dir dir;
  const fs::path model = make_model(dir);
  for (auto a : {sw::key_algorithm::ecdsa_p256, sw::key_algorithm::ecdsa_p384, sw::key_algorithm::ed25519}) {
    CAPTURE(sw::key_algorithm_name(a));
    auto signer = key_signer(a);
    // The signature inside the model is left out of its own manifest.
    auto r = sign_and_verify(model, model / "model.sig", signer, trust_of(signer));
    CHECK(r.ok());
    CHECK(r.resources == 5);
    CHECK(has(r.signer, std::string(sw::key_algorithm_name(a))));
    // Shards of 1000 bytes: every file in pieces, the last one short.
    sw::model_sign_options shards;
    shards.method = sw::serialization_method::shards;
    shards.shard_size = 1000;
    auto s = sign_and_verify(model, dir / "shards.sig", signer, trust_of(signer), shards);
    CHECK(s.ok());
    CHECK(s.resources > 10);
  }
  auto signer = key_signer(sw::key_algorithm::ecdsa_p256);
  sw::model_sign_options o;
  o.ignore_paths = {"tokenizer"};
  fs::remove(model / "model.sig");
  auto r = sign_and_verify(model, dir / "ignoring.sig", signer, trust_of(signer), o);
  CHECK(r.resources == 4);
  write_text(model / "tokenizer" / "vocab.txt", "changed");  // ignored, as recorded in the signature
  CHECK(sw::verify_model(model.string(), (dir / "ignoring.sig").string(), trust_of(signer))->ok());
  auto b = sw::read_model_signature((dir / "ignoring.sig").string()).value();
  auto m = sw::parse_in_toto_statement(b.payload, "t").value();
  CHECK(std::find(m.serialization.ignore_paths.begin(), m.serialization.ignore_paths.end(), "tokenizer") !=
        m.serialization.ignore_paths.end());
  // A single file is a model too (its resource is ".", as model_signing names it).
  auto one = sign_and_verify(model / "config.json", dir / "one.sig", signer, trust_of(signer));
  CHECK(one.ok());
  CHECK(one.resources == 1);
  // Tampering with a shard of a file names the file.
  const fs::path shard_sig = dir / "shards.sig";
  sw::model_sign_options shards;
  shards.method = sw::serialization_method::shards;
  shards.shard_size = 1000;
  sign_and_verify(model, shard_sig, signer, trust_of(signer), shards);
  flip_byte(model / "model-00002-of-00002.safetensors", 2500);
  auto bad = sw::verify_model(model.string(), shard_sig.string(), trust_of(signer));
  REQUIRE(bad.has_value());
  CHECK(bad->changed == std::vector<std::string>{"model-00002-of-00002.safetensors"});
}

TEST_CASE("signing with a certificate chain: verifies against the root CA; usage and key are checked") {
  scratch_dir dir;
  const fs::path model = make_model(dir);
  test_pki pki;
  sw::model_signer signer{sw::private_key::load(pki.leaf_key).value(), {}};
  signer.certificate_chain = sw::x509_certificate::load_pem_file(pki.leaf).value();
  auto mid = sw::x509_certificate::load_pem_file(pki.mid).value();
  signer.certificate_chain.insert(signer.certificate_chain.end(), mid.begin(), mid.end());
  auto r = sign_and_verify(model, dir / "cert.sig", signer, ca_trust(pki.root));
  CHECK(r.ok());
  CHECK(r.signer == "certificate /CN=test-signer");
  // Without the intermediate in the bundle, the chain does not reach the root.
  sw::model_signer leaf_only{signer.key, {signer.certificate_chain.front()}};
  sw::model_sign_options o;
  o.signature_path = (dir / "leaf-only.sig").string();
  REQUIRE(sw::write_model_signature(o.signature_path, sw::sign_model(model.string(), leaf_only, o).value()).has_value());
  CHECK(sw::verify_model(model.string(), o.signature_path, ca_trust(pki.root)).code() == errc::untrusted_signer);
  // A certificate for another key than the one signing.
  sw::model_signer mismatched{sw::private_key::generate(sw::key_algorithm::ecdsa_p256).value(), signer.certificate_chain};
  CHECK(sw::sign_model(model.string(), mismatched, o).code() == errc::wrong_key);
  // A leaf that may not sign.
  test_pki no_sign(false);
  sw::model_signer cannot{sw::private_key::load(no_sign.leaf_key).value(),
                          sw::x509_certificate::load_pem_file(no_sign.leaf).value()};
  auto no_mid = sw::x509_certificate::load_pem_file(no_sign.mid).value();
  cannot.certificate_chain.insert(cannot.certificate_chain.end(), no_mid.begin(), no_mid.end());
  o.signature_path = (dir / "cannot.sig").string();
  REQUIRE(sw::write_model_signature(o.signature_path, sw::sign_model(model.string(), cannot, o).value()).has_value());
  auto refused = sw::verify_model(model.string(), o.signature_path, ca_trust(no_sign.root));
  CHECK(refused.code() == errc::untrusted_signer);
  CHECK(has(refused.error_value().message, "may not sign"));
}

TEST_CASE("an independent verifier (Python's cryptography) accepts the bundles we sign") {
  scratch_dir dir;
  const fs::path model = make_model(dir);
  test_pki pki;
  const std::string script = (fs::path(SAFEWEIGHTS_SOURCE_ROOT) / "tests/interop/verify_bundle.py").string();
  struct signed_case {
    std::string name;
    sw::model_signer signer;
    sw::serialization_method method;
    std::vector<std::string> verifier_args;
  };
  std::vector<signed_case> cases;
  for (auto a : {sw::key_algorithm::ecdsa_p256, sw::key_algorithm::ecdsa_p384, sw::key_algorithm::ed25519}) {
    auto s = key_signer(a);
    const std::string pub = (dir / (std::string(sw::key_algorithm_name(a)) + ".pub")).string();
    write_text(pub, s.key.public_half().pem());
    cases.push_back({std::string(sw::key_algorithm_name(a)), s, sw::serialization_method::files, {"--public-key", pub}});
    cases.push_back({std::string(sw::key_algorithm_name(a)) + "-shards", s, sw::serialization_method::shards, {"--public-key", pub}});
  }
  sw::model_signer by_cert{sw::private_key::load(pki.leaf_key).value(), sw::x509_certificate::load_pem_file(pki.leaf).value()};
  cases.push_back({"certificate", by_cert, sw::serialization_method::files, {"--certificate"}});
  for (auto& c : cases) {
    CAPTURE(c.name);
    sw::model_sign_options o;
    o.method = c.method;
    o.shard_size = 3000;
    o.signature_path = (dir / (c.name + ".sig")).string();
    REQUIRE(sw::write_model_signature(o.signature_path, sw::sign_model(model.string(), c.signer, o).value()).has_value());
    std::vector<std::string> args = {script, o.signature_path, model.string()};
    args.insert(args.end(), c.verifier_args.begin(), c.verifier_args.end());
    auto r = test_support::run_program("/usr/bin/python3", args);
    INFO(r.out);
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(has(r.out, "verified"));
    // And it would notice a change.
    flip_byte(model / "config.json", 1);
    CHECK(test_support::run_program("/usr/bin/python3", args).status == 1);
    flip_byte(model / "config.json", 1);
  }
}

TEST_CASE("hostile bundles and statements are refused with a message naming what is wrong") {
  const std::string good = text_of(upstream / "v1.1.0-elliptic-key/model.sig");
  auto refused = [](const std::string& json, std::string_view why) {
    auto b = sw::parse_sigstore_bundle(json, "bad.sig");
    CHECK(b.code() == errc::invalid_signature);
    if (!b) {
      CHECK_MESSAGE(has(b.error_value().message, why), b.error_value().message);
      CHECK(b.error_value().message.starts_with("bad.sig: "));
    }
  };
  refused(replace_once(good, "bundle.v0.3+json", "bundle.v9+json"), "is not a Sigstore bundle v0.3");
  refused(replace_once(good, "application/vnd.in-toto+json", "text/plain"), "not an in-toto statement");
  refused(replace_once(good, "\"sig\":\"MGUC", "\"sig\":\"M!UC"), "is not base64");
  refused(replace_once(good, "\"payload\":\"ewog", "\"payload\":\"ewo"), "is not base64");
  refused(replace_once(good, "{\"mediaType\"", "{\"mediaType\": \"x\", \"mediaType\""), "repeats the key");
  refused(good.substr(0, good.size() / 2), "is not JSON");
  refused("[]", "not a JSON object");
  refused(replace_once(good, "\"publicKey\":{", "\"certificate\": {\"rawBytes\": \"\"}, \"publicKey\":{"), "exactly one of");
  refused(replace_once(good, "\"signatures\":[", "\"signatures\":[{\"sig\": \"AAAA\"}, "), "has 2 signatures");
  refused(replace_once(good, "\"dsseEnvelope\"", "\"messageSignature\": {}, \"dsseEnvelope\""), "not a DSSE envelope");
  // Over the size limit: refused from its size alone (a sparse file; nothing is read).
  scratch_dir dir;
  const fs::path huge = dir / "huge.sig";
  { std::ofstream(huge.string()) << "{"; }
  REQUIRE(::truncate(huge.c_str(), static_cast<off_t>(sw::max_bundle_bytes) + 1) == 0);
  auto big = sw::read_model_signature(huge.string());
  CHECK(big.code() == errc::invalid_signature);

  // Statements: each refused before any file is hashed.
  auto b = sw::parse_sigstore_bundle(good, "t").value();
  const std::string statement = b.payload;
  auto bad_statement = [&](const std::string& json, std::string_view why) {
    auto m = sw::parse_in_toto_statement(json, "s.sig");
    CHECK(m.code() == errc::invalid_signature);
    if (!m) CHECK_MESSAGE(has(m.error_value().message, why), m.error_value().message);
  };
  auto with_names = [&](const std::string& a, const std::string& c) {
    auto m = sw::parse_in_toto_statement(statement, "t").value();
    m.resources[0].path = a;
    m.resources[1].path = c;
    return sw::in_toto_statement(m);  // the subject digest is recomputed: only the names are wrong
  };
  bad_statement(with_names("../etc/passwd", "signme-2"), "not a relative path inside the model");
  bad_statement(with_names("/etc/passwd", "signme-2"), "not a relative path inside the model");
  bad_statement(with_names("a//b", "signme-2"), "not a relative path inside the model");
  bad_statement(with_names("a/./b", "signme-2"), "not a relative path inside the model");
  bad_statement(with_names("same", "same"), "listed twice");
  bad_statement(replace_once(statement, "\"subject\": [", "\"subject\": [{\"name\": \"x\", \"digest\": {\"sha256\": \"00\"}}, "),
                "2 subjects");
  bad_statement(replace_once(statement, "https://model_signing/signature/v1.0", "https://model_signing/Digests/v0.1"),
                "predicate type");
  bad_statement(replace_once(statement, "https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"), "`_type`");
  bad_statement(replace_once(statement, "\"sha256\": \"9274", "\"sha256\": \"8274"), "inconsistent");
  bad_statement(replace_once(statement, "\"method\": \"files\"", "\"method\": \"tensors\""), "not files or shards");
  bad_statement(replace_once(statement, "\"hash_type\": \"sha256\"", "\"hash_type\": \"blake2\""), "not sha256");
  bad_statement(replace_once(statement, "\"_type\"", "\"_type\": \"x\", \"_type\""), "repeats the key");
  // Shards: the name must be PATH:START:END with START < END.
  auto shard_statement = [&](const std::string& name) {
    sw::model_manifest m;
    m.model_name = "m";
    m.serialization.method = sw::serialization_method::shards;
    m.resources.push_back({"f", 0, 10, {}});
    std::string json = sw::in_toto_statement(m);
    return replace_once(json, "\"f:0:10\"", "\"" + name + "\"");
  };
  CHECK(sw::parse_in_toto_statement(shard_statement("f:0:10"), "t").has_value());
  bad_statement(shard_statement("f:10:10"), "PATH:START:END");
  bad_statement(shard_statement("f:1"), "PATH:START:END");
  bad_statement(shard_statement("f:01:10"), "PATH:START:END");
  bad_statement(shard_statement("../f:0:10"), "not a relative path");
}

TEST_CASE("hashing: every core gives what one core gives; shards cut at shard_size; links and devices refused") {
  scratch_dir dir;
  const fs::path model = make_model(dir);
  write_text(model / "empty", "");
  sw::model_serialization files;
  auto one = sw::hash_model(model.string(), files, {}, 1).value();
  auto all = sw::hash_model(model.string(), files, {}, 0).value();
  REQUIRE(one.resources.size() == all.resources.size());
  for (std::size_t i = 0; i < one.resources.size(); ++i) {
    CHECK(one.resources[i].path == all.resources[i].path);
    CHECK(one.resources[i].digest == all.resources[i].digest);
  }
  // Sorted by component, as model_signing sorts: "tokenizer/vocab.txt" after "model-...".
  CHECK(one.resources.back().path == "tokenizer/vocab.txt");
  // An empty file is a resource of "files" (the digest of nothing) but has no shard.
  CHECK(std::any_of(one.resources.begin(), one.resources.end(), [](auto& r) { return r.path == "empty"; }));
  sw::model_serialization shards;
  shards.method = sw::serialization_method::shards;
  shards.shard_size = 4000;
  auto pieces = sw::hash_model(model.string(), shards).value();
  CHECK(std::none_of(pieces.resources.begin(), pieces.resources.end(), [](auto& r) { return r.path == "empty"; }));
  const auto size = fs::file_size(model / "model-00001-of-00002.safetensors");
  std::vector<std::pair<std::uint64_t, std::uint64_t>> cuts;
  for (auto& r : pieces.resources)
    if (r.path == "model-00001-of-00002.safetensors") cuts.emplace_back(r.start, r.end);
  REQUIRE(cuts.size() == (size + 3999) / 4000);
  CHECK(cuts.front() == std::pair<std::uint64_t, std::uint64_t>{0, 4000});
  CHECK(cuts.back().second == size);
  // A symbolic link is refused unless allowed, then followed.
  fs::create_symlink(model / "config.json", model / "link.json");
  auto refused = sw::hash_model(model.string(), files);
  CHECK(refused.code() == errc::invalid_argument);
  CHECK(has(refused.error_value().message, "symbolic link"));
  files.allow_symlinks = true;
  CHECK(sw::hash_model(model.string(), files).has_value());
  fs::remove(model / "link.json");
  files.allow_symlinks = false;
  REQUIRE(::mkfifo((model / "fifo").c_str(), 0600) == 0);
  auto fifo = sw::hash_model(model.string(), files);
  CHECK(fifo.code() == errc::invalid_argument);
  CHECK(has(fifo.error_value().message, "not a regular file"));
  fs::remove(model / "fifo");
  CHECK(sw::hash_model((dir / "nope").string(), files).code() == errc::io_error);
}

TEST_CASE("open_verified: a sharded model opens only after every file verified") {
  scratch_dir dir;
  const fs::path model = make_model(dir);
  auto signer = key_signer(sw::key_algorithm::ecdsa_p256);
  const fs::path sig = dir / "model.sig";
  sign_and_verify(model, sig, signer, trust_of(signer));
  auto opened = sw::open_verified(model.string(), sig.string(), trust_of(signer));
  REQUIRE_MESSAGE(opened.has_value(), opened.error_value().message);
  CHECK(opened->tensors().size() == 2);
  CHECK(opened->find("layer2.weight") != nullptr);
  // A changed shard: refused, naming it, and nothing was opened.
  flip_byte(model / "model-00002-of-00002.safetensors", 200);
  auto refused = sw::open_verified(model.string(), sig.string(), trust_of(signer));
  CHECK(refused.code() == errc::digest_mismatch);
  CHECK(has(refused.error_value().message, "changed: `model-00002-of-00002.safetensors`"));
  // The wrong key: refused before any file is read.
  sw::model_trust other = trust_of(key_signer(sw::key_algorithm::ecdsa_p256));
  CHECK(sw::open_verified(model.string(), sig.string(), other).code() == errc::wrong_key);
}

TEST_CASE("keys: not PEM, a curve we do not support, or the wrong half are invalid_key") {
  scratch_dir dir;
  const std::string junk = (dir / "junk.pem").string();
  write_text(junk, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  CHECK(sw::public_key::load(junk).code() == errc::invalid_key);
  CHECK(sw::public_key::load((dir / "missing.pem").string()).code() == errc::invalid_key);
  CHECK(sw::public_key::load((upstream / "keys/signing-key.pem").string()).code() == errc::invalid_key);
  CHECK(sw::private_key::load((upstream / "keys/signing-key-pub.pem").string()).code() == errc::invalid_key);
  const std::string k1 = (dir / "secp256k1.pem").string();
  openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-out", k1});
  auto unsupported = sw::private_key::load(k1);
  CHECK(unsupported.code() == errc::invalid_key);
  CHECK(has(unsupported.error_value().message, "secp256k1"));
  const std::string rsa = (dir / "rsa.pem").string();
  openssl({"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", rsa});
  CHECK(sw::private_key::load(rsa).code() == errc::invalid_key);
  // Keys made by the openssl tool sign, and their public halves (PEM or DER) verify.
  const std::string p384 = (dir / "p384.pem").string(), p384_der = (dir / "p384.der").string();
  openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", p384});
  openssl({"pkey", "-in", p384, "-pubout", "-outform", "DER", "-out", p384_der});
  auto key = sw::private_key::load(p384).value();
  auto sig = key.sign("message").value();
  CHECK(sw::public_key::load(p384_der).value().verify("message", sig));
  CHECK_FALSE(sw::public_key::load(p384_der).value().verify("messagf", sig));
}

TEST_CASE("base64 is strict: one spelling per value") {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) CHECK(sw::base64_decode(sw::base64_encode(s)) == s);
  CHECK(sw::base64_encode("foobar") == "Zm9vYmFy");
  CHECK(sw::base64_encode("fo") == "Zm8=");
  CHECK_FALSE(sw::base64_decode("Zm8"));     // missing padding
  CHECK_FALSE(sw::base64_decode("Zm9="));    // unused bits set
  CHECK_FALSE(sw::base64_decode("Zm8=="));   // too much
  CHECK_FALSE(sw::base64_decode("Zm 8="));   // whitespace
  CHECK_FALSE(sw::base64_decode("Zg=a"));    // padding in the middle
  CHECK_FALSE(sw::base64_decode("Zh=="));    // unused bits set
  CHECK_FALSE(sw::base64_decode("Zm8-"));    // URL alphabet
}

TEST_CASE("a list of files: sign just those, or verify just those of a model signed whole") {
  scratch_dir dir;
  const fs::path model = make_model(dir);
  auto signer = key_signer(sw::key_algorithm::ecdsa_p256);
  sw::model_sign_options some;
  some.only_files = {"config.json", "tokenizer/vocab.txt"};
  some.signature_path = (dir / "some.sig").string();
  auto b = sw::sign_model(model.string(), signer, some);
  REQUIRE_MESSAGE(b.has_value(), b.error_value().message);
  REQUIRE(sw::write_model_signature(some.signature_path, *b).has_value());
  auto listed = sw::parse_in_toto_statement(b->payload, "t").value();
  REQUIRE(listed.resources.size() == 2);
  CHECK(listed.resources[0].path == "config.json");
  sw::model_verify_options just;
  just.only_files = some.only_files;
  auto r = sw::verify_model(model.string(), some.signature_path, trust_of(signer), just);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  // Verified whole, the model has files the signature does not list.
  CHECK(sw::verify_model(model.string(), some.signature_path, trust_of(signer))->extra.size() == 3);
  some.only_files = {"nope.bin"};
  CHECK(sw::sign_model(model.string(), signer, some).code() == errc::io_error);
  some.only_files = {"../x"};
  CHECK(sw::sign_model(model.string(), signer, some).code() == errc::invalid_argument);

  // Signed whole, checked in part: only the asked files are hashed and reported.
  const fs::path whole = dir / "whole.sig";
  sign_and_verify(model, whole, signer, trust_of(signer));
  flip_byte(model / "config.json", 1);
  just.only_files = {"model-00001-of-00002.safetensors", "model.safetensors.index.json"};
  auto part = sw::verify_model(model.string(), whole.string(), trust_of(signer), just);
  REQUIRE(part.has_value());
  CHECK(part->ok());
  CHECK(part->resources == 2);
  just.only_files = {"config.json", "gone.bin"};
  write_text(model / "unsigned.txt", "x");
  part = sw::verify_model(model.string(), whole.string(), trust_of(signer), just);
  REQUIRE(part.has_value());
  CHECK(part->changed == std::vector<std::string>{"config.json"});
  CHECK(part->missing == std::vector<std::string>{"gone.bin"});
  CHECK(part->extra.empty());
  just.only_files = {"unsigned.txt"};
  CHECK(sw::verify_model(model.string(), whole.string(), trust_of(signer), just)->extra ==
        std::vector<std::string>{"unsigned.txt"});
}
