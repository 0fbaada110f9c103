// Element-wise kernels (activations, softmax, LayerNorm, RMSNorm) against
// double-precision definitions, on every instruction set, and the AVX2 and
// baseline paths against each other.
#include <cmath>
#include <numbers>
#include <cstring>
#include <random>
#include <vector>

#include "isa_support.hpp"
#include "safeweights/kernels/activations.hpp"
#include "safeweights/kernels/norms.hpp"
#include "safeweights/kernels/softmax.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace kn = safeweights::kernels;
using test_support::for_each_isa;

namespace {

std::vector<float> sample(std::size_t n, float scale, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Max relative error of f_kernel over `x` against `reference`, with an absolute floor.
template <class Kernel, class Reference>
double worst_error(std::vector<float> x, Kernel kernel, Reference reference, double floor) {
  std::vector<float> y = x;
  kernel(y.data(), y.size());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    double want = reference(static_cast<double>(x[i]));
    worst = std::max(worst, std::abs(y[i] - want) / std::max(std::abs(want), floor));
  }
  return worst;
}

double gelu_tanh_ref(double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x))); }
double gelu_erf_ref(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double silu_ref(double x) { return x / (1 + std::exp(-x)); }

}  // namespace

TEST_CASE("activations: relu, gelu (tanh and exact), silu within a few float ulp of the definitions") {
  std::vector<float> x = sample(1003, 3.0f, 1);  // odd length: a tail
  for (float edge : {0.0f, -0.0f, 1e-20f, -1e-20f, 30.0f, -30.0f, 100.0f, -100.0f, 1e30f, -1e30f})
    x.push_back(edge);
  for_each_isa([&](kn::isa) {
    CHECK(worst_error(x, kn::relu, [](double v) { return v > 0 ? v : 0.0; }, 1e-30) == 0);
    CHECK(worst_error(x, kn::gelu_tanh, gelu_tanh_ref, 1e-6) < 2e-6);
    CHECK(worst_error(x, kn::gelu_erf, gelu_erf_ref, 1e-6) < 4e-6);
    CHECK(worst_error(x, kn::silu, silu_ref, 1e-6) < 2e-6);
  });
}

TEST_CASE("activations: an element's result does not depend on its position (vector body or tail)") {
  std::vector<float> x = sample(37, 2.0f, 2);
  for_each_isa([&](kn::isa) {
    std::vector<float> whole = x;
    kn::gelu_tanh(whole.data(), whole.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      float one = x[i];
      kn::gelu_tanh(&one, 1);
      CHECK(one == whole[i]);
    }
  });
}

TEST_CASE("add_to: y += x exactly") {
  auto x = sample(19, 1.0f, 3), y = sample(19, 1.0f, 4);
  auto want = y;
  for (std::size_t i = 0; i < y.size(); ++i) want[i] += x[i];
  for_each_isa([&](kn::isa) {
    auto got = y;
    kn::add_to(got.data(), x.data(), got.size());
    CHECK(got == want);
  });
}

TEST_CASE("softmax: sums to 1, matches the definition, survives huge inputs and -inf entries") {
  for_each_isa([&](kn::isa) {
    for (std::size_t n : {1u, 3u, 8u, 13u, 64u, 1000u}) {
      auto x = sample(n, 4.0f, static_cast<unsigned>(n));
      if (n > 2) x[1] = 80.0f;
      auto y = x;
      kn::softmax(y.data(), n);
      double m = -1e300, total = 0, sum = 0;
      for (float v : x) m = std::max(m, double(v));
      for (float v : x) total += std::exp(v - m);
      for (std::size_t i = 0; i < n; ++i) {
        CHECK(std::abs(y[i] - std::exp(x[i] - m) / total) < 2e-7);
        sum += y[i];
      }
      CHECK(std::abs(sum - 1) < 1e-5);
    }
    std::vector<float> big = {3e38f, -3e38f, 3e38f, -__builtin_inff(), 0.0f};
    kn::softmax(big.data(), big.size());
    CHECK(big[0] == doctest::Approx(0.5));
    CHECK(big[2] == doctest::Approx(0.5));
    CHECK(big[3] == 0.0f);
  });
}

