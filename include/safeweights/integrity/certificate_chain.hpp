// X.509 certificates and chain verification with OpenSSL's verifier: a
// signing certificate, the intermediates a bundle carries, and the CAs the
// verifier trusts, checked at a given time (a signature outlives the
// certificate that made it: the time is when it was signed, not now).
#pragma once

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "safeweights/integrity/signing_key.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {
struct x509_free {
  void operator()(X509* c) const noexcept { X509_free(c); }
};
struct x509_store_free {
  void operator()(X509_STORE* s) const noexcept { X509_STORE_free(s); }
};
struct x509_store_ctx_free {
  void operator()(X509_STORE_CTX* c) const noexcept { X509_STORE_CTX_free(c); }
};
struct x509_stack_free {
  void operator()(STACK_OF(X509)* s) const noexcept { sk_X509_free(s); }
};
}  // namespace detail

class x509_certificate {
 public:
  static result<x509_certificate> from_der(std::string_view der, const std::string& label) {
    auto p = reinterpret_cast<const unsigned char*>(der.data());
    X509* c = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    if (c && p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
      X509_free(c);
      c = nullptr;
    }
    if (!c) return make_error(errc::invalid_key, label + ": not a DER X.509 certificate: " + detail::openssl_error());
    return x509_certificate(c);
  }

  // Every certificate in a PEM file (a chain or a bundle of CAs), in order.
  static result<std::vector<x509_certificate>> load_pem_file(const std::string& path) {
    auto text = read_small_file(path, public_key::max_file_bytes);
    if (!text) return make_error(errc::invalid_key, "cannot read the certificate file " + std::move(text).error_value().message);
    return from_pem(*text, path);
  }

  static result<std::vector<x509_certificate>> from_pem(std::string_view text, const std::string& label) {
    auto bio = detail::memory_bio(text);
    std::vector<x509_certificate> out;
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, detail::no_pass_phrase, nullptr)) out.push_back(x509_certificate(c));
    ERR_clear_error();  // the end of the text is reported as an error
    if (out.empty()) return make_error(errc::invalid_key, label + ": holds no PEM certificate");
    return out;
  }

  X509* get() const noexcept { return cert_.get(); }

  std::string der() const {
    unsigned char* out = nullptr;
    int n = i2d_X509(cert_.get(), &out);
    if (n <= 0) throw std::bad_alloc();
    std::string bytes(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
    OPENSSL_free(out);
    return bytes;
  }

  std::string pem() const {
    std::unique_ptr<BIO, detail::bio_free> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert_.get()) != 1) throw std::bad_alloc();
    return detail::bio_text(bio.get());
  }

  std::string subject() const {
    char text[512] = {};
    X509_NAME_oneline(X509_get_subject_name(cert_.get()), text, sizeof text);
    return text;
  }

  result<public_key> key(const std::string& label) const {
    EVP_PKEY* k = X509_get_pubkey(cert_.get());
    if (!k) return make_error(errc::invalid_key, label + ": the certificate's key cannot be read: " + detail::openssl_error());
    return public_key::adopt(k, label + " (certificate " + subject() + ")");
  }

  // Seconds since the epoch of notBefore and notAfter.
  std::int64_t not_before() const { return seconds(X509_get0_notBefore(cert_.get())); }
  std::int64_t not_after() const { return seconds(X509_get0_notAfter(cert_.get())); }

  // Key usage digitalSignature, or extended key usage codeSigning (what model_signing accepts).
  bool can_sign_code() const {
    const std::uint32_t ku = X509_get_key_usage(cert_.get());
    const std::uint32_t eku = X509_get_extended_key_usage(cert_.get());
    return (ku != UINT32_MAX && (ku & KU_DIGITAL_SIGNATURE)) || (eku != UINT32_MAX && (eku & XKU_CODE_SIGN));
  }

 private:
  explicit x509_certificate(X509* c) : cert_(c, detail::x509_free{}) {}
  static std::int64_t seconds(const ASN1_TIME* t) {
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return static_cast<std::int64_t>(timegm(&tm));
  }
  std::shared_ptr<X509> cert_;
};

// Verifies `leaf` up to one of `trusted` (the anchors) through
// `intermediates`, as OpenSSL's verifier does at time `at` (seconds since the
// epoch), then that the leaf may sign code. untrusted_signer says which.
inline result<void> verify_certificate_chain(const x509_certificate& leaf, std::span<const x509_certificate> intermediates,
                                             std::span<const x509_certificate> trusted, std::int64_t at,
                                             const std::string& label) {
  std::unique_ptr<X509_STORE, detail::x509_store_free> store(X509_STORE_new());
  std::unique_ptr<STACK_OF(X509), detail::x509_stack_free> chain(sk_X509_new_null());
  std::unique_ptr<X509_STORE_CTX, detail::x509_store_ctx_free> ctx(X509_STORE_CTX_new());
  if (!store || !chain || !ctx) throw std::bad_alloc();
  for (const auto& c : trusted)
    if (X509_STORE_add_cert(store.get(), c.get()) != 1) ERR_clear_error();  // a duplicate anchor is harmless
  for (const auto& c : intermediates)
    if (!sk_X509_push(chain.get(), c.get())) throw std::bad_alloc();
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), chain.get()) != 1) throw std::bad_alloc();
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at));
  // Code signing: OpenSSL's purpose check would demand the EKU of every CA too; usage is checked below.
  const int ok = X509_verify_cert(ctx.get());
  if (ok != 1) {
    const int why = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return make_error(errc::untrusted_signer, label + ": the certificate " + leaf.subject() +
                                                  " does not chain to a trusted CA at " + std::to_string(at) +
                                                  " (seconds since 1970): " + X509_verify_cert_error_string(why));
  }
  if (!leaf.can_sign_code())
    return make_error(errc::untrusted_signer, label + ": the certificate " + leaf.subject() +
                                                  " may not sign: neither key usage digitalSignature nor extended key "
                                                  "usage codeSigning");
  return {};
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
