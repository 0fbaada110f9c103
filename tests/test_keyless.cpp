// Keyless Sigstore verification (integrity/keyless.hpp and the pieces under
// it): Merkle inclusion proofs against hand-built trees, RFC 3339 times,
// checkpoints, trust roots, and the two real keyless bundles of the OpenSSF
// model-signing tool, which verify, and fail with untrusted_signer for every
// alteration of identity, issuer, log entry, proof, checkpoint, body, SCT or
// trust root.
#include <fstream>
#include <sstream>

#include "errc_printer.hpp"
#include "safeweights/integrity/keyless.hpp"
#include "safeweights/integrity/merkle_proof.hpp"
#include "safeweights/integrity/rfc3339_time.hpp"
#include "safeweights/integrity/signed_checkpoint.hpp"
#include "safeweights/integrity/transparency_log.hpp"
#include "safeweights/integrity/trust_root.hpp"

namespace sw = safeweights;
using sw::errc;

namespace {

const std::string data = std::string(SAFEWEIGHTS_TEST_DATA) + "/openssf-model-signing/";
const sw::keyless_identity stefan{"stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2"};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

sw::sigstore_bundle bundle(const std::string& version) {
  const std::string path = data + version + "-sigstore/model.sig";
  return sw::parse_sigstore_bundle(slurp(path), path).value();
}

const sw::trust_root& public_good() {
  static const sw::trust_root root = sw::load_trust_root(data + "trust_config.json").value();
  return root;
}

// The error of verifying `b` against `root`; CHECKs that it is untrusted_signer and mentions `phrase`.
void check_untrusted(const sw::sigstore_bundle& b, const sw::trust_root& root, const sw::keyless_identity& who,
                     const std::string& phrase) {
  std::vector<std::string> notes;
  auto r = sw::verify_keyless(b, root, who, notes, "model.sig");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.code() == errc::untrusted_signer);
  INFO(r.error_value().message);
  CHECK(r.error_value().message.find(phrase) != std::string::npos);
  CHECK(r.error_value().message.rfind("model.sig: ", 0) == 0);
}

// RFC 6962 §2.1: the Merkle tree hash of leaves [begin, end), by its recursive definition.
std::string tree_hash(const std::vector<std::string>& leaves, std::size_t begin, std::size_t end) {
  if (end - begin == 1) return sw::merkle_leaf_hash(leaves[begin]);
  std::size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  return sw::merkle_node_hash(tree_hash(leaves, begin, begin + k), tree_hash(leaves, begin + k, end));
}

// RFC 6962 §2.1.1: the audit path of leaf m in leaves [begin, end), by its recursive definition.
std::vector<std::string> audit_path(const std::vector<std::string>& leaves, std::size_t m, std::size_t begin, std::size_t end) {
  if (end - begin == 1) return {};
  std::size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  std::vector<std::string> path;
  if (m < k) {
    path = audit_path(leaves, m, begin, begin + k);
    path.push_back(tree_hash(leaves, begin + k, end));
  } else {
    path = audit_path(leaves, m - k, begin + k, end);
    path.push_back(tree_hash(leaves, begin, begin + k));
  }
  return path;
}

}  // namespace

