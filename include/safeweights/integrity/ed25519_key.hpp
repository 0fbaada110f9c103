// Ed25519 keys in the PEM files that `openssl genpkey -algorithm ed25519`
// writes (PKCS#8 "PRIVATE KEY") and `openssl pkey -pubout` derives
// ("PUBLIC KEY", SubjectPublicKeyInfo). A key's id is the SHA-256 of its raw
// 32-byte public key, in hex: it names the key in signature files and messages.
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <iterator>
#include <memory>
#include <string>

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

}  // namespace detail

class ed25519_key {
 public:
  // No PEM key file is anywhere near this large; a bigger one is not a key.
  static constexpr std::size_t max_pem_bytes = 64 * 1024;

  static result<ed25519_key> generate() {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (!k) return make_error(errc::invalid_key, "cannot generate an ed25519 key: " + detail::openssl_error());
    return make(std::unique_ptr<EVP_PKEY, detail::pkey_free>(k), true, "<generated>");
  }

  // `label` names the key in messages (its path).
  static result<ed25519_key> from_pem(std::string_view pem, bool want_private, const std::string& label) {
    const bool is_private = pem.find("PRIVATE KEY-----") != std::string_view::npos;
    if (is_private != want_private)
      return make_error(errc::invalid_key, label + ": " +
                                               (want_private ? "is a public key; signing needs the private key"
                                                             : "is a private key; give the public key (openssl pkey "
                                                               "-in KEY -pubout)"));
    std::unique_ptr<BIO, detail::bio_free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) throw std::bad_alloc();
    // Never prompt for a pass phrase (OpenSSL's default would read the terminal).
    pem_password_cb* no_pass_phrase = [](char*, int, int, void*) { return 0; };
    EVP_PKEY* k = want_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_pass_phrase, nullptr)
                               : PEM_read_bio_PUBKEY(bio.get(), nullptr, no_pass_phrase, nullptr);
    if (!k) return make_error(errc::invalid_key, label + ": not a PEM key: " + detail::openssl_error());
    std::unique_ptr<EVP_PKEY, detail::pkey_free> key(k);
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519)
      return make_error(errc::invalid_key, label + ": not an ed25519 key (make one with `openssl genpkey "
                                                   "-algorithm ed25519`)");
    return make(std::move(key), want_private, label);
  }

  static result<ed25519_key> load_private(const std::string& path) { return load(path, true); }
  static result<ed25519_key> load_public(const std::string& path) { return load(path, false); }

  bool is_private() const noexcept { return private_; }
  const std::array<std::uint8_t, 32>& public_bytes() const noexcept { return public_; }
  // Hex SHA-256 of the raw public key.
  std::string id() const { return to_hex(sha256(std::as_bytes(std::span(public_)))); }
  EVP_PKEY* get() const noexcept { return key_.get(); }

  std::string private_pem() const { return pem(true); }
  std::string public_pem() const { return pem(false); }

 private:
  ed25519_key(std::shared_ptr<EVP_PKEY> key, bool is_private, std::array<std::uint8_t, 32> pub)
      : key_(std::move(key)), private_(is_private), public_(pub) {}

  static result<ed25519_key> make(std::unique_ptr<EVP_PKEY, detail::pkey_free> key, bool is_private,
                                  const std::string& label) {
    std::array<std::uint8_t, 32> pub{};
    std::size_t n = pub.size();
    if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &n) != 1 || n != pub.size())
      return make_error(errc::invalid_key, label + ": cannot read the public key: " + detail::openssl_error());
    return ed25519_key(std::shared_ptr<EVP_PKEY>(key.release(), detail::pkey_free{}), is_private, pub);
  }

  static result<ed25519_key> load(const std::string& path, bool want_private) {
    auto pem = read_small_file(path, max_pem_bytes);
    if (!pem) return make_error(errc::invalid_key, "cannot read the key file " + std::move(pem).error_value().message);
    return from_pem(*pem, want_private, path);
  }

  std::string pem(bool as_private) const {
    std::unique_ptr<BIO, detail::bio_free> bio(BIO_new(BIO_s_mem()));
    if (!bio) throw std::bad_alloc();
    int ok = as_private ? PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr)
                        : PEM_write_bio_PUBKEY(bio.get(), key_.get());
    if (ok != 1) return {};
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
  }

  std::shared_ptr<EVP_PKEY> key_;
  bool private_ = false;
  std::array<std::uint8_t, 32> public_{};
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
