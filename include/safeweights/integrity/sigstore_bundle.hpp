// The Sigstore bundle (v0.3 JSON, the protobuf-specs Bundle in protobuf's
// JSON mapping) as the OpenSSF model-signing format uses it: verification
// material (a public key, a certificate, or a certificate chain; plus
// transparency-log entries and timestamps for keyless signatures) and a DSSE
// envelope holding the signed in-toto statement. Everything here is
// untrusted: parsing checks shape and encodings only, and the verifier
// (model_signature.hpp) decides what is believed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "safeweights/detail/strict_json.hpp"
#include "safeweights/error.hpp"
#include "safeweights/integrity/base64.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

inline constexpr std::string_view bundle_media_type_v03 = "application/vnd.dev.sigstore.bundle.v0.3+json";
inline constexpr std::string_view in_toto_payload_type = "application/vnd.in-toto+json";
// A manifest of a million files is about 150 MB of JSON; a signature for more
// is refused before anything is allocated for it.
inline constexpr std::size_t max_bundle_bytes = std::size_t{256} << 20;

struct transparency_log_entry {
  std::uint64_t log_index = 0;
  std::string log_id;  // logId.keyId, decoded
  std::string kind, kind_version;
  std::int64_t integrated_time = 0;  // seconds since the epoch
  std::optional<std::string> signed_entry_timestamp;  // inclusionPromise, decoded
  struct proof {
    std::uint64_t log_index = 0, tree_size = 0;
    std::string root_hash;  // decoded
    std::vector<std::string> hashes;  // decoded
    std::string checkpoint;  // the signed note's text
  };
  std::optional<proof> inclusion_proof;
  std::string canonicalized_body;  // decoded (JSON text)
};

struct sigstore_bundle {
  std::string media_type = std::string(bundle_media_type_v03);
  enum class material : std::uint8_t { public_key, certificate, certificate_chain };
  material kind = material::public_key;
  std::string public_key_hint;  // key bundles of model_signing 1.1: hex SHA-256 of the key's PEM
  std::string public_key_raw;   // key bundles of model_signing 1.0: rawBytes, decoded
  std::vector<std::string> certificates;  // DER, the signing certificate first
  std::vector<transparency_log_entry> tlog_entries;
  std::vector<std::string> rfc3161_timestamps;  // DER
  std::string payload_type = std::string(in_toto_payload_type);
  std::string payload;    // the DSSE payload (the statement), decoded
  std::string signature;  // the DSSE signature, decoded
  std::string keyid;
};

namespace detail {

class bundle_parser : strict_json_reader {
 public:
  explicit bundle_parser(const std::string& label) : strict_json_reader(label, "not a valid Sigstore bundle") {}

  result<sigstore_bundle> run(std::string_view json) {
    if (json.size() > max_bundle_bytes)
      return bad("it is " + std::to_string(json.size()) + " bytes, over the limit of " +
                 std::to_string(max_bundle_bytes));
    simdjson::padded_string text(json);
    simdjson::dom::element root;
    if (parser_.parse(text).get(root)) return bad("it is not JSON");
    auto top = object(root, "the bundle");
    if (!top) return std::move(top).error_value();
    sigstore_bundle b;
    if (auto u = top->unknown_key({"mediaType", "verificationMaterial", "dsseEnvelope", "messageSignature"}); !u.empty())
      return bad("unknown field " + quote(u));
    auto media = string_field(*top, "mediaType", "the bundle");
    if (!media) return std::move(media).error_value();
    if (*media != bundle_media_type_v03 && *media != "application/vnd.dev.sigstore.bundle+json;version=0.2")
      return bad("media type " + quote(*media) + " is not a Sigstore bundle v0.3 (" +
                 std::string(bundle_media_type_v03) + ")");
    b.media_type = std::string(*media);
    if (top->has("messageSignature"))
      return bad("it holds a message signature, not a DSSE envelope: not an OpenSSF model signature");
    auto envelope = member(*top, "dsseEnvelope", "the bundle");
    if (!envelope) return std::move(envelope).error_value();
    if (auto e = read_envelope(*envelope, b); !e) return std::move(e).error_value();
    auto material = member(*top, "verificationMaterial", "the bundle");
    if (!material) return std::move(material).error_value();
    if (auto m = read_material(*material, b); !m) return std::move(m).error_value();
    return b;
  }