TEST_CASE("merkle: every leaf of every tree of 1 to 8 leaves is proven, and no altered proof is") {
  for (std::size_t n = 1; n <= 8; ++n) {
    std::vector<std::string> leaves;
    for (std::size_t i = 0; i < n; ++i) leaves.push_back("leaf " + std::to_string(i));
    const std::string root = tree_hash(leaves, 0, n);
    for (std::size_t i = 0; i < n; ++i) {
      CAPTURE(n);
      CAPTURE(i);
      const std::string leaf = sw::merkle_leaf_hash(leaves[i]);
      const std::vector<std::string> path = audit_path(leaves, i, 0, n);
      CHECK(sw::verify_merkle_inclusion(i, n, leaf, path, root));
      CHECK(sw::merkle_root_from_path(i, n, leaf, path) == root);
      // Every hash of the path matters.
      for (std::size_t h = 0; h < path.size(); ++h) {
        auto altered = path;
        altered[h][0] = static_cast<char>(altered[h][0] ^ 1);
        CHECK_FALSE(sw::verify_merkle_inclusion(i, n, leaf, altered, root));
      }
      // Another leaf, another position, a path one hash short or long, an index past the end.
      CHECK_FALSE(sw::verify_merkle_inclusion(i, n, sw::merkle_leaf_hash("another"), path, root));
      if (n > 1) CHECK_FALSE(sw::verify_merkle_inclusion((i + 1) % n, n, leaf, path, root));
      if (!path.empty()) CHECK_FALSE(sw::verify_merkle_inclusion(i, n, leaf, {path.begin(), path.end() - 1}, root));
      auto longer = path;
      longer.push_back(root);
      CHECK_FALSE(sw::verify_merkle_inclusion(i, n, leaf, longer, root));
      CHECK(sw::merkle_root_from_path(i, n, leaf, longer).empty());
      CHECK_FALSE(sw::verify_merkle_inclusion(n, n, leaf, path, root));
      // A tree twice the size has one level more: the same path cannot reach a root there.
      CHECK(sw::merkle_root_from_path(i, 2 * n, leaf, path).empty());
      // The leaf's data itself, not its hash, is not a leaf hash (domain separation).
      CHECK(sw::merkle_leaf_hash(leaves[i]) != sw::merkle_node_hash("", leaves[i]));
    }
  }
  CHECK(sw::merkle_root_from_path(0, 0, std::string(32, 'x'), {}).empty());
  CHECK(sw::merkle_root_from_path(0, 1, std::string(31, 'x'), {}).empty());
}

TEST_CASE("rfc3339: the protobuf spelling of a UTC time, and nothing else") {
  auto t = sw::parse_rfc3339("2021-01-12T11:53:27.000Z");
  REQUIRE(t);
  CHECK(t->seconds == 1610452407);
  CHECK(t->nanos == 0);
  t = sw::parse_rfc3339("2022-12-31T23:59:59.999Z");
  REQUIRE(t);
  CHECK(t->seconds == 1672531199);
  CHECK(t->nanos == 999000000);
  CHECK(sw::parse_rfc3339("1970-01-01T00:00:00Z")->seconds == 0);
  CHECK(sw::parse_rfc3339("2024-02-29T00:00:00Z")->seconds == 1709164800);
  for (const char* bad : {"2023-02-29T00:00:00Z", "2021-01-12T11:53:27", "2021-01-12 11:53:27Z", "2021-01-12T11:53:27+00:00",
                          "2021-13-01T00:00:00Z", "2021-01-12T24:00:00Z", "2021-01-12T11:53:27.Z",
                          "2021-01-12T11:53:27.0000000000Z", "2021-1-12T11:53:27Z", ""})
    CHECK_FALSE(sw::parse_rfc3339(bad));
  sw::validity_period p{*sw::parse_rfc3339("2021-01-01T00:00:00.500Z"), sw::parse_rfc3339("2021-01-02T00:00:00.999Z")};
  CHECK_FALSE(p.covers(1609459200));  // half a second before the start
  CHECK(p.covers(1609459201));
  CHECK(p.covers(1609545600));
  CHECK_FALSE(p.covers(1609545601));
}

