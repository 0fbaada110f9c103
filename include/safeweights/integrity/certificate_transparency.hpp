// Signed certificate timestamps (RFC 6962 §3.2) embedded in a Fulcio
// certificate: a certificate transparency log's promise that it logged the
// certificate's precertificate. Each signs, with the log's key, the
// timestamp, the SHA-256 of the issuer's key and the certificate's TBS part
// without the SCT extension. Verified here against the trust root's ctlogs,
// as sigstore-python and sigstore-go do; an SCT of a log the root does not
// name is no evidence and is passed over.
#pragma once

#include <openssl/ct.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "safeweights/integrity/certificate_chain.hpp"
#include "safeweights/integrity/sha256.hpp"
#include "safeweights/integrity/transparency_log.hpp"
#include "safeweights/integrity/trust_root.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

inline void append_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// The certificate's TBS part, DER, without its SCT list extension: what the precertificate was.
inline std::string precertificate_tbs(const x509_certificate& cert) {
  std::unique_ptr<X509, x509_free> copy(X509_dup(cert.get()));
  if (!copy) throw std::bad_alloc();
  const int at = X509_get_ext_by_NID(copy.get(), NID_ct_precert_scts, -1);
  if (at >= 0) X509_EXTENSION_free(X509_delete_ext(copy.get(), at));
  unsigned char* out = nullptr;
  const int n = i2d_re_X509_tbs(copy.get(), &out);
  if (n <= 0) throw std::bad_alloc();
  std::string tbs(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return tbs;
}

inline std::string spki_der(const x509_certificate& cert) {
  unsigned char* out = nullptr;
  const int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &out);
  if (n <= 0) throw std::bad_alloc();
  std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return der;
}

struct sct_list_free {
  void operator()(STACK_OF(SCT)* s) const noexcept { SCT_LIST_free(s); }
};

}  // namespace detail

// The bytes an SCT's signature covers for a precertificate entry (RFC 6962 §3.2).
inline std::string sct_signed_data(std::uint64_t timestamp_ms, std::string_view issuer_spki_der, std::string_view tbs,
                                   std::string_view extensions) {
  std::string out;
  out += '\0';  // version v1
  out += '\0';  // signature type certificate_timestamp
  detail::append_be(out, timestamp_ms, 8);
  detail::append_be(out, 1, 2);  // entry type precert_entry
  const sha256_digest key_hash = sha256(std::as_bytes(std::span(issuer_spki_der.data(), issuer_spki_der.size())));
  out.append(reinterpret_cast<const char*>(key_hash.data()), key_hash.size());
  detail::append_be(out, tbs.size(), 3);
  out += tbs;
  detail::append_be(out, extensions.size(), 2);
  out += extensions;
  return out;
}

// Verifies the leaf's embedded SCTs: every SCT of a ctlog of `root` valid at
// the SCT's time must verify, and at least one must. `issuer` is the
// certificate that issued the leaf (its key is part of what was signed).
inline result<void> verify_embedded_scts(const x509_certificate& leaf, const x509_certificate& issuer, const trust_root& root,
                                         const std::string& label) {
  auto fail = [&](const std::string& why) { return make_error(errc::untrusted_signer, label + ": " + why); };
  int critical = 0;
  std::unique_ptr<STACK_OF(SCT), detail::sct_list_free> scts(
      static_cast<STACK_OF(SCT)*>(X509_get_ext_d2i(leaf.get(), NID_ct_precert_scts, &critical, nullptr)));
  ERR_clear_error();
  if (!scts) {
    // -1: absent; -2: repeated; otherwise present but unreadable.
    return fail(critical == -1 ? "the signing certificate has no signed certificate timestamp (certificate transparency)"
                               : "the signing certificate's signed certificate timestamps are unreadable or repeated");
  }
  const std::string tbs = detail::precertificate_tbs(leaf);
  const std::string issuer_key = detail::spki_der(issuer);
  int verified = 0;
  for (int i = 0; i < sk_SCT_num(scts.get()); ++i) {
    const SCT* sct = sk_SCT_value(scts.get(), i);
    if (SCT_get_version(sct) != SCT_VERSION_V1) continue;
    unsigned char* id = nullptr;
    const std::size_t id_size = SCT_get0_log_id(sct, &id);
    const std::uint64_t ms = SCT_get_timestamp(sct);
    if (ms / 1000 > static_cast<std::uint64_t>(INT64_MAX)) return fail("an SCT's timestamp is out of range");
    const auto at = static_cast<std::int64_t>(ms / 1000);
    const trusted_log* log = find_trusted_log(root.ctlogs, std::string_view(reinterpret_cast<char*>(id), id_size), at);
    if (!log) continue;
    if (SCT_get_signature_nid(sct) != NID_ecdsa_with_SHA256 || log->key.algorithm() != key_algorithm::ecdsa_p256)
      return fail("the signing certificate's SCT from " + log->base_url + " is not ECDSA P-256 with SHA-256 (RFC 6962)");
    unsigned char* ext = nullptr;
    const std::size_t ext_size = SCT_get0_extensions(sct, &ext);
    unsigned char* sig = nullptr;
    const std::size_t sig_size = SCT_get0_signature(sct, &sig);
    const std::string data =
        sct_signed_data(ms, issuer_key, tbs, std::string_view(reinterpret_cast<char*>(ext), ext_size));
    if (!log->key.verify(data, std::string_view(reinterpret_cast<char*>(sig), sig_size)))
      return fail("the signing certificate's SCT from " + log->base_url + " does not verify with that log's key");
    ++verified;
  }
  if (verified == 0)
    return fail("the signing certificate has no signed certificate timestamp from a certificate transparency log the trust "
                "root trusts at the time of the timestamp");
  return {};
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