 private:
  result<std::string> bytes_field(const strict_object& o, std::string_view key, const std::string& where) const {
    auto s = string_field(o, key, where);
    if (!s) return std::move(s).error_value();
    auto d = base64_decode(*s);
    if (!d) return bad(where + ": " + quote(key) + " is not base64");
    return std::move(*d);
  }
  result<std::int64_t> int_field(const strict_object& o, std::string_view key, const std::string& where) const {
    auto e = member(o, key, where);
    if (!e) return std::move(e).error_value();
    auto v = json_int64(*e);
    if (!v || *v < 0) return bad(where + ": " + quote(key) + " is not a non-negative integer");
    return *v;
  }
  result<simdjson::dom::array> array_field(const strict_object& o, std::string_view key, const std::string& where) const {
    auto e = member(o, key, where);
    if (!e) return std::move(e).error_value();
    simdjson::dom::array a;
    if (e->get_array().get(a)) return bad(where + ": " + quote(key) + " is not an array");
    return a;
  }

  result<void> read_envelope(element e, sigstore_bundle& b) {
    auto env = object(e, "dsseEnvelope");
    if (!env) return std::move(env).error_value();
    if (auto u = env->unknown_key({"payload", "payloadType", "signatures"}); !u.empty())
      return bad("dsseEnvelope: unknown field " + quote(u));
    auto type = string_field(*env, "payloadType", "dsseEnvelope");
    if (!type) return std::move(type).error_value();
    if (*type != in_toto_payload_type)
      return bad("the DSSE payload type is " + quote(*type) + ", not an in-toto statement (" +
                 std::string(in_toto_payload_type) + ")");
    b.payload_type = std::string(*type);
    auto payload = bytes_field(*env, "payload", "dsseEnvelope");
    if (!payload) return std::move(payload).error_value();
    b.payload = std::move(*payload);
    auto sigs = array_field(*env, "signatures", "dsseEnvelope");
    if (!sigs) return std::move(sigs).error_value();
    if (sigs->size() != 1)
      return bad("the DSSE envelope has " + std::to_string(sigs->size()) + " signatures; a model signature has one");
    auto sig = object(sigs->at(0).value_unsafe(), "the DSSE signature");
    if (!sig) return std::move(sig).error_value();
    if (auto u = sig->unknown_key({"sig", "keyid"}); !u.empty()) return bad("the DSSE signature: unknown field " + quote(u));
    auto bytes = bytes_field(*sig, "sig", "the DSSE signature");
    if (!bytes) return std::move(bytes).error_value();
    if (bytes->empty()) return bad("the DSSE signature is empty");
    b.signature = std::move(*bytes);
    if (auto k = sig->get("keyid")) {
      if (!k->is_null()) {
        auto s = json_string(*k);
        if (!s) return bad("the DSSE signature's keyid is not a string");
        b.keyid = std::string(*s);
      }
    }
    return {};
  }

