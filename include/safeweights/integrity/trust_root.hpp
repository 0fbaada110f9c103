// The Sigstore trusted root (protobuf-specs TrustedRoot in protobuf's JSON
// mapping), bare or inside a client trust config: the Fulcio CAs that issue
// signing certificates, the transparency logs (Rekor) and certificate
// transparency logs whose keys sign entries, each with the period it was
// trusted for. Verification believes only what this file names, so parsing is
// strict: a known media type, canonical base64, every key and certificate
// readable, repeated JSON keys refused. Unknown fields are ignored, as every
// Sigstore client does, so newer roots still load.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "safeweights/detail/strict_json.hpp"
#include "safeweights/error.hpp"
#include "safeweights/integrity/base64.hpp"
#include "safeweights/integrity/certificate_chain.hpp"
#include "safeweights/integrity/rfc3339_time.hpp"
#include "safeweights/integrity/signing_key.hpp"
#include "safeweights/io/file_handle.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

inline constexpr std::string_view trusted_root_media_type = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
inline constexpr std::string_view client_trust_config_media_type = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";
// The public-good root is about 10 KB; anything near this is not a trust root.
inline constexpr std::size_t max_trust_root_bytes = std::size_t{4} << 20;

// A period of trust: from `start`, to `end` when there is one (both inclusive).
struct validity_period {
  utc_time start{INT64_MIN, 0};
  std::optional<utc_time> end;

  // Whether the whole second `at` (seconds since the epoch) lies within the period.
  bool covers(std::int64_t at) const noexcept {
    const bool after_start = start.seconds < at || (start.seconds == at && start.nanos == 0);
    return after_start && (!end || at <= end->seconds);
  }
};

// A transparency log (Rekor) or certificate transparency log: its key and id.
struct trusted_log {
  std::string base_url;
  std::string log_id;       // logId.keyId, decoded (SHA-256 of the key's DER for Rekor and CT logs)
  std::string key_details;  // e.g. PKIX_ECDSA_P256_SHA_256
  std::string key_der;      // SubjectPublicKeyInfo, DER
  public_key key;
  validity_period valid_for;
};

// A certificate authority (Fulcio, or a timestamp authority): its chain, leaf side first.
struct trusted_authority {
  std::string uri;
  std::string subject;  // organization / common name, for messages
  std::vector<x509_certificate> chain;
  validity_period valid_for;
};

struct trust_root {
  std::vector<trusted_log> tlogs;
  std::vector<trusted_authority> certificate_authorities;
  std::vector<trusted_log> ctlogs;
  std::vector<trusted_authority> timestamp_authorities;
};

namespace detail {

class trust_root_parser : strict_json_reader {
 public:
  explicit trust_root_parser(const std::string& label) : strict_json_reader(label, "not a valid Sigstore trust root") {}

  result<trust_root> run(std::string_view json) {
    if (json.size() > max_trust_root_bytes)
      return bad("it is " + std::to_string(json.size()) + " bytes, over the limit of " +
                 std::to_string(max_trust_root_bytes));
    simdjson::padded_string text(json);
    simdjson::dom::element doc;
    if (parser_.parse(text).get(doc)) return bad("it is not JSON");
    auto top = object(doc, "the document");
    if (!top) return std::move(top).error_value();
    auto media = string_field(*top, "mediaType", "the document");
    if (!media) return std::move(media).error_value();
    if (*media == client_trust_config_media_type) {
      auto inner = member(*top, "trustedRoot", "the client trust config");
      if (!inner) return std::move(inner).error_value();
      auto root = object(*inner, "trustedRoot");
      if (!root) return std::move(root).error_value();
      auto inner_media = string_field(*root, "mediaType", "trustedRoot");
      if (!inner_media) return std::move(inner_media).error_value();
      if (*inner_media != trusted_root_media_type)
        return bad("trustedRoot: media type " + quote(*inner_media) + " is not " + std::string(trusted_root_media_type));
      return read_root(*root);
    }
    if (*media != trusted_root_media_type)
      return bad("media type " + quote(*media) + " is neither a trusted root (" + std::string(trusted_root_media_type) +
                 ") nor a client trust config (" + std::string(client_trust_config_media_type) + ")");
    return read_root(*top);
  }