TEST_CASE("layer_norm and rms_norm: the definitions with F32 or BF16 gain and bias, in place or not") {
  const std::size_t rows = 3, n = 77;
  auto x = sample(rows * n, 5.0f, 7);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] += 10.0f;  // a mean far from zero
  auto g = sample(n, 1.0f, 8), b = sample(n, 1.0f, 9);
  std::vector<std::byte> g16(2 * n), b16(2 * n);
  kn::f32_to_bf16(g.data(), g16.data(), n);
  kn::f32_to_bf16(b.data(), b16.data(), n);
  std::vector<float> g_rounded(n), b_rounded(n);
  kn::bf16_to_f32(g16.data(), g_rounded.data(), n);
  kn::bf16_to_f32(b16.data(), b_rounded.data(), n);
  for_each_isa([&](kn::isa) {
    for (bool bf16 : {false, true}) {
      kn::vector_ref gr = bf16 ? kn::vector_ref{g16.data(), sw::dtype::BF16, n} : kn::as_vector_ref(g.data(), n);
      kn::vector_ref br = bf16 ? kn::vector_ref{b16.data(), sw::dtype::BF16, n} : kn::as_vector_ref(b.data(), n);
      const auto& gv = bf16 ? g_rounded : g;
      const auto& bv = bf16 ? b_rounded : b;
      std::vector<float> ln = x, rms(rows * n);
      kn::layer_norm(ln.data(), rows, n, n, &gr, &br, 1e-5f, ln.data(), n);  // in place
      kn::rms_norm(x.data(), rows, n, n, &gr, 1e-6f, rms.data(), n);
      for (std::size_t r = 0; r < rows; ++r) {
        double mean = 0, var = 0, sq = 0;
        for (std::size_t i = 0; i < n; ++i) mean += x[r * n + i];
        mean /= n;
        for (std::size_t i = 0; i < n; ++i) {
          var += (x[r * n + i] - mean) * (x[r * n + i] - mean);
          sq += double(x[r * n + i]) * x[r * n + i];
        }
        var /= n;
        sq /= n;
        for (std::size_t i = 0; i < n; ++i) {
          double want = (x[r * n + i] - mean) / std::sqrt(var + 1e-5) * gv[i] + bv[i];
          CHECK(std::abs(ln[r * n + i] - want) < 1e-5);
          double want_rms = x[r * n + i] / std::sqrt(sq + 1e-6) * gv[i];
          CHECK(std::abs(rms[r * n + i] - want_rms) < 1e-5);
        }
      }
    }
    std::vector<float> plain = x, out(rows * n);
    kn::layer_norm(plain.data(), rows, n, n, nullptr, nullptr, 1e-5f, out.data(), n);
    double mean = 0;
    for (std::size_t i = 0; i < n; ++i) mean += out[i];
    CHECK(std::abs(mean / n) < 1e-6);
  });
}

TEST_CASE("the AVX2 and baseline paths agree within a few ulp on the transcendental kernels") {
  if (kn::detected_isa() != kn::isa::avx2) return;
  auto x = sample(4099, 4.0f, 11);
  auto run = [&](kn::isa i, void (*f)(float*, std::size_t)) {
    kn::force_isa(i);
    auto y = x;
    f(y.data(), y.size());
    return y;
  };
  for (auto f : {kn::gelu_tanh, kn::gelu_erf, kn::silu, kn::softmax}) {
    auto fast = run(kn::isa::avx2, f), base = run(kn::isa::baseline, f);
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
      worst = std::max(worst, double(std::abs(fast[i] - base[i])) / std::max(1e-6, double(std::abs(base[i]))));
    CHECK(worst < 4e-6);  // each is within 2e-6 of the definition
  }
  kn::force_isa(kn::detected_isa());
}