  result<void> read_material(element e, sigstore_bundle& b) {
    auto m = object(e, "verificationMaterial");
    if (!m) return std::move(m).error_value();
    if (auto u = m->unknown_key({"publicKey", "certificate", "x509CertificateChain", "tlogEntries",
                                 "timestampVerificationData"});
        !u.empty())
      return bad("verificationMaterial: unknown field " + quote(u));
    const int kinds = int(m->has("publicKey")) + int(m->has("certificate")) + int(m->has("x509CertificateChain"));
    if (kinds != 1)
      return bad("verificationMaterial must hold exactly one of publicKey, certificate, x509CertificateChain");
    if (auto pk = m->get("publicKey")) {
      b.kind = sigstore_bundle::material::public_key;
      auto o = object(*pk, "publicKey");
      if (!o) return std::move(o).error_value();
      if (auto u = o->unknown_key({"hint", "rawBytes", "keyDetails"}); !u.empty())
        return bad("publicKey: unknown field " + quote(u));
      if (auto h = o->get("hint"); h && !h->is_null()) {
        auto s = json_string(*h);
        if (!s) return bad("publicKey: \"hint\" is not a string");
        b.public_key_hint = std::string(*s);
      }
      if (o->has("rawBytes")) {
        auto raw = bytes_field(*o, "rawBytes", "publicKey");
        if (!raw) return std::move(raw).error_value();
        b.public_key_raw = std::move(*raw);
      }
    } else if (auto c = m->get("certificate")) {
      b.kind = sigstore_bundle::material::certificate;
      auto o = object(*c, "certificate");
      if (!o) return std::move(o).error_value();
      auto der = bytes_field(*o, "rawBytes", "certificate");
      if (!der) return std::move(der).error_value();
      b.certificates.push_back(std::move(*der));
    } else {
      b.kind = sigstore_bundle::material::certificate_chain;
      auto o = object(*m->get("x509CertificateChain"), "x509CertificateChain");
      if (!o) return std::move(o).error_value();
      auto certs = array_field(*o, "certificates", "x509CertificateChain");
      if (!certs) return std::move(certs).error_value();
      if (certs->size() == 0) return bad("x509CertificateChain holds no certificate");
      for (element ce : *certs) {
        auto co = object(ce, "a certificate of the chain");
        if (!co) return std::move(co).error_value();
        auto der = bytes_field(*co, "rawBytes", "a certificate of the chain");
        if (!der) return std::move(der).error_value();
        b.certificates.push_back(std::move(*der));
      }
    }
    if (auto t = m->get("tlogEntries")) {
      simdjson::dom::array entries;
      if (t->get_array().get(entries)) return bad("tlogEntries is not an array");
      for (element te : entries) {
        auto entry = read_tlog_entry(te);
        if (!entry) return std::move(entry).error_value();
        b.tlog_entries.push_back(std::move(*entry));
      }
    }
    if (auto ts = m->get("timestampVerificationData")) {
      auto o = object(*ts, "timestampVerificationData");
      if (!o) return std::move(o).error_value();
      if (auto r = o->get("rfc3161Timestamps")) {
        simdjson::dom::array stamps;
        if (r->get_array().get(stamps)) return bad("rfc3161Timestamps is not an array");
        for (element se : stamps) {
          auto so = object(se, "an RFC 3161 timestamp");
          if (!so) return std::move(so).error_value();
          auto der = bytes_field(*so, "signedTimestamp", "an RFC 3161 timestamp");
          if (!der) return std::move(der).error_value();
          b.rfc3161_timestamps.push_back(std::move(*der));
        }
      }
    }
    return {};
  }