TEST_CASE("checkpoint: Rekor's signed note parses; malformed notes do not") {
  const sw::sigstore_bundle b = bundle("v1.1.0");
  const auto& proof = *b.tlog_entries.at(0).inclusion_proof;
  auto cp = sw::parse_checkpoint(proof.checkpoint, "cp");
  REQUIRE(cp);
  CHECK(cp->origin == "rekor.sigstore.dev - 1193050959916656506");
  CHECK(cp->tree_size == 476246825);
  CHECK(cp->root_hash == proof.root_hash);
  REQUIRE(cp->signatures.size() == 1);
  CHECK(cp->signatures[0].name == "rekor.sigstore.dev");
  CHECK(cp->signatures[0].key_hint == b.tlog_entries[0].log_id.substr(0, 4));
  CHECK(cp->text.back() == '\n');
  CHECK(sw::verify_checkpoint_signature(*cp, public_good().tlogs[0].key, public_good().tlogs[0].log_id, "cp"));
  std::string no_log_sig = proof.checkpoint;
  no_log_sig.replace(no_log_sig.find("wNI9"), 4, "AAAA");
  CHECK(sw::verify_checkpoint_signature(sw::parse_checkpoint(no_log_sig, "cp").value(), public_good().tlogs[0].key,
                                        public_good().tlogs[0].log_id, "cp")
            .code() == errc::untrusted_signer);
  const std::string good = proof.checkpoint;
  auto broken = [&](std::string from, std::string to) {
    std::string text = good;
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    return text;
  };
  for (const std::string& bad : {broken("\n\n", "\n"), broken("\n\n", "\n\n\n\n"), broken("476246825", "0476246825"),
                                 broken("476246825", "-1"), broken("V0NA", "V0N"),
                                 broken("V0NA1ekHc4sMtyOk9+rSfb50+v1kFb/0QXYbxrm43gk=", "AAAA"), broken("\xE2\x80\x94 ", "- "),
                                 broken("rekor.sigstore.dev wNI9", "rekor.sigstore.dev  wNI9"),
                                 broken("rekor.sigstore.dev wNI9", " wNI9"), broken("\n\xE2\x80\x94", "\n\xE2\x80\x94 \n\xE2\x80\x94"),
                                 good.substr(0, good.size() - 1), std::string("\n") + good.substr(good.find('\n') + 1),
                                 good.substr(0, good.find('\n') + 1) + good.substr(good.find("\n\n") + 1)}) {
    CAPTURE(bad);
    CHECK(sw::parse_checkpoint(bad, "cp").code() == errc::untrusted_signer);
  }
}

TEST_CASE("trust root: a client trust config and a bare trusted root load alike") {
  const sw::trust_root& config = public_good();
  const std::string bare_path = std::string(SAFEWEIGHTS_TEST_DATA) + "/keyless/trusted_root.json";
  auto bare = sw::load_trust_root(bare_path);
  REQUIRE(bare);
  for (const sw::trust_root* r : std::initializer_list<const sw::trust_root*>{&config, &*bare}) {
    REQUIRE(r->tlogs.size() == 1);
    CHECK(r->tlogs[0].base_url == "https://rekor.sigstore.dev");
    CHECK(r->tlogs[0].key_details == "PKIX_ECDSA_P256_SHA_256");
    // Rekor's log id is the SHA-256 of its key's DER.
    const auto id = sw::sha256(std::as_bytes(std::span(r->tlogs[0].key_der.data(), r->tlogs[0].key_der.size())));
    CHECK(r->tlogs[0].log_id == std::string(reinterpret_cast<const char*>(id.data()), id.size()));
    REQUIRE(r->certificate_authorities.size() == 2);
    CHECK(r->certificate_authorities[0].chain.size() == 1);
    CHECK(r->certificate_authorities[1].chain.size() == 2);
    CHECK(r->certificate_authorities[0].valid_for.end.has_value());
    CHECK_FALSE(r->certificate_authorities[1].valid_for.end.has_value());
    CHECK(r->ctlogs.size() == 2);
    CHECK(r->timestamp_authorities.size() == 1);
  }
}

