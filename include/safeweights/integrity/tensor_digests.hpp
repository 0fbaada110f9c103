// SHA-256 of every tensor's bytes, in parallel across tensors: each thread
// takes the largest tensor nobody has taken yet, so one big tensor and many
// small ones keep all threads busy until the end. A tensor's own digest is
// sequential; it is computed in place from the mapping (or from the reader's
// copy in io_mode::pread).
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "safeweights/integrity/sha256.hpp"
#include "safeweights/io/reader.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// Below this many bytes in all, one thread is faster than starting others.
inline constexpr std::uint64_t parallel_digest_min_bytes = std::uint64_t{4} << 20;

// Digests of r.tensors(), in the same (offset) order. `threads` 0 means one
// per hardware thread.
inline result<std::vector<sha256_digest>> digest_tensors(const reader& r, unsigned threads = 0) {
  auto tensors = r.tensors();
  std::vector<sha256_digest> out(tensors.size());
  std::vector<std::uint32_t> order(tensors.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return tensors[a].byte_size() > tensors[b].byte_size();
  });
  std::uint64_t total = r.index().data_size();
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  if (total < parallel_digest_min_bytes) threads = 1;
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, tensors.size())));

  std::atomic<std::size_t> next{0};
  std::mutex failure_lock;
  std::optional<error> failure;
  std::exception_ptr thrown;
  auto work = [&] {
    try {
      for (std::size_t k; (k = next.fetch_add(1)) < order.size();) {
        const tensor_info& t = tensors[order[k]];
        auto view = r.tensor(t);
        if (!view) {
          std::lock_guard lock(failure_lock);
          if (!failure) failure = std::move(view).error_value();
          next = order.size();
          return;
        }
        out[order[k]] = sha256(view->bytes());
      }
    } catch (...) {
      std::lock_guard lock(failure_lock);
      if (!thrown) thrown = std::current_exception();
      next = order.size();
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (thrown) std::rethrow_exception(thrown);
  if (failure) return std::move(*failure);
  return out;
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