  result<transparency_log_entry> read_tlog_entry(element e) {
    const std::string where = "a tlogEntries entry";
    auto o = object(e, where);
    if (!o) return std::move(o).error_value();
    transparency_log_entry t;
    auto index = int_field(*o, "logIndex", where);
    if (!index) return std::move(index).error_value();
    t.log_index = static_cast<std::uint64_t>(*index);
    auto log_id = member(*o, "logId", where);
    if (!log_id) return std::move(log_id).error_value();
    auto id = object(*log_id, "logId");
    if (!id) return std::move(id).error_value();
    auto key_id = bytes_field(*id, "keyId", "logId");
    if (!key_id) return std::move(key_id).error_value();
    t.log_id = std::move(*key_id);
    auto kv = member(*o, "kindVersion", where);
    if (!kv) return std::move(kv).error_value();
    auto kvo = object(*kv, "kindVersion");
    if (!kvo) return std::move(kvo).error_value();
    auto kind = string_field(*kvo, "kind", "kindVersion");
    if (!kind) return std::move(kind).error_value();
    auto version = string_field(*kvo, "version", "kindVersion");
    if (!version) return std::move(version).error_value();
    t.kind = std::string(*kind);
    t.kind_version = std::string(*version);
    auto time = int_field(*o, "integratedTime", where);
    if (!time) return std::move(time).error_value();
    t.integrated_time = *time;
    if (auto p = o->get("inclusionPromise")) {
      auto po = object(*p, "inclusionPromise");
      if (!po) return std::move(po).error_value();
      auto set = bytes_field(*po, "signedEntryTimestamp", "inclusionPromise");
      if (!set) return std::move(set).error_value();
      t.signed_entry_timestamp = std::move(*set);
    }
    if (auto p = o->get("inclusionProof")) {
      auto po = object(*p, "inclusionProof");
      if (!po) return std::move(po).error_value();
      transparency_log_entry::proof proof;
      auto pi = int_field(*po, "logIndex", "inclusionProof");
      if (!pi) return std::move(pi).error_value();
      auto size = int_field(*po, "treeSize", "inclusionProof");
      if (!size) return std::move(size).error_value();
      proof.log_index = static_cast<std::uint64_t>(*pi);
      proof.tree_size = static_cast<std::uint64_t>(*size);
      auto root = bytes_field(*po, "rootHash", "inclusionProof");
      if (!root) return std::move(root).error_value();
      proof.root_hash = std::move(*root);
      auto hashes = array_field(*po, "hashes", "inclusionProof");
      if (!hashes) return std::move(hashes).error_value();
      for (element he : *hashes) {
        auto s = json_string(he);
        auto d = s ? base64_decode(*s) : std::nullopt;
        if (!d) return bad("inclusionProof: a hash is not a base64 string");
        proof.hashes.push_back(std::move(*d));
      }
      auto cp = member(*po, "checkpoint", "inclusionProof");
      if (!cp) return std::move(cp).error_value();
      auto cpo = object(*cp, "checkpoint");
      if (!cpo) return std::move(cpo).error_value();
      auto envelope = string_field(*cpo, "envelope", "checkpoint");
      if (!envelope) return std::move(envelope).error_value();
      proof.checkpoint = std::string(*envelope);
      t.inclusion_proof = std::move(proof);
    }
    auto body = bytes_field(*o, "canonicalizedBody", where);
    if (!body) return std::move(body).error_value();
    t.canonicalized_body = std::move(*body);
    return t;
  }

};

}  // namespace detail

// Parses a bundle's JSON; `label` (its path) starts every message.
inline result<sigstore_bundle> parse_sigstore_bundle(std::string_view json, const std::string& label) {
  return detail::bundle_parser(label).run(json);
}

// The bundle as JSON, two-space indented like the reference tool's, for the
// kinds this library signs (a key or a certificate chain, no log entries).
inline std::string sigstore_bundle_json(const sigstore_bundle& b) {
  std::string out = "{\n  \"mediaType\": ";
  append_json_string(out, b.media_type);
  out += ",\n  \"verificationMaterial\": {\n";
  if (b.kind == sigstore_bundle::material::public_key) {
    out += "    \"publicKey\": {\n      \"hint\": ";
    append_json_string(out, b.public_key_hint);
    out += "\n    },\n";
  } else if (b.kind == sigstore_bundle::material::certificate) {
    out += "    \"certificate\": {\n      \"rawBytes\": \"" + base64_encode(b.certificates.at(0)) + "\"\n    },\n";
  } else {
    out += "    \"x509CertificateChain\": {\n      \"certificates\": [";
    for (std::size_t i = 0; i < b.certificates.size(); ++i) {
      out += i ? ",\n        {\n" : "\n        {\n";
      out += "          \"rawBytes\": \"" + base64_encode(b.certificates[i]) + "\"\n        }";
    }
    out += "\n      ]\n    },\n";
  }
  out += "    \"tlogEntries\": []\n  },\n  \"dsseEnvelope\": {\n    \"payload\": \"" + base64_encode(b.payload) +
         "\",\n    \"payloadType\": ";
  append_json_string(out, b.payload_type);
  out += ",\n    \"signatures\": [\n      {\n        \"sig\": \"" + base64_encode(b.signature) + "\",\n        \"keyid\": ";
  append_json_string(out, b.keyid);
  out += "\n      }\n    ]\n  }\n}\n";
  return out;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
