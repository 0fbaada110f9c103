// What a Fulcio (Sigstore CA) signing certificate says about its holder: the
// identity in its subject alternative name (an email address or a URI) and
// the OIDC issuer that vouched for it, in Fulcio's extension
// 1.3.6.1.4.1.57264.1.8 (a DER UTF8String) or the older 1.3.6.1.4.1.57264.1.1
// (the raw text); and whether it may sign code.
#pragma once

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "safeweights/integrity/certificate_chain.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// Who must have signed: the certificate's email or URI, and the OIDC issuer that vouched for it.
struct keyless_identity {
  std::string identity, issuer;
};

inline constexpr const char* fulcio_issuer_v2_oid = "1.3.6.1.4.1.57264.1.8";
inline constexpr const char* fulcio_issuer_v1_oid = "1.3.6.1.4.1.57264.1.1";

// The email addresses and URIs of the subject alternative name, in order.
inline std::vector<std::string> certificate_identities(const x509_certificate& cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_EMAIL && n->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = n->type == GEN_EMAIL ? n->d.rfc822Name : n->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

namespace detail {
// The contents of the extension with `oid`, or nullopt; a repeated extension is refused (reads as absent and invalid).
inline std::optional<std::string> extension_bytes(const x509_certificate& cert, const char* oid, bool& repeated) {
  std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> obj(OBJ_txt2obj(oid, 1), &ASN1_OBJECT_free);
  if (!obj) throw std::bad_alloc();
  const int at = X509_get_ext_by_OBJ(cert.get(), obj.get(), -1);
  if (at < 0) return std::nullopt;
  repeated = repeated || X509_get_ext_by_OBJ(cert.get(), obj.get(), at) >= 0;
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert.get(), at));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)), static_cast<std::size_t>(ASN1_STRING_length(data)));
}
}  // namespace detail

// The OIDC issuers the certificate states (the v2 extension's, then the v1's),
// or an error when an extension is repeated or the v2 one is not a UTF8String.
inline result<std::vector<std::string>> certificate_issuers(const x509_certificate& cert, const std::string& label) {
  bool repeated = false;
  std::vector<std::string> out;
  if (auto v2 = detail::extension_bytes(cert, fulcio_issuer_v2_oid, repeated)) {
    auto p = reinterpret_cast<const unsigned char*>(v2->data());
    ASN1_UTF8STRING* s = d2i_ASN1_UTF8STRING(nullptr, &p, static_cast<long>(v2->size()));
    const bool whole = s && p == reinterpret_cast<const unsigned char*>(v2->data()) + v2->size();
    if (whole) out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
    ASN1_UTF8STRING_free(s);
    ERR_clear_error();
    if (!whole)
      return make_error(errc::untrusted_signer, label + ": the certificate's OIDC issuer extension (" +
                                                    std::string(fulcio_issuer_v2_oid) + ") is not a DER UTF8String");
  }
  if (auto v1 = detail::extension_bytes(cert, fulcio_issuer_v1_oid, repeated)) out.push_back(std::move(*v1));
  if (repeated) return make_error(errc::untrusted_signer, label + ": the certificate repeats an OIDC issuer extension");
  return out;
}

namespace detail {
inline std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s.substr(0, 200));
  return out;
}
}  // namespace detail

// The Sigstore profile of a signing certificate (key usage digitalSignature
// and extended key usage codeSigning, both) and the expected holder: one of
// its emails or URIs is the identity, and every issuer extension it carries
// names the issuer.
inline result<void> verify_certificate_identity(const x509_certificate& leaf, const keyless_identity& expected,
                                                const std::string& label) {
  auto untrusted = [&](const std::string& why) { return make_error(errc::untrusted_signer, label + ": " + why); };
  const std::uint32_t ku = X509_get_key_usage(leaf.get());
  const std::uint32_t eku = X509_get_extended_key_usage(leaf.get());
  if (ku == UINT32_MAX || !(ku & KU_DIGITAL_SIGNATURE))
    return untrusted("the signing certificate's key usage lacks digitalSignature");
  if (eku == UINT32_MAX || !(eku & XKU_CODE_SIGN))
    return untrusted("the signing certificate's extended key usage lacks codeSigning");
  const std::vector<std::string> identities = certificate_identities(leaf);
  if (std::find(identities.begin(), identities.end(), expected.identity) == identities.end())
    return untrusted("the signing certificate was issued to " +
                     (identities.empty() ? std::string("no email or URI") : detail::quoted(identities[0])) + ", not " +
                     detail::quoted(expected.identity));
  auto issuers = certificate_issuers(leaf, label);
  if (!issuers) return std::move(issuers).error_value();
  if (issuers->empty()) return untrusted("the signing certificate names no OIDC issuer");
  for (const std::string& issuer : *issuers)
    if (issuer != expected.issuer)
      return untrusted("the signing certificate's identity was vouched for by " + detail::quoted(issuer) + ", not " +
                       detail::quoted(expected.issuer));
  return {};
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
