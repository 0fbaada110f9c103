// Signing keys in PEM through OpenSSL: ECDSA on P-256, P-384 or P-521 (what
// the OpenSSF model-signing tool makes; each signs with the SHA-2 of its
// size, as Sigstore specifies) and Ed25519 (pure, no pre-hash). Private keys
// as `openssl genpkey` writes them (PKCS#8, or SEC1 "EC PRIVATE KEY"),
// unencrypted; public keys as SubjectPublicKeyInfo, PEM or DER.
#pragma once

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "safeweights/integrity/sha256.hpp"
#include "safeweights/io/file_handle.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

// The oldest error OpenSSL queued, as text; the queue is emptied.
inline std::string openssl_error() {
  unsigned long e = ERR_get_error();
  char text[256] = "unknown error";
  if (e) ERR_error_string_n(e, text, sizeof text);
  ERR_clear_error();
  return text;
}

struct pkey_free {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct bio_free {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

inline std::unique_ptr<BIO, bio_free> memory_bio(std::string_view bytes) {
  std::unique_ptr<BIO, bio_free> bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
  if (!bio) throw std::bad_alloc();
  return bio;
}

inline std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// Never prompt for a pass phrase (OpenSSL's default would read the terminal).
inline int no_pass_phrase(char*, int, int, void*) { return 0; }

}  // namespace detail

enum class key_algorithm : std::uint8_t { ecdsa_p256, ecdsa_p384, ecdsa_p521, ed25519 };

inline std::string_view key_algorithm_name(key_algorithm a) {
  switch (a) {
    case key_algorithm::ecdsa_p256: return "ecdsa-p256";
    case key_algorithm::ecdsa_p384: return "ecdsa-p384";
    case key_algorithm::ecdsa_p521: return "ecdsa-p521";
    case key_algorithm::ed25519: return "ed25519";
  }
  return "unknown";
}

namespace detail {

// The algorithm of a key OpenSSL read, or an error naming what it is instead.
inline result<key_algorithm> algorithm_of(EVP_PKEY* k, const std::string& label) {
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) return key_algorithm::ed25519;
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
    char curve[64] = {};
    std::size_t n = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve, &n) == 1) {
      std::string_view c(curve, n);
      if (c == "prime256v1" || c == "P-256") return key_algorithm::ecdsa_p256;
      if (c == "secp384r1" || c == "P-384") return key_algorithm::ecdsa_p384;
      if (c == "secp521r1" || c == "P-521") return key_algorithm::ecdsa_p521;
      return make_error(errc::invalid_key, label + ": an elliptic-curve key on " + std::string(c) +
                                               "; supported: P-256, P-384, P-521, Ed25519");
    }
  }
  return make_error(errc::invalid_key, label + ": not an ECDSA (P-256, P-384, P-521) or Ed25519 key");
}

// ECDSA signs a SHA-2 of the key's size (Sigstore's key details); Ed25519 signs the message itself.
inline const EVP_MD* digest_for(key_algorithm a) {
  switch (a) {
    case key_algorithm::ecdsa_p256: return EVP_sha256();
    case key_algorithm::ecdsa_p384: return EVP_sha384();
    case key_algorithm::ecdsa_p521: return EVP_sha512();
    case key_algorithm::ed25519: return nullptr;
  }
  return nullptr;
}

}  // namespace detail

class public_key {
 public:
  // No PEM key or certificate file is anywhere near this large.
  static constexpr std::size_t max_file_bytes = 1 << 20;

  // SubjectPublicKeyInfo, PEM ("PUBLIC KEY") or DER.
  static result<public_key> from_bytes(std::string_view bytes, const std::string& label) {
    if (bytes.find("PRIVATE KEY-----") != std::string_view::npos)
      return make_error(errc::invalid_key, label + ": is a private key; give the public key (openssl pkey -in KEY -pubout)");
    EVP_PKEY* k = nullptr;
    if (bytes.find("-----BEGIN") != std::string_view::npos) {
      auto bio = detail::memory_bio(bytes);
      k = PEM_read_bio_PUBKEY(bio.get(), nullptr, detail::no_pass_phrase, nullptr);
    } else {
      auto p = reinterpret_cast<const unsigned char*>(bytes.data());
      k = d2i_PUBKEY(nullptr, &p, static_cast<long>(bytes.size()));
      if (k && p != reinterpret_cast<const unsigned char*>(bytes.data()) + bytes.size()) {
        EVP_PKEY_free(k);
        k = nullptr;
      }
    }
    if (!k) return make_error(errc::invalid_key, label + ": not a public key (PEM or DER): " + detail::openssl_error());
    return adopt(k, label);
  }

  static result<public_key> load(const std::string& path) {
    auto bytes = read_small_file(path, max_file_bytes);
    if (!bytes) return make_error(errc::invalid_key, "cannot read the key file " + std::move(bytes).error_value().message);
    return from_bytes(*bytes, path);
  }

