// A transparency log's checkpoint: a signed note (golang.org/x/mod/sumdb/note,
// as Rekor writes it) whose text is the log's origin, its tree size and its
// base64 root hash, each on a line, and optional further lines; then a blank
// line, then signature lines "— <name> <base64(4-byte key hint || signature)>".
// The signature covers the text up to and including its last newline. Rekor's
// key hint is the first 4 bytes of its log id (the SHA-256 of its key's DER).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "safeweights/error.hpp"
#include "safeweights/integrity/base64.hpp"
#include "safeweights/integrity/signing_key.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

struct checkpoint_signature {
  std::string name;
  std::string key_hint;  // 4 bytes
  std::string signature;
};

struct signed_checkpoint {
  std::string text;  // what the signatures cover, ending in '\n'
  std::string origin;
  std::uint64_t tree_size = 0;
  std::string root_hash;  // decoded, 32 bytes
  std::vector<checkpoint_signature> signatures;
};

namespace detail {
// A decimal number without sign or leading zeros that fits 64 bits.
inline std::optional<std::uint64_t> parse_decimal(std::string_view s) noexcept {
  if (s.empty() || s.size() > 20 || (s[0] == '0' && s.size() > 1)) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}
}  // namespace detail

// Parses a checkpoint; `label` starts every message (errc::untrusted_signer: the log's word is not readable).
inline result<signed_checkpoint> parse_checkpoint(std::string_view note, const std::string& label) {
  auto bad = [&](const std::string& why) {
    return make_error(errc::untrusted_signer, label + ": the transparency log checkpoint is malformed: " + why);
  };
  if (note.size() > 65536) return bad("it is over 64 KiB");
  const std::size_t split = note.find("\n\n");
  if (split == std::string_view::npos || note.find("\n\n", split + 1) != std::string_view::npos)
    return bad("it must hold exactly one blank line between the text and the signatures");
  signed_checkpoint cp;
  cp.text = std::string(note.substr(0, split + 1));
  std::vector<std::string_view> lines;
  for (std::size_t at = 0; at < cp.text.size();) {
    const std::size_t end = cp.text.find('\n', at);
    lines.push_back(std::string_view(cp.text).substr(at, end - at));
    at = end + 1;
  }
  if (lines.size() < 3) return bad("its text has fewer than three lines (origin, tree size, root hash)");
  if (lines[0].empty()) return bad("its origin line is empty");
  cp.origin = std::string(lines[0]);
  auto size = detail::parse_decimal(lines[1]);
  if (!size) return bad("its tree size is not a decimal number");
  cp.tree_size = *size;
  auto root = base64_decode(lines[2]);
  if (!root || root->size() != 32) return bad("its root hash is not 32 bytes of base64");
  cp.root_hash = std::move(*root);
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty() || sigs.back() != '\n') return bad("its signature block is empty or does not end in a newline");
  static constexpr std::string_view dash = "\xE2\x80\x94 ";  // U+2014 EM DASH and a space
  while (!sigs.empty()) {
    const std::size_t end = sigs.find('\n');
    if (end == std::string_view::npos) return bad("its signature block does not end in a newline");
    std::string_view line = sigs.substr(0, end);
    sigs.remove_prefix(end + 1);
    if (line.substr(0, dash.size()) != dash) return bad("a signature line does not start with an em dash");
    line.remove_prefix(dash.size());
    const std::size_t space = line.find(' ');
    if (space == 0 || space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos)
      return bad("a signature line is not \"— <name> <signature>\"");
    auto bytes = base64_decode(line.substr(space + 1));
    if (!bytes || bytes->size() < 5) return bad("a signature is not base64 of a key hint and a signature");
    cp.signatures.push_back({std::string(line.substr(0, space)), bytes->substr(0, 4), bytes->substr(4)});
  }
  return cp;
}

// Verifies that the signature whose hint is `log_id`'s first 4 bytes is
// `key`'s over the text; signatures by other keys (witnesses) are ignored, but
// one by the log must be there and verify.
inline result<void> verify_checkpoint_signature(const signed_checkpoint& cp, const public_key& key, std::string_view log_id,
                                                const std::string& label) {
  bool verified = false;
  for (const checkpoint_signature& s : cp.signatures) {
    if (log_id.size() < 4 || s.key_hint != log_id.substr(0, 4)) continue;
    if (!key.verify(cp.text, s.signature))
      return make_error(errc::untrusted_signer, label + ": the transparency log checkpoint signature by " + s.name +
                                                    " does not verify with the log's key");
    verified = true;
  }
  if (!verified)
    return make_error(errc::untrusted_signer, label + ": the transparency log checkpoint is not signed by the log's key");
  return {};
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