TEST_CASE("trust root: an absent validity period is no limit, as sigstore-python reads it") {
  std::string text = slurp(std::string(SAFEWEIGHTS_TEST_DATA) + "/keyless/trusted_root.json");
  // The first period is the Rekor key's, a start alone.
  const auto at = text.find("\"validFor\"");
  REQUIRE(at != std::string::npos);
  text.replace(at, text.find('}', at) + 1 - at, "\"unused\": 0");
  auto root = sw::parse_trust_root(text, "root.json");
  REQUIRE(root);
  CHECK(root->tlogs[0].valid_for.covers(INT64_MIN + 1));
  CHECK(root->tlogs[0].valid_for.covers(0));
  CHECK(root->tlogs[0].valid_for.covers(INT64_MAX));
  CHECK_FALSE(public_good().tlogs[0].valid_for.covers(0));
}

TEST_CASE("trust root: truncated, garbage or altered roots are refused with invalid_signature") {
  const std::string text = slurp(data + "trust_config.json");
  auto refused = [](const std::string& json) {
    auto r = sw::parse_trust_root(json, "root.json");
    INFO(json.substr(0, 120));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.code() == errc::invalid_signature);
    CHECK(r.error_value().message.rfind("root.json: ", 0) == 0);
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    const auto at = t.find(from);
    REQUIRE(at != std::string::npos);
    return t.replace(at, from.size(), to);
  };
  refused(text.substr(0, text.size() / 2));
  refused("");
  refused("garbage");
  refused("[]");
  refused(std::string(sw::max_trust_root_bytes + 1, ' '));
  refused(replaced("clienttrustconfig.v0.1", "clienttrustconfig.v9"));
  refused(replaced("trustedroot+json;version=0.1", "trustedroot+json;version=0.2"));
  refused(replaced("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y="));  // not base64
  refused(replaced("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y", "AAAAEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y"));  // not a key
  refused(replaced("\"logId\"", "\"logId\": {\"keyId\": \"AA==\"}, \"logId\""));  // a repeated key
  refused(replaced("2021-01-12T11:53:27.000Z", "yesterday"));
  refused(replaced("\"wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=\"", "\"\""));  // an empty log id
  refused(replaced("\"tlogs\"", "\"tlogs\": 1, \"unused\""));
  CHECK(sw::load_trust_root(data + "missing.json").code() == errc::invalid_signature);
  // The bare form: its own media type, and something to trust.
  const std::string bare = slurp(std::string(SAFEWEIGHTS_TEST_DATA) + "/keyless/trusted_root.json");
  std::string other_version = bare;
  other_version.replace(other_version.find("version=0.1"), 11, "version=0.2");
  refused(other_version);
  refused("{\"mediaType\": \"application/vnd.dev.sigstore.trustedroot+json;version=0.1\", \"tlogs\": []}");
}

TEST_CASE("keyless: both real model-signing bundles verify, and what was not checked is said") {
  for (const char* version : {"v1.0.1", "v1.1.0"}) {
    CAPTURE(version);
    const sw::sigstore_bundle b = bundle(version);
    std::vector<std::string> notes;
    auto key = sw::verify_keyless(b, public_good(), stefan, notes, "model.sig");
    INFO((key ? std::string() : key.error_value().message));
    REQUIRE(key);
    CHECK(key->algorithm() == sw::key_algorithm::ecdsa_p256);
    // The key is the one that made the DSSE signature (pre-authentication encoding of DSSE v1).
    const std::string pae = "DSSEv1 " + std::to_string(b.payload_type.size()) + " " + b.payload_type + " " +
                            std::to_string(b.payload.size()) + " " + b.payload;
    CHECK(key->verify(pae, b.signature));
    bool envelope = false, tsa = false;
    for (const std::string& n : notes) {
      CHECK(n.rfind("not checked: ", 0) == 0);
      envelope = envelope || n.find("envelopeHash") != std::string::npos;
      tsa = tsa || n.find("RFC 3161") != std::string::npos;
    }
    CHECK(envelope);
    CHECK(tsa == !b.rfc3161_timestamps.empty());
    // The bare trusted root verifies the same.
    std::vector<std::string> more;
    CHECK(sw::verify_keyless(b, sw::load_trust_root(std::string(SAFEWEIGHTS_TEST_DATA) + "/keyless/trusted_root.json").value(),
                             stefan, more, "model.sig"));
  }
}

