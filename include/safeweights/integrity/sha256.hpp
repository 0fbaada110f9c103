// SHA-256 through OpenSSL's EVP interface. Users of this header link libcrypto.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "safeweights/error.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

using sha256_digest = std::array<std::uint8_t, 32>;

// Incremental hashing, for data that arrives in pieces.
class sha256_hasher {
 public:
  sha256_hasher() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
  }
  // Adds bytes to the digest; finish() gives the 32-byte result.
  void update(std::span<const std::byte> bytes) { EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()); }
  sha256_digest finish() {
    sha256_digest d{};
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), d.data(), &n);
    return d;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

// The SHA-256 of a whole buffer.
inline sha256_digest sha256(std::span<const std::byte> bytes) {
  sha256_hasher h;
  h.update(bytes);
  return h.finish();
}

// Lowercase hexadecimal, two digits a byte.
inline std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
