// Causal multi-head self-attention (kernels/attention.hpp) against a
// double-precision reference, with and without a cache of earlier positions.
#include <cmath>
#include <random>
#include <vector>

#include "isa_support.hpp"
#include "safeweights/kernels/attention.hpp"
#include "support.hpp"

namespace kn = safeweights::kernels;
using test_support::for_each_isa;

namespace {

std::vector<double> reference(const std::vector<float>& qkv, std::size_t T, std::size_t H, std::size_t d) {
  const std::size_t D = H * d, stride = 3 * D;
  std::vector<double> out(T * D);
  for (std::size_t h = 0; h < H; ++h)
    for (std::size_t t = 0; t < T; ++t) {
      std::vector<double> w(t + 1);
      double m = -1e300, total = 0;
      for (std::size_t s = 0; s <= t; ++s) {
        double dot = 0;
        for (std::size_t i = 0; i < d; ++i) dot += double(qkv[t * stride + h * d + i]) * qkv[s * stride + D + h * d + i];
        w[s] = dot / std::sqrt(double(d));
        m = std::max(m, w[s]);
      }
      for (auto& x : w) total += (x = std::exp(x - m));
      for (std::size_t i = 0; i < d; ++i) {
        double acc = 0;
        for (std::size_t s = 0; s <= t; ++s) acc += w[s] / total * qkv[s * stride + 2 * D + h * d + i];
        out[t * D + h * d + i] = acc;
      }
    }
  return out;
}

}  // namespace

TEST_CASE("causal_attention: packed q|k|v rows, every head, all at once or one new position at a time") {
  const std::size_t T = 21, H = 3, d = 12, D = H * d;
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> qkv(T * 3 * D);
  for (auto& v : qkv) v = dist(rng);
  auto want = reference(qkv, T, H, d);
  for_each_isa([&](kn::isa) {
    for (std::size_t threads : {1u, 2u}) {
      kn::set_thread_count(threads);
      std::vector<float> out(T * D);
      kn::causal_attention(qkv.data(), 3 * D, qkv.data() + D, qkv.data() + 2 * D, 3 * D, 0, T, H, d, out.data(), D);
      double worst = 0;
      for (std::size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::abs(out[i] - want[i]));
      CHECK(worst < 1e-5);
      // Decoding: position t alone, keys and values 0..t already there.
      std::vector<float> step(T * D);
      for (std::size_t t = 0; t < T; ++t)
        kn::causal_attention(qkv.data() + t * 3 * D, 3 * D, qkv.data() + D, qkv.data() + 2 * D, 3 * D, t, 1, H, d,
                             step.data() + t * D, D);
      worst = 0;
      for (std::size_t i = 0; i < step.size(); ++i) worst = std::max(worst, std::abs(step[i] - want[i]));
      CHECK(worst < 1e-5);
    }
  });
  kn::set_thread_count(kn::detail::default_thread_count());
}