TEST_CASE("keyless: identity and issuer must be the expected ones") {
  const sw::sigstore_bundle b = bundle("v1.1.0");
  check_untrusted(b, public_good(), {"mallory@us.ibm.com", stefan.issuer}, "issued to \"stefanb@us.ibm.com\", not \"mallory@us.ibm.com\"");
  check_untrusted(b, public_good(), {"stefanb@us.ibm.co", stefan.issuer}, "not \"stefanb@us.ibm.co\"");
  check_untrusted(b, public_good(), {stefan.identity, "https://accounts.google.com"}, "vouched for by \"https://sigstore.verify.ibm.com/oauth2\"");
  check_untrusted(b, public_good(), {stefan.identity, "https://sigstore.verify.ibm.com/oauth"}, "vouched for by");
}

TEST_CASE("keyless: every alteration of the log entry is caught") {
  const sw::sigstore_bundle good = bundle("v1.1.0");
  auto altered = [&](auto&& change) {
    sw::sigstore_bundle b = good;
    change(b.tlog_entries.at(0));
    return b;
  };
  check_untrusted(altered([](auto& e) { e.integrated_time += 1; }), public_good(), stefan, "signed entry timestamp does not verify");
  check_untrusted(altered([](auto& e) { e.log_index += 1; }), public_good(), stefan, "signed entry timestamp does not verify");
  check_untrusted(altered([](auto& e) { (*e.signed_entry_timestamp)[10] ^= 1; }), public_good(), stefan,
                  "signed entry timestamp does not verify");
  check_untrusted(altered([](auto& e) { e.signed_entry_timestamp.reset(); }), public_good(), stefan, "no signed entry timestamp");
  for (std::size_t h = 0; h < good.tlog_entries[0].inclusion_proof->hashes.size(); ++h)
    check_untrusted(altered([&](auto& e) { e.inclusion_proof->hashes[h][31] ^= 1; }), public_good(), stefan,
                    "inclusion proof does not lead");
  check_untrusted(altered([](auto& e) { e.inclusion_proof->hashes.pop_back(); }), public_good(), stefan, "inclusion proof does not lead");
  check_untrusted(altered([](auto& e) { e.inclusion_proof->log_index -= 1; }), public_good(), stefan, "inclusion proof does not lead");
  check_untrusted(altered([](auto& e) { e.inclusion_proof->log_index = e.inclusion_proof->tree_size; }), public_good(), stefan,
                  "not below the tree size");
  check_untrusted(altered([](auto& e) { e.inclusion_proof.reset(); }), public_good(), stefan, "no inclusion proof");
  // The checkpoint: its signed text, its signature, and its agreement with the proof.
  check_untrusted(altered([](auto& e) {
                    auto& cp = e.inclusion_proof->checkpoint;
                    cp.replace(cp.find("476246825"), 9, "476246826");
                  }),
                  public_good(), stefan, "checkpoint signature by rekor.sigstore.dev does not verify");
  check_untrusted(altered([](auto& e) {
                    auto& cp = e.inclusion_proof->checkpoint;
                    cp.replace(cp.find("wNI9aj") + 8, 4, "AAAA");
                  }),
                  public_good(), stefan, "checkpoint signature by rekor.sigstore.dev does not verify");
  check_untrusted(altered([](auto& e) {
                    auto& cp = e.inclusion_proof->checkpoint;
                    cp.replace(cp.find("wNI9aj"), 4, "AAAA");
                  }),
                  public_good(), stefan, "checkpoint is not signed by the log's key");
  check_untrusted(altered([](auto& e) { e.inclusion_proof->checkpoint = "garbage"; }), public_good(), stefan,
                  "checkpoint is malformed");
  // A checkpoint of the same log for another tree (the other bundle's): signed, but not this proof's.
  const auto other_checkpoint = bundle("v1.0.1").tlog_entries.at(0).inclusion_proof->checkpoint;
  check_untrusted(altered([&](auto& e) { e.inclusion_proof->checkpoint = other_checkpoint; }), public_good(), stefan,
                  "checkpoint states another tree size or root hash");
  check_untrusted(altered([](auto& e) { e.kind = "hashedrekord"; }), public_good(), stefan, "is not dsse 0.0.1");
  // Every entry counts: a second, altered entry beside a good one is refused.
  sw::sigstore_bundle two = good;
  two.tlog_entries.push_back(good.tlog_entries[0]);
  std::vector<std::string> notes;
  CHECK(sw::verify_keyless(two, public_good(), stefan, notes, "model.sig"));
  (*two.tlog_entries[1].signed_entry_timestamp)[12] ^= 1;
  check_untrusted(two, public_good(), stefan, "signed entry timestamp does not verify");
  sw::sigstore_bundle none = good;
  none.tlog_entries.clear();
  check_untrusted(none, public_good(), stefan, "no transparency log entry");
}

