// Re-hashing stored objects against the digests the database records, the
// one honest check that bytes are unchanged: several files are hashed at
// once (one thread per file, up to the cores), each sequentially at
// SHA-256's speed. A missing object, a size or a digest that differs is
// errc::digest_mismatch naming the file and the object.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "safeweights/integrity/file_digest.hpp"
#include "safeweights/integrity/sha256.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace registry_detail {

struct object_expectation {
  std::string label;   // how messages name it: "name@3: model.safetensors"
  std::string object;  // its path in the store
  std::string sha256;  // recorded, lowercase hex
  std::uint64_t size = 0;
};

inline result<void> check_object(const object_expectation& e, bool rehash) {
  auto mismatch = [&](const std::string& why) {
    return make_error(errc::digest_mismatch,
                      (e.label.empty() ? std::string() : e.label + ": ") + "the stored file " + e.object + " " + why);
  };
  struct stat st;
  if (::stat(e.object.c_str(), &st) != 0) return mismatch("is missing");
  if (static_cast<std::uint64_t>(st.st_size) != e.size)
    return mismatch("is " + std::to_string(st.st_size) + " bytes, recorded " + std::to_string(e.size));
  if (!rehash) return {};
  auto d = digest_file(e.object);
  if (!d) return std::move(d).error_value();
  const std::string got = to_hex(d->sha256);
  if (got != e.sha256) return mismatch("has SHA-256 " + got + ", recorded " + e.sha256);
  return {};
}

// One outcome per expectation, in order.
inline std::vector<result<void>> check_objects(const std::vector<object_expectation>& all, bool rehash) {
  std::vector<std::optional<result<void>>> outcomes(all.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < all.size();) outcomes[i] = check_object(all[i], rehash);
  };
  const std::size_t threads =
      rehash ? std::min<std::size_t>(all.size(), std::max(1u, std::thread::hardware_concurrency())) : 1;
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  std::vector<result<void>> out;
  out.reserve(all.size());
  for (auto& o : outcomes) out.push_back(std::move(*o));
  return out;
}

}  // namespace registry_detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
