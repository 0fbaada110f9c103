// Offline verification of a Rekor (transparency log) entry carried in a
// Sigstore bundle, as sigstore-python does it: the log is one the trust root
// names, valid when the entry was integrated; its signed entry timestamp (the
// inclusion promise) covers the entry's body, time and index; the inclusion
// proof leads from the body to a root hash that the log's signed checkpoint
// states; and the body (kind dsse 0.0.1) records this bundle's payload,
// signature and certificate, so an entry cannot be borrowed from another
// signature (CVE-2022-36056).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "safeweights/detail/strict_json.hpp"
#include "safeweights/error.hpp"
#include "safeweights/integrity/certificate_chain.hpp"
#include "safeweights/integrity/merkle_proof.hpp"
#include "safeweights/integrity/sha256.hpp"
#include "safeweights/integrity/signed_checkpoint.hpp"
#include "safeweights/integrity/sigstore_bundle.hpp"
#include "safeweights/integrity/trust_root.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// What the signed entry timestamp signs: RFC 8785 canonical JSON of the
// entry's base64 body, integrated time, hex log id and log index (keys in
// order, no spaces; every value here is ASCII or an integer, so canonical
// JSON is this plain text).
inline std::string signed_entry_timestamp_payload(const transparency_log_entry& e) {
  std::string out = "{\"body\":\"" + base64_encode(e.canonicalized_body) + "\",\"integratedTime\":";
  out += std::to_string(e.integrated_time);
  out += ",\"logID\":\"";
  out += to_hex(std::span(reinterpret_cast<const std::uint8_t*>(e.log_id.data()), e.log_id.size()));
  out += "\",\"logIndex\":";
  append_uint(out, e.log_index);
  out += "}";
  return out;
}

// The log of the trust root with `log_id` that was trusted at `at`, or null.
inline const trusted_log* find_trusted_log(const std::vector<trusted_log>& logs, std::string_view log_id, std::int64_t at) {
  for (const trusted_log& log : logs)
    if (log.log_id == log_id && log.valid_for.covers(at)) return &log;
  return nullptr;
}

namespace detail {

// The body of a dsse 0.0.1 entry must record the bundle's payload hash and,
// for its one signature, the signature bytes and the signing certificate.
// The envelope hash cannot be recomputed: Rekor hashed its own serialization
// of the envelope, which the bundle does not keep (sigstore-python skips it too).
inline result<void> match_dsse_body(const transparency_log_entry& e, const sigstore_bundle& b, const std::string& where,
                                    std::vector<std::string>& notes) {
  auto bad = [&](const std::string& why) {
    return make_error(errc::untrusted_signer, where + ": the entry's body does not match the bundle: " + why);
  };
  simdjson::dom::parser parser;
  simdjson::padded_string text(e.canonicalized_body);
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc)) return bad("the body is not JSON");
  auto top = strict_object::of(doc);
  if (!top) return bad("the body is not a JSON object without repeated keys");
  auto str = [](const strict_object& o, std::string_view key) -> std::optional<std::string_view> {
    auto v = o.get(key);
    return v ? json_string(*v) : std::nullopt;
  };
  if (str(*top, "kind") != "dsse" || str(*top, "apiVersion") != "0.0.1")
    return bad("the body is not of kind dsse, version 0.0.1");
  auto spec_e = top->get("spec");
  auto spec = spec_e ? strict_object::of(*spec_e) : std::nullopt;
  if (!spec) return bad("the body has no spec object");
  auto ph_e = spec->get("payloadHash");
  auto ph = ph_e ? strict_object::of(*ph_e) : std::nullopt;
  if (!ph || str(*ph, "algorithm") != "sha256" || !str(*ph, "value")) return bad("the body has no sha256 payloadHash");
  const std::string payload_hash = to_hex(sha256(std::as_bytes(std::span(b.payload.data(), b.payload.size()))));
  if (*str(*ph, "value") != payload_hash) return bad("its payload hash is not the SHA-256 of the bundle's DSSE payload");
  auto sigs_e = spec->get("signatures");
  simdjson::dom::array sigs;
  if (!sigs_e || sigs_e->get_array().get(sigs)) return bad("the body has no signatures array");
  if (sigs.size() != 1) return bad("the body records " + std::to_string(sigs.size()) + " signatures, the bundle one");
  auto sig = strict_object::of(sigs.at(0).value_unsafe());
  if (!sig) return bad("the body's signature is not an object");
  auto signature_b64 = str(*sig, "signature");
  auto signature = signature_b64 ? base64_decode(*signature_b64) : std::nullopt;
  if (!signature || *signature != b.signature) return bad("the recorded signature is not the bundle's DSSE signature");
  auto verifier_b64 = str(*sig, "verifier");
  auto verifier_pem = verifier_b64 ? base64_decode(*verifier_b64) : std::nullopt;
  if (!verifier_pem) return bad("the recorded verifier is not base64");
  auto certs = x509_certificate::from_pem(*verifier_pem, where);
  if (!certs || certs->size() != 1) return bad("the recorded verifier is not one PEM certificate");
  if (b.certificates.empty() || (*certs)[0].der() != b.certificates[0])
    return bad("the recorded certificate is not the bundle's signing certificate");
  notes.push_back("not checked: " + where + ": the body's envelopeHash (Rekor hashed its own serialization of the envelope)");
  return {};
}

}  // namespace detail

