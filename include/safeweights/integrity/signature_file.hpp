// The detached signature file FILE.sig (spec/EXTENSIONS.md §2): five lines of
// ASCII text, each ending in LF.
//
//   safeweights-signature-v1
//   key: <64 hex: SHA-256 of the signer's raw Ed25519 public key>
//   size: <the signed file's length in bytes, decimal>
//   sha256: <64 hex: SHA-256 of the whole signed file>
//   ed25519: <128 hex: Ed25519 signature of the first four lines>
//
// The signed message is the first four lines exactly as they stand (with
// their LFs), so `head -n 4 FILE.sig` is the message and stock OpenSSL can
// check it. Parsing is strict: one spelling per value, nothing else allowed.
#pragma once

#include <charconv>
#include <string>

#include "safeweights/integrity/hex.hpp"
#include "safeweights/integrity/sha256.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

inline constexpr std::string_view signature_magic = "safeweights-signature-v1";
// The longest valid signature file is 333 bytes; reading stops past this.
inline constexpr std::size_t max_signature_file_bytes = 1024;

struct signature_record {
  std::array<std::uint8_t, 32> key_id{};
  std::uint64_t size = 0;
  sha256_digest sha256{};
  std::array<std::uint8_t, 64> signature{};

  // The four lines that are signed.
  std::string message() const {
    return std::string(signature_magic) + "\nkey: " + to_hex(key_id) + "\nsize: " + std::to_string(size) +
           "\nsha256: " + to_hex(sha256) + "\n";
  }
  std::string text() const { return message() + "ed25519: " + to_hex(signature) + "\n"; }
};

inline result<signature_record> parse_signature_file(std::string_view text, const std::string& label) {
  auto bad = [&](const std::string& why) {
    return make_error(errc::invalid_signature_file, label + ": not a safeweights signature file: " + why);
  };
  std::string_view lines[5];
  std::string_view rest = text;
  for (int i = 0; i < 5; ++i) {
    auto lf = rest.find('\n');
    if (lf == std::string_view::npos)
      return bad(i == 0 && rest.empty() ? "it is empty" : "line " + std::to_string(i + 1) + " is missing or unterminated (truncated?)");
    lines[i] = rest.substr(0, lf);
    rest.remove_prefix(lf + 1);
  }
  if (!rest.empty()) return bad("text after the fifth line");
  if (lines[0] != signature_magic) return bad("line 1 is not `" + std::string(signature_magic) + "`");
  auto field = [&](int i, std::string_view name) -> std::optional<std::string_view> {
    std::string prefix = std::string(name) + ": ";
    if (lines[i].substr(0, prefix.size()) != prefix) return std::nullopt;
    return lines[i].substr(prefix.size());
  };
  signature_record rec;
  auto key = field(1, "key");
  auto key_id = key ? parse_hex<32>(*key) : std::nullopt;
  if (!key_id) return bad("line 2 is not `key: ` and 64 lowercase hex digits");
  rec.key_id = *key_id;
  auto size = field(2, "size");
  if (!size || size->empty() || (size->size() > 1 && (*size)[0] == '0'))
    return bad("line 3 is not `size: ` and a decimal number");
  auto [end, ec] = std::from_chars(size->data(), size->data() + size->size(), rec.size);
  if (ec != std::errc() || end != size->data() + size->size()) return bad("line 3 is not `size: ` and a decimal number below 2^64");
  auto digest = field(3, "sha256");
  auto sha = digest ? parse_hex<32>(*digest) : std::nullopt;
  if (!sha) return bad("line 4 is not `sha256: ` and 64 lowercase hex digits");
  rec.sha256 = *sha;
  auto sig = field(4, "ed25519");
  auto bytes = sig ? parse_hex<64>(*sig) : std::nullopt;
  if (!bytes) return bad("line 5 is not `ed25519: ` and 128 lowercase hex digits (truncated?)");
  rec.signature = *bytes;
  return rec;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
