// Detached Ed25519 signatures over a file's SHA-256 and byte length
// (signature_file.hpp has the format). Verification reads the file with
// pread and never maps it, so an untrusted file is checked before anything
// parses or maps it; open_verified then opens the very descriptor it checked.
//
// What it proves: the bytes read during the check are the bytes the key's
// owner signed. A file that someone changes after the check is not covered;
// keep signed files where only you can write, or check a copy in memory
// (verify_signature on a buffer, then reader::from_buffer).
#pragma once

#include <functional>
#include <string>

#include "safeweights/integrity/ed25519_key.hpp"
#include "safeweights/integrity/file_digest.hpp"
#include "safeweights/integrity/signature_file.hpp"
#include "safeweights/io/atomic_file.hpp"
#include "safeweights/io/output_sink.hpp"
#include "safeweights/io/reader.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

inline std::string signature_path(const std::string& file) { return file + ".sig"; }

namespace detail {

struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

inline result<std::array<std::uint8_t, 64>> ed25519_sign(const ed25519_key& key, std::string_view message) {
  if (!key.is_private()) return make_error(errc::invalid_key, "signing needs a private key");
  std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
  std::array<std::uint8_t, 64> sig{};
  std::size_t n = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &n, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      n != sig.size())
    return make_error(errc::invalid_key, "ed25519 signing failed: " + openssl_error());
  return sig;
}

inline bool ed25519_verify(const ed25519_key& key, std::string_view message, std::span<const std::uint8_t, 64> sig) {
  std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  bool ok = EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), reinterpret_cast<const unsigned char*>(message.data()),
                             message.size()) == 1;
  ERR_clear_error();
  return ok;
}

inline result<signature_record> read_signature_file(const std::string& path) {
  auto text = read_small_file(path, max_signature_file_bytes);
  if (!text)
    return make_error(errc::invalid_signature_file,
                      "cannot read the signature file " + std::move(text).error_value().message);
  return parse_signature_file(*text, path);
}

}  // namespace detail

// The signature record of a file whose digest is known (signing needs the private key).
inline result<signature_record> sign_digest(const file_digest& d, const ed25519_key& key) {
  signature_record rec;
  rec.key_id = sha256(std::as_bytes(std::span(key.public_bytes())));
  rec.size = d.size;
  rec.sha256 = d.sha256;
  auto sig = detail::ed25519_sign(key, rec.message());
  if (!sig) return std::move(sig).error_value();
  rec.signature = *sig;
  return rec;
}

// Signs `path`, writing `path`.sig atomically; returns what was written.
inline result<signature_record> sign_file(const std::string& path, const ed25519_key& key) {
  auto d = digest_file(path);
  if (!d) return std::move(d).error_value();
  auto rec = sign_digest(*d, key);
  if (!rec) return std::move(rec).error_value().in(path);
  std::string sig_path = signature_path(path);
  auto out = atomic_file::create(sig_path);
  if (!out) return std::move(out).error_value();
  std::string text = rec->text();
  fd_sink sink(out->fd());
  if (auto w = sink.write(std::as_bytes(std::span(text.data(), text.size()))); !w) return std::move(w).error_value().in(sig_path);
  if (auto f = sink.flush(); !f) return std::move(f).error_value().in(sig_path);
  if (auto c = out->commit(); !c) return std::move(c).error_value();
  return rec;
}

// Checks a record against a key, then against the digest of what it should
// describe. Cheapest first, and the record is authenticated before its
// digest is believed: invalid_key, wrong_key, signature_mismatch, digest_mismatch.
inline result<void> check_signature(const signature_record& rec, const ed25519_key& key,
                                    const std::function<result<file_digest>()>& digest_of_file) {
  auto given = sha256(std::as_bytes(std::span(key.public_bytes())));
  if (given != rec.key_id)
    return make_error(errc::wrong_key, "signed with key " + to_hex(rec.key_id) + ", not with the given key " +
                                           to_hex(given));
  if (!detail::ed25519_verify(key, rec.message(), rec.signature))
    return make_error(errc::signature_mismatch,
                      "the ed25519 signature does not verify: the signature file was altered after signing");
  auto d = digest_of_file();
  if (!d) return std::move(d).error_value();
  if (d->size != rec.size)
    return make_error(errc::digest_mismatch, "the file is " + std::to_string(d->size) + " bytes, but " +
                                                 std::to_string(rec.size) + " were signed: it changed after signing");
  if (d->sha256 != rec.sha256)
    return make_error(errc::digest_mismatch, "sha256 is " + to_hex(d->sha256) + ", but " + to_hex(rec.sha256) +
                                                 " was signed: the file changed after signing");
  return {};
}

// Verifies `file` (by descriptor, read with pread, never mapped) against the
// signature file at `sig_path`.
inline result<void> verify_signature(const file_handle& file, const std::string& label, const std::string& sig_path,
                                     const ed25519_key& key) {
  auto rec = detail::read_signature_file(sig_path);
  if (!rec) return std::move(rec).error_value();
  auto r = check_signature(*rec, key, [&] { return digest_file(file); });
  if (!r) return std::move(r).error_value().in(label);
  return {};
}

inline result<void> verify_signature(const std::string& path, const ed25519_key& key) {
  auto file = file_handle::open_read(path);
  if (!file) return std::move(file).error_value().in(path);
  return verify_signature(*file, path, signature_path(path), key);
}

// A file image in memory (what the caller will then read with from_buffer).
inline result<void> verify_signature(std::span<const std::byte> bytes, const std::string& sig_path,
                                     const ed25519_key& key) {
  auto rec = detail::read_signature_file(sig_path);
  if (!rec) return std::move(rec).error_value();
  return check_signature(*rec, key, [&]() -> result<file_digest> { return digest_bytes(bytes); });
}

// Verifies `path` against `path`.sig, and only then opens it, from the same
// descriptor that was checked.
inline result<reader> open_verified(const std::string& path, const ed25519_key& key, const read_options& options = {}) {
  auto file = file_handle::open_read(path);
  if (!file) return std::move(file).error_value().in(path);
  if (auto v = verify_signature(*file, path, signature_path(path), key); !v) return std::move(v).error_value();
  return reader::open(std::move(*file), path, options);
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
