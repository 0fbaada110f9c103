// The kernels' threads: a small pool that splits one kernel call into parts.
//
// The caller runs part 0 itself and the pool's workers the rest, so a
// machine with T threads keeps T - 1 workers. The count comes from
// set_thread_count(), else the environment variable SAFEWEIGHTS_THREADS,
// else the CPUs this process may run on. A call made from inside a part, or
// while another thread has the pool, runs its parts one after another on the
// calling thread: never a deadlock, never more threads than asked for.
// Workers spin briefly for the next call (token-by-token decoding makes
// hundreds of calls a second), then sleep on a futex.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "safeweights/io/platform.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace kernels {
namespace detail {

inline std::size_t default_thread_count() noexcept {
  if (const char* env = std::getenv("SAFEWEIGHTS_THREADS")) {
    char* end = nullptr;
    unsigned long n = std::strtoul(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= 1024) return n;
  }
  return platform::cpu_count();
}

inline thread_local bool inside_part = false;

class thread_pool {
 public:
  explicit thread_pool(std::size_t threads) {
    for (std::size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool() {
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
    platform::wake_all(generation_);
    for (auto& t : workers_) t.join();
  }

  std::size_t threads() const noexcept { return workers_.size() + 1; }

  // Runs task(context, part) for every part in [0, parts); returns when all are done.
  void run(std::size_t parts, void (*task)(void*, std::size_t), void* context) {
    std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
    if (parts <= 1 || workers_.empty() || inside_part || !lock.owns_lock() || parts > 0xffffffffu) {
      for (std::size_t p = 0; p < parts; ++p) task(context, p);
      return;
    }
    task_ = task;
    context_ = context;
    parts_.store(parts, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    std::uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
    ticket_.store((std::uint64_t{gen} << 32) | 1, std::memory_order_release);  // part 0 is the caller's
    generation_.store(gen, std::memory_order_release);
    platform::wake_all(generation_);
    inside_part = true;
    task(context, 0);
    std::size_t ran = 1 + run_parts(gen);
    inside_part = false;
    std::size_t seen = done_.fetch_add(ran, std::memory_order_acq_rel) + ran;
    while (seen < parts) {
      platform::wait_while(done_, seen);
      seen = done_.load(std::memory_order_acquire);
    }
  }

 private:
  // Claims part numbers of call `gen` until none is left. The generation
  // sits in the same word as the next part, so a worker that wakes late
  // cannot claim a part of a newer call with an old view of it.
  std::size_t run_parts(std::uint32_t gen) {
    std::size_t ran = 0;
    std::uint64_t t = ticket_.load(std::memory_order_acquire);
    for (;;) {
      if (static_cast<std::uint32_t>(t >> 32) != gen) break;
      auto part = static_cast<std::uint32_t>(t);
      if (part >= parts_.load(std::memory_order_relaxed)) break;
      if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      task_(context_, part);
      ++ran;
      t = ticket_.load(std::memory_order_acquire);
    }
    return ran;
  }

  void work() {
    std::uint32_t seen = generation_.load(std::memory_order_acquire);
    for (;;) {
      std::uint32_t now = generation_.load(std::memory_order_acquire);
      for (int spin = 0; now == seen && spin < 20000; ++spin) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        now = generation_.load(std::memory_order_acquire);
      }
      while (now == seen) {
        platform::wait_while(generation_, seen);
        now = generation_.load(std::memory_order_acquire);
      }
      seen = now;
      if (stop_.load()) return;
      inside_part = true;
      std::size_t ran = run_parts(now);
      inside_part = false;
      if (ran) {
        done_.fetch_add(ran, std::memory_order_acq_rel);
        platform::wake_all(done_);
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_;
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<std::uint64_t> ticket_{0};  // generation << 32 | next part
  std::atomic<std::size_t> parts_{0}, done_{0};
  std::atomic<bool> stop_{false};
  void (*task_)(void*, std::size_t) = nullptr;  // written before the generation is published
  void* context_ = nullptr;
};

struct pool_slot {
  std::mutex lock;
  std::size_t wanted = default_thread_count();
  std::shared_ptr<thread_pool> pool;
};

inline pool_slot& the_pool_slot() {
  static pool_slot slot;
  return slot;
}

inline std::shared_ptr<thread_pool> current_pool() {
  pool_slot& slot = the_pool_slot();
  std::lock_guard<std::mutex> guard(slot.lock);
  if (!slot.pool || slot.pool->threads() != slot.wanted) slot.pool = std::make_shared<thread_pool>(slot.wanted);
  return slot.pool;
}

}  // namespace detail

// How many threads a kernel call may use (the caller included).
inline std::size_t thread_count() {
  detail::pool_slot& slot = detail::the_pool_slot();
  std::lock_guard<std::mutex> guard(slot.lock);
  return slot.wanted;
}

// Sets the thread count for later calls (1 = run everything on the caller).
inline void set_thread_count(std::size_t n) {
  detail::pool_slot& slot = detail::the_pool_slot();
  std::lock_guard<std::mutex> guard(slot.lock);
  slot.wanted = std::clamp<std::size_t>(n, 1, 1024);
}

// Calls body(part) for every part in [0, parts), spread over the pool.
template <class Body>
void parallel_parts(std::size_t parts, Body&& body) {
  if (parts == 0) return;
  if (parts == 1) return body(std::size_t{0});
  using callable = std::remove_reference_t<Body>;
  auto pool = detail::current_pool();
  pool->run(parts, [](void* c, std::size_t p) { (*static_cast<callable*>(c))(p); },
            const_cast<void*>(static_cast<const void*>(&body)));
}

// How many parts `work` units are worth splitting into, at `grain` units
// per part at least, and no more than the threads.
inline std::size_t parts_for(std::uint64_t work, std::uint64_t grain) {
  std::uint64_t by_work = grain ? work / grain : work;
  return static_cast<std::size_t>(std::clamp<std::uint64_t>(by_work, 1, thread_count()));
}

}  // namespace kernels
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