TEST_CASE("keyless: the log entry must record this bundle's payload, signature and certificate") {
  const sw::sigstore_bundle good = bundle("v1.1.0");
  const sw::sigstore_bundle other = bundle("v1.0.1");
  sw::sigstore_bundle b = good;
  b.certificates = other.certificates;  // a genuine certificate of the same signer, from another signing
  check_untrusted(b, public_good(), stefan, "recorded certificate is not the bundle's signing certificate");
  b = good;
  b.payload += " ";
  check_untrusted(b, public_good(), stefan, "payload hash is not the SHA-256");
  b = good;
  b.signature = other.signature;
  check_untrusted(b, public_good(), stefan, "recorded signature is not the bundle's DSSE signature");
  // The other bundle's whole (valid) log entry, moved onto this bundle.
  b = good;
  b.tlog_entries = other.tlog_entries;
  check_untrusted(b, public_good(), stefan, "the entry's body does not match the bundle");
  b = good;
  b.certificates[0].resize(100);
  std::vector<std::string> notes;
  CHECK(sw::verify_keyless(b, public_good(), stefan, notes, "model.sig").code() == errc::invalid_signature);
  b = good;
  b.kind = sw::sigstore_bundle::material::public_key;
  check_untrusted(b, public_good(), stefan, "not a keyless signature");
}