// Verifies one log entry of `bundle` against `root`; untrusted_signer names
// what failed. Appends to `notes` what it could not check.
inline result<void> verify_tlog_entry(const transparency_log_entry& e, const sigstore_bundle& bundle, const trust_root& root,
                                      std::vector<std::string>& notes, const std::string& label) {
  const std::string where = label + ": transparency log entry " + std::to_string(e.log_index);
  auto fail = [&](const std::string& why) { return make_error(errc::untrusted_signer, where + ": " + why); };
  if (e.kind != "dsse" || e.kind_version != "0.0.1")
    return fail("kind " + e.kind + " " + e.kind_version + " is not dsse 0.0.1, the kind of an OpenSSF model signature");
  const trusted_log* log = find_trusted_log(root.tlogs, e.log_id, e.integrated_time);
  if (!log)
    return fail("its log " + to_hex(std::span(reinterpret_cast<const std::uint8_t*>(e.log_id.data()), e.log_id.size())) +
                " is not a transparency log the trust root trusts at the entry's time " + std::to_string(e.integrated_time));
  // The integrated time decides which CA and log keys count; only the SET vouches for it offline.
  if (!e.signed_entry_timestamp) return fail("it has no signed entry timestamp (inclusion promise) to vouch for its time");
  if (!log->key.verify(signed_entry_timestamp_payload(e), *e.signed_entry_timestamp))
    return fail("its signed entry timestamp does not verify with the key of " + log->base_url +
                " (the body, time, index or log id was altered)");
  if (!e.inclusion_proof) return fail("it has no inclusion proof");
  const auto& proof = *e.inclusion_proof;
  if (proof.log_index >= proof.tree_size)
    return fail("its inclusion proof's index " + std::to_string(proof.log_index) + " is not below the tree size " +
                std::to_string(proof.tree_size));
  if (!verify_merkle_inclusion(proof.log_index, proof.tree_size, merkle_leaf_hash(e.canonicalized_body), proof.hashes,
                               proof.root_hash))
    return fail("its inclusion proof does not lead from the entry's body to the root hash");
  auto cp = parse_checkpoint(proof.checkpoint, where);
  if (!cp) return std::move(cp).error_value();
  if (auto s = verify_checkpoint_signature(*cp, log->key, log->log_id, where); !s) return s;
  if (cp->tree_size != proof.tree_size || cp->root_hash != proof.root_hash)
    return fail("the signed checkpoint states another tree size or root hash than the inclusion proof");
  return detail::match_dsse_body(e, bundle, where, notes);
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