 private:
  // An optional string field: empty when absent.
  result<std::string> optional_string(const strict_object& o, std::string_view key, const std::string& where) const {
    if (!o.has(key)) return std::string();
    auto s = string_field(o, key, where);
    if (!s) return std::move(s).error_value();
    return std::string(*s);
  }
  result<std::string> bytes_field(const strict_object& o, std::string_view key, const std::string& where) const {
    auto s = string_field(o, key, where);
    if (!s) return std::move(s).error_value();
    auto d = base64_decode(*s);
    if (!d || d->empty()) return bad(where + ": " + quote(key) + " is not non-empty base64");
    return std::move(*d);
  }
  // An absent array reads as empty: protobuf's JSON mapping omits empty repeated fields.
  result<std::vector<element>> array_field(const strict_object& o, std::string_view key, const std::string& where) const {
    std::vector<element> out;
    auto e = o.get(key);
    if (!e) return out;
    simdjson::dom::array a;
    if (e->get_array().get(a)) return bad(where + ": " + quote(key) + " is not an array");
    for (element x : a) out.push_back(x);
    return out;
  }

  result<validity_period> read_validity(const strict_object& o, const std::string& where) const {
    validity_period p;
    // Optional in the protobuf spec; sigstore-python reads an absent period as "always".
    auto v = o.get("validFor");
    if (!v) return p;
    auto vo = object(*v, where + ": validFor");
    if (!vo) return std::move(vo).error_value();
    auto start = string_field(*vo, "start", where + ": validFor");
    if (!start) return std::move(start).error_value();
    auto s = parse_rfc3339(*start);
    if (!s) return bad(where + ": validFor start " + quote(*start) + " is not an RFC 3339 UTC time");
    p.start = *s;
    if (vo->has("end")) {
      auto end = string_field(*vo, "end", where + ": validFor");
      if (!end) return std::move(end).error_value();
      auto e = parse_rfc3339(*end);
      if (!e) return bad(where + ": validFor end " + quote(*end) + " is not an RFC 3339 UTC time");
      if (e->seconds < p.start.seconds) return bad(where + ": validFor ends before it starts");
      p.end = *e;
    }
    return p;
  }

  result<trusted_log> read_log(element e, const std::string& where) const {
    auto o = object(e, where);
    if (!o) return std::move(o).error_value();
    auto url = optional_string(*o, "baseUrl", where);
    if (!url) return std::move(url).error_value();
    const std::string named = where + " (" + (url->empty() ? "no baseUrl" : *url) + ")";
    if (auto h = optional_string(*o, "hashAlgorithm", named); !h) return std::move(h).error_value();
    else if (!h->empty() && *h != "SHA2_256") return bad(named + ": hash algorithm " + quote(*h) + " is not SHA2_256");
    auto pk = member(*o, "publicKey", named);
    if (!pk) return std::move(pk).error_value();
    auto pko = object(*pk, named + ": publicKey");
    if (!pko) return std::move(pko).error_value();
    auto der = bytes_field(*pko, "rawBytes", named + ": publicKey");
    if (!der) return std::move(der).error_value();
    auto key = public_key::from_bytes(*der, label_ + ": " + named);
    if (!key) return bad(named + ": the public key is not a supported SubjectPublicKeyInfo: " + key.error_value().message);
    auto details = optional_string(*pko, "keyDetails", named + ": publicKey");
    if (!details) return std::move(details).error_value();
    auto valid = read_validity(*pko, named + ": publicKey");
    if (!valid) return std::move(valid).error_value();
    auto id = member(*o, "logId", named);
    if (!id) return std::move(id).error_value();
    auto ido = object(*id, named + ": logId");
    if (!ido) return std::move(ido).error_value();
    auto key_id = bytes_field(*ido, "keyId", named + ": logId");
    if (!key_id) return std::move(key_id).error_value();
    return trusted_log{std::move(*url), std::move(*key_id), std::move(*details), std::move(*der), std::move(*key), *valid};
  }