TEST_CASE("keyless: the CA and the log must be the trust root's, at the entry's time") {
  const sw::sigstore_bundle b = bundle("v1.1.0");
  // Another CA (the test CA of the certificate-signed models) instead of Fulcio's.
  sw::trust_root other_ca = public_good();
  for (auto& ca : other_ca.certificate_authorities)
    ca.chain = sw::x509_certificate::load_pem_file(data + "keys/ca-cert.pem").value();
  check_untrusted(b, other_ca, stefan, "does not chain to a trusted CA");
  // Fulcio's intermediate alone, without its root, is no anchor.
  sw::trust_root no_root = public_good();
  for (auto& ca : no_root.certificate_authorities) ca.chain.erase(ca.chain.begin() + 1, ca.chain.end());
  check_untrusted(b, no_root, stefan, "does not chain to a trusted CA");
  // Fulcio's CAs, but not trusted at the time of signing.
  sw::trust_root expired_ca = public_good();
  for (auto& ca : expired_ca.certificate_authorities) ca.valid_for.end = sw::parse_rfc3339("2025-01-01T00:00:00Z");
  check_untrusted(b, expired_ca, stefan, "no certificate authority of the trust root is valid");
  // The log unknown, expired, or known under its id with another key.
  sw::trust_root no_log = public_good();
  no_log.tlogs[0].log_id[0] ^= 1;
  check_untrusted(b, no_log, stefan, "is not a transparency log the trust root trusts");
  sw::trust_root expired_log = public_good();
  expired_log.tlogs[0].valid_for.end = sw::parse_rfc3339("2025-01-01T00:00:00Z");
  check_untrusted(b, expired_log, stefan, "is not a transparency log the trust root trusts");
  // The certificate transparency logs: unknown, expired, or another key under the log's id.
  sw::trust_root no_ctlog = public_good();
  no_ctlog.ctlogs.clear();
  check_untrusted(b, no_ctlog, stefan, "no signed certificate timestamp from a certificate transparency log the trust root trusts");
  sw::trust_root expired_ctlog = public_good();
  for (auto& log : expired_ctlog.ctlogs) log.valid_for.end = sw::parse_rfc3339("2025-01-01T00:00:00Z");
  check_untrusted(b, expired_ctlog, stefan, "no signed certificate timestamp from a certificate transparency log");
  sw::trust_root wrong_ct_key = public_good();
  for (auto& log : wrong_ct_key.ctlogs) log.key = public_good().tlogs[0].key;
  check_untrusted(b, wrong_ct_key, stefan, "SCT from https://ctfe.sigstore.dev/2022 does not verify");
  sw::trust_root wrong_key = public_good();
  wrong_key.tlogs[0].key = public_good().ctlogs[1].key;
  check_untrusted(b, wrong_key, stefan, "signed entry timestamp does not verify");
}

TEST_CASE("fulcio certificate: the profile and the holder, one property at a time") {
  const std::string dir = std::string(SAFEWEIGHTS_TEST_DATA) + "/keyless/";
  auto cert = [&](const std::string& name) { return sw::x509_certificate::load_pem_file(dir + name + ".pem").value().at(0); };
  auto check = [&](const std::string& name, const sw::keyless_identity& who, const std::string& phrase) {
    CAPTURE(name);
    auto r = sw::verify_certificate_identity(cert(name), who, "model.sig");
    if (phrase.empty()) {
      CHECK(r);
      return;
    }
    REQUIRE_FALSE(r);
    CHECK(r.code() == errc::untrusted_signer);
    INFO(r.error_value().message);
    CHECK(r.error_value().message.find(phrase) != std::string::npos);
  };
  check("profile-ok", stefan, "");
  check("legacy-issuer", stefan, "");
  check("both-issuers", stefan, "");
  check("uri-identity", {"https://github.com/org/repo/.github/workflows/sign.yml@refs/heads/main", stefan.issuer}, "");
  check("uri-identity", stefan, "issued to \"https://github.com/org/repo/");
  check("no-digital-signature", stefan, "key usage lacks digitalSignature");
  check("no-usage", stefan, "key usage lacks digitalSignature");
  check("no-code-signing", stefan, "extended key usage lacks codeSigning");
  check("legacy-issuer", {stefan.identity, "https://accounts.google.com"}, "vouched for by");
  check("issuers-disagree", stefan, "vouched for by \"https://accounts.google.com\"");
  check("no-issuer", stefan, "names no OIDC issuer");
  check("issuer-not-utf8", stefan, "is not a DER UTF8String");
  auto no_sct = sw::verify_embedded_scts(cert("profile-ok"), cert("profile-ok"), public_good(), "model.sig");
  CHECK(no_sct.code() == errc::untrusted_signer);
  CHECK(no_sct.error_value().message == "model.sig: the signing certificate has no signed certificate timestamp (certificate transparency)");
  CHECK(sw::certificate_identities(cert("profile-ok")) == std::vector<std::string>{"stefanb@us.ibm.com"});
  CHECK(sw::certificate_issuers(cert("both-issuers"), "x").value() ==
        std::vector<std::string>{stefan.issuer, stefan.issuer});
}
