// Merkle inclusion proofs of RFC 6962/9162 (Certificate Transparency, and
// Rekor, which uses the same tree): a leaf's hash is SHA-256(0x00 || leaf),
// an inner node's SHA-256(0x01 || left || right). A proof is the audit path
// from one leaf up to the root of a tree of a given size; the verifier
// recomputes the root (RFC 9162 §2.1.3.2) and compares.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "safeweights/integrity/sha256.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

inline std::string merkle_leaf_hash(std::string_view leaf) {
  sha256_hasher h;
  const char prefix = 0;
  h.update(std::as_bytes(std::span(&prefix, 1)));
  h.update(std::as_bytes(std::span(leaf.data(), leaf.size())));
  const sha256_digest d = h.finish();
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

inline std::string merkle_node_hash(std::string_view left, std::string_view right) {
  sha256_hasher h;
  const char prefix = 1;
  h.update(std::as_bytes(std::span(&prefix, 1)));
  h.update(std::as_bytes(std::span(left.data(), left.size())));
  h.update(std::as_bytes(std::span(right.data(), right.size())));
  const sha256_digest d = h.finish();
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// The root that `path` leads to from `leaf_hash` at `index` in a tree of
// `size` leaves; empty when the path cannot belong to such a tree (index out
// of range, a hash not 32 bytes, too few or too many hashes).
inline std::string merkle_root_from_path(std::uint64_t index, std::uint64_t size, std::string_view leaf_hash,
                                         const std::vector<std::string>& path) {
  if (index >= size || leaf_hash.size() != 32) return {};
  std::uint64_t fn = index, sn = size - 1;
  std::string r(leaf_hash);
  for (const std::string& p : path) {
    if (p.size() != 32 || sn == 0) return {};
    if ((fn & 1) || fn == sn) {
      r = merkle_node_hash(p, r);
      // On the right border a node with no right sibling is promoted unchanged: skip those levels.
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = merkle_node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return {};
  return r;
}

// Whether `path` proves the leaf with `leaf_hash` at `index` is in the tree of `size` leaves with `root`.
inline bool verify_merkle_inclusion(std::uint64_t index, std::uint64_t size, std::string_view leaf_hash,
                                    const std::vector<std::string>& path, std::string_view root) {
  const std::string computed = merkle_root_from_path(index, size, leaf_hash, path);
  return !computed.empty() && computed == root;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