  result<trusted_authority> read_authority(element e, const std::string& where) const {
    auto o = object(e, where);
    if (!o) return std::move(o).error_value();
    trusted_authority ca;
    auto uri = optional_string(*o, "uri", where);
    if (!uri) return std::move(uri).error_value();
    ca.uri = std::move(*uri);
    if (auto s = o->get("subject")) {
      auto so = object(*s, where + ": subject");
      if (!so) return std::move(so).error_value();
      auto org = optional_string(*so, "organization", where + ": subject");
      if (!org) return std::move(org).error_value();
      auto cn = optional_string(*so, "commonName", where + ": subject");
      if (!cn) return std::move(cn).error_value();
      ca.subject = *org + "/" + *cn;
    }
    const std::string named = where + " (" + (ca.uri.empty() ? ca.subject : ca.uri) + ")";
    auto chain = member(*o, "certChain", named);
    if (!chain) return std::move(chain).error_value();
    auto co = object(*chain, named + ": certChain");
    if (!co) return std::move(co).error_value();
    auto certs = array_field(*co, "certificates", named + ": certChain");
    if (!certs) return std::move(certs).error_value();
    if (certs->empty()) return bad(named + ": certChain holds no certificate");
    for (element c : *certs) {
      auto cert = object(c, named + ": a certificate");
      if (!cert) return std::move(cert).error_value();
      auto der = bytes_field(*cert, "rawBytes", named + ": a certificate");
      if (!der) return std::move(der).error_value();
      auto x = x509_certificate::from_der(*der, label_ + ": " + named);
      if (!x) return bad(named + ": a certificate is not DER X.509");
      ca.chain.push_back(std::move(*x));
    }
    auto valid = read_validity(*o, named);
    if (!valid) return std::move(valid).error_value();
    ca.valid_for = *valid;
    return ca;
  }

  result<trust_root> read_root(const strict_object& root) const {
    trust_root out;
    auto tlogs = array_field(root, "tlogs", "trustedRoot");
    if (!tlogs) return std::move(tlogs).error_value();
    for (std::size_t i = 0; i < tlogs->size(); ++i) {
      auto log = read_log((*tlogs)[i], "tlogs[" + std::to_string(i) + "]");
      if (!log) return std::move(log).error_value();
      out.tlogs.push_back(std::move(*log));
    }
    auto cas = array_field(root, "certificateAuthorities", "trustedRoot");
    if (!cas) return std::move(cas).error_value();
    for (std::size_t i = 0; i < cas->size(); ++i) {
      auto ca = read_authority((*cas)[i], "certificateAuthorities[" + std::to_string(i) + "]");
      if (!ca) return std::move(ca).error_value();
      out.certificate_authorities.push_back(std::move(*ca));
    }
    auto ctlogs = array_field(root, "ctlogs", "trustedRoot");
    if (!ctlogs) return std::move(ctlogs).error_value();
    for (std::size_t i = 0; i < ctlogs->size(); ++i) {
      auto log = read_log((*ctlogs)[i], "ctlogs[" + std::to_string(i) + "]");
      if (!log) return std::move(log).error_value();
      out.ctlogs.push_back(std::move(*log));
    }
    auto tsas = array_field(root, "timestampAuthorities", "trustedRoot");
    if (!tsas) return std::move(tsas).error_value();
    for (std::size_t i = 0; i < tsas->size(); ++i) {
      auto tsa = read_authority((*tsas)[i], "timestampAuthorities[" + std::to_string(i) + "]");
      if (!tsa) return std::move(tsa).error_value();
      out.timestamp_authorities.push_back(std::move(*tsa));
    }
    // A root that trusts nothing would make every keyless signature fail for a confusing reason.
    if (out.tlogs.empty() || out.certificate_authorities.empty())
      return bad("it names no transparency log or no certificate authority");
    return out;
  }

};

}  // namespace detail

// Parses a trusted root, or a client trust config holding one; `label` starts every message.
inline result<trust_root> parse_trust_root(std::string_view json, const std::string& label) {
  return detail::trust_root_parser(label).run(json);
}

// Reads and parses a trust root file (trusted_root.json or a trust_config.json).
inline result<trust_root> load_trust_root(const std::string& path) {
  auto text = read_small_file(path, max_trust_root_bytes);
  if (!text) return make_error(errc::invalid_signature, "cannot read the trust root " + std::move(text).error_value().message);
  return parse_trust_root(*text, path);
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