  // Takes ownership of `k` (a key OpenSSL made), checking its algorithm.
  static result<public_key> adopt(EVP_PKEY* k, const std::string& label) {
    std::shared_ptr<EVP_PKEY> key(k, detail::pkey_free{});
    auto a = detail::algorithm_of(k, label);
    if (!a) return std::move(a).error_value();
    return public_key(std::move(key), *a);
  }

  key_algorithm algorithm() const noexcept { return algorithm_; }
  EVP_PKEY* get() const noexcept { return key_.get(); }

  // SubjectPublicKeyInfo PEM, 64 columns: what Python's cryptography writes too.
  std::string pem() const {
    std::unique_ptr<BIO, detail::bio_free> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) throw std::bad_alloc();
    return detail::bio_text(bio.get());
  }
  // model_signing's key hint: the hex SHA-256 of pem().
  std::string hint() const {
    const std::string text = pem();
    return to_hex(sha256(std::as_bytes(std::span(text.data(), text.size()))));
  }

  bool verify(std::string_view message, std::string_view signature) const {
    std::unique_ptr<EVP_MD_CTX, detail::md_ctx_free> ctx(EVP_MD_CTX_new());
    if (!ctx) throw std::bad_alloc();
    const bool ok =
        EVP_DigestVerifyInit(ctx.get(), nullptr, detail::digest_for(algorithm_), nullptr, key_.get()) == 1 &&
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                         reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
    ERR_clear_error();
    return ok;
  }

  bool operator==(const public_key& other) const noexcept { return EVP_PKEY_eq(key_.get(), other.key_.get()) == 1; }

 private:
  public_key(std::shared_ptr<EVP_PKEY> key, key_algorithm a) : key_(std::move(key)), algorithm_(a) {}
  std::shared_ptr<EVP_PKEY> key_;
  key_algorithm algorithm_ = key_algorithm::ed25519;
};

class private_key {
 public:
  static result<private_key> generate(key_algorithm a) {
    EVP_PKEY* k = nullptr;
    switch (a) {
      case key_algorithm::ecdsa_p256: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
      case key_algorithm::ecdsa_p384: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
      case key_algorithm::ecdsa_p521: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"); break;
      case key_algorithm::ed25519: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    }
    if (!k) return make_error(errc::invalid_key, "cannot generate a key: " + detail::openssl_error());
    return private_key(std::shared_ptr<EVP_PKEY>(k, detail::pkey_free{}), a);
  }

  static result<private_key> from_pem(std::string_view pem, const std::string& label) {
    if (pem.find("PRIVATE KEY-----") == std::string_view::npos)
      return make_error(errc::invalid_key, label + ": not a PEM private key (signing needs the private key)");
    auto bio = detail::memory_bio(pem);
    EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, detail::no_pass_phrase, nullptr);
    if (!k) return make_error(errc::invalid_key, label + ": not a PEM private key (or it is encrypted): " + detail::openssl_error());
    std::shared_ptr<EVP_PKEY> key(k, detail::pkey_free{});
    auto a = detail::algorithm_of(k, label);
    if (!a) return std::move(a).error_value();
    return private_key(std::move(key), *a);
  }

  static result<private_key> load(const std::string& path) {
    auto pem = read_small_file(path, public_key::max_file_bytes);
    if (!pem) return make_error(errc::invalid_key, "cannot read the key file " + std::move(pem).error_value().message);
    return from_pem(*pem, path);
  }

  key_algorithm algorithm() const noexcept { return algorithm_; }

  public_key public_half() const {
    std::unique_ptr<BIO, detail::bio_free> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) throw std::bad_alloc();
    return public_key::from_bytes(detail::bio_text(bio.get()), "<public half>").value();
  }

  std::string pem() const {
    std::unique_ptr<BIO, detail::bio_free> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      throw std::bad_alloc();
    return detail::bio_text(bio.get());
  }

  // ECDSA signatures are DER (what Sigstore bundles carry); Ed25519's are 64 bytes.
  result<std::string> sign(std::string_view message) const {
    std::unique_ptr<EVP_MD_CTX, detail::md_ctx_free> ctx(EVP_MD_CTX_new());
    if (!ctx) throw std::bad_alloc();
    std::size_t n = 0;
    auto msg = reinterpret_cast<const unsigned char*>(message.data());
    if (EVP_DigestSignInit(ctx.get(), nullptr, detail::digest_for(algorithm_), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &n, msg, message.size()) != 1)
      return make_error(errc::invalid_key, "signing failed: " + detail::openssl_error());
    std::string sig(n, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, msg, message.size()) != 1)
      return make_error(errc::invalid_key, "signing failed: " + detail::openssl_error());
    sig.resize(n);
    return sig;
  }

  EVP_PKEY* get() const noexcept { return key_.get(); }

 private:
  private_key(std::shared_ptr<EVP_PKEY> key, key_algorithm a) : key_(std::move(key)), algorithm_(a) {}
  std::shared_ptr<EVP_PKEY> key_;
  key_algorithm algorithm_ = key_algorithm::ed25519;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
