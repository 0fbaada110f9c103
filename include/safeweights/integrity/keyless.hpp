// Keyless Sigstore signatures, verified offline: the signing certificate was
// issued by a Fulcio CA of the trust root to the expected identity, vouched
// for by the expected OIDC issuer, logged by a trusted certificate
// transparency log (its embedded SCT), and was valid when the signature
// entered a trusted transparency log (Rekor) whose entry records this very
// signature.
// What comes back is the certificate's key, which the caller verifies the
// DSSE signature with. What cannot be checked offline here is reported in
// `notes` as "not checked: ...", never passed silently.
#pragma once

#include <string>
#include <vector>

#include "safeweights/integrity/certificate_chain.hpp"
#include "safeweights/integrity/certificate_transparency.hpp"
#include "safeweights/integrity/fulcio_certificate.hpp"
#include "safeweights/integrity/sigstore_bundle.hpp"
#include "safeweights/integrity/transparency_log.hpp"
#include "safeweights/integrity/trust_root.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

namespace detail {

// The leaf chains, at `at`, to one of the trust root's CAs valid then.
inline result<void> verify_fulcio_chain(const x509_certificate& leaf, std::span<const x509_certificate> extra,
                                        const trust_root& root, std::int64_t at, const std::string& label) {
  std::string last_failure = label + ": no certificate authority of the trust root is valid at " + std::to_string(at);
  for (const trusted_authority& ca : root.certificate_authorities) {
    if (!ca.valid_for.covers(at)) continue;
    // The chain's last certificate is the anchor; the others, and any the bundle carries, are intermediates.
    std::vector<x509_certificate> intermediates(ca.chain.begin(), ca.chain.end() - 1);
    intermediates.insert(intermediates.end(), extra.begin(), extra.end());
    auto ok = verify_certificate_chain(leaf, intermediates, std::span(ca.chain).last(1), at, label);
    if (ok) return {};
    last_failure = ok.error_value().message;
  }
  return make_error(errc::untrusted_signer, last_failure);
}

// The certificate among the trust root's CAs and the bundle's extra
// certificates that issued `leaf` (names match and its key verifies the
// leaf's signature), or null.
inline const x509_certificate* find_issuer(const x509_certificate& leaf, std::span<const x509_certificate> extra,
                                           const trust_root& root) {
  auto issued = [&](const x509_certificate& c) {
    const bool ok = X509_check_issued(c.get(), leaf.get()) == X509_V_OK && X509_verify(leaf.get(), X509_get0_pubkey(c.get())) == 1;
    ERR_clear_error();
    return ok;
  };
  for (const x509_certificate& c : extra)
    if (issued(c)) return &c;
  for (const trusted_authority& ca : root.certificate_authorities)
    for (const x509_certificate& c : ca.chain)
      if (issued(c)) return &c;
  return nullptr;
}
}  // namespace detail

// The signing certificate's key once the bundle's certificate, identity and
// log entries hold; untrusted_signer names what does not. Needs at least one
// log entry, and every entry must verify.
inline result<public_key> verify_keyless(const sigstore_bundle& bundle, const trust_root& root, const keyless_identity& expected,
                                         std::vector<std::string>& notes, const std::string& label) {
  auto untrusted = [&](const std::string& why) { return make_error(errc::untrusted_signer, label + ": " + why); };
  if (bundle.kind == sigstore_bundle::material::public_key || bundle.certificates.empty())
    return untrusted("the bundle holds a public key, not a signing certificate: it is not a keyless signature");
  auto leaf = x509_certificate::from_der(bundle.certificates[0], label + ": the signing certificate");
  if (!leaf) return make_error(errc::invalid_signature, std::move(leaf).error_value().message);
  std::vector<x509_certificate> extra;
  for (std::size_t i = 1; i < bundle.certificates.size(); ++i) {
    auto c = x509_certificate::from_der(bundle.certificates[i], label + ": certificate " + std::to_string(i) + " of the bundle");
    if (!c) return make_error(errc::invalid_signature, std::move(c).error_value().message);
    extra.push_back(std::move(*c));
  }
  if (bundle.tlog_entries.empty()) return untrusted("the bundle has no transparency log entry: a keyless signature needs one");
  // Every entry must hold: an entry that fails is a bundle someone altered.
  for (const transparency_log_entry& e : bundle.tlog_entries) {
    if (auto ok = verify_tlog_entry(e, bundle, root, notes, label); !ok) return std::move(ok).error_value();
    const std::int64_t at = e.integrated_time;
    // OpenSSL's chain check below fails on this too, with a vaguer message.
    if (at < leaf->not_before() || at > leaf->not_after())
      return untrusted("the signing certificate was not valid when the log integrated the signature at " + std::to_string(at) +
                       " (valid " + std::to_string(leaf->not_before()) + " to " + std::to_string(leaf->not_after()) + ")");
    if (auto ok = detail::verify_fulcio_chain(*leaf, extra, root, at, label); !ok) return std::move(ok).error_value();
  }
  if (auto ok = verify_certificate_identity(*leaf, expected, label); !ok) return std::move(ok).error_value();
  const x509_certificate* issuer = detail::find_issuer(*leaf, extra, root);
  if (!issuer) return untrusted("the signing certificate's issuer is not among the trust root's certificates");
  if (auto ok = verify_embedded_scts(*leaf, *issuer, root, label); !ok) return std::move(ok).error_value();
  if (!bundle.rfc3161_timestamps.empty())
    notes.push_back("not checked: " + label + ": " + std::to_string(bundle.rfc3161_timestamps.size()) +
                    " RFC 3161 timestamp(s); the transparency log's signed time was used");
  return leaf->key(label + ": the signing certificate");
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
