// Matrix products (kernels/gemm.hpp) against a double-precision reference:
// every weight dtype (F32, BF16, F16) and layout ([out, in], [in, out]),
// shapes with ragged edges around the register blocks, with and without a
// bias, one thread and several, on every instruction set; the AVX2 and
// baseline paths agree to rounding.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "isa_support.hpp"
#include "safeweights/kernels/gemm.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace kn = safeweights::kernels;
using sw::dtype;
using test_support::for_each_isa;

namespace {

struct weights {
  std::vector<std::byte> bytes;  // stored at an odd offset + 1 to be unaligned
  std::vector<double> values;    // the same weights as the kernels see them
  kn::matrix_ref ref(std::size_t rows, std::size_t cols, dtype t) const {
    return {bytes.data() + 1, t, rows, cols};
  }
};

weights make_weights(std::size_t count, dtype t, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  weights w;
  std::size_t es = sw::byte_width(t);
  w.bytes.resize(count * es + 1);
  for (std::size_t i = 0; i < count; ++i) {
    float f = dist(rng);
    if (t == dtype::F32) {
      std::memcpy(w.bytes.data() + 1 + 4 * i, &f, 4);
      w.values.push_back(f);
    } else {
      std::uint16_t h = t == dtype::BF16 ? sw::float_to_bf16(f) : sw::float_to_f16(f);
      std::memcpy(w.bytes.data() + 1 + 2 * i, &h, 2);
      w.values.push_back(t == dtype::BF16 ? sw::bf16_to_float(h) : sw::f16_to_float(h));
    }
  }
  return w;
}

// Max |got - want| / (sum_i |x_i w_i| + 1) over all outputs.
double check_product(std::size_t M, std::size_t K, std::size_t N, kn::weight_layout layout, dtype t, bool with_bias,
                     bool use_linear, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(M * (K + 3));  // rows with a stride wider than K
  for (auto& v : x) v = dist(rng);
  const std::size_t xs = K + 3, ys = N + 2;
  weights w = make_weights(K * N, t, rng);
  weights bias = make_weights(N, dtype::BF16, rng);
  kn::matrix_ref ref = layout == kn::weight_layout::in_out ? w.ref(K, N, t) : w.ref(N, K, t);
  kn::vector_ref b{bias.bytes.data() + 1, dtype::BF16, N};
  std::vector<float> y(M * ys, 12345.0f);
  if (use_linear) kn::linear(x.data(), M, xs, ref, layout, with_bias ? &b : nullptr, y.data(), ys);
  else if (M == 1) kn::gemv(x.data(), ref, layout, with_bias ? &b : nullptr, y.data());
  else kn::gemm(x.data(), M, xs, ref, layout, with_bias ? &b : nullptr, y.data(), ys);
  double worst = 0;
  for (std::size_t m = 0; m < M; ++m) {
    for (std::size_t n = 0; n < N; ++n) {
      double want = with_bias ? bias.values[n] : 0.0, scale = 1;
      for (std::size_t k = 0; k < K; ++k) {
        double wv = layout == kn::weight_layout::in_out ? w.values[k * N + n] : w.values[n * K + k];
        want += x[m * xs + k] * wv;
        scale += std::abs(x[m * xs + k] * wv);
      }
      worst = std::max(worst, std::abs(y[m * ys + n] - want) / scale);
    }
    for (std::size_t n = N; n < ys && M > 1; ++n) CHECK(y[m * ys + n] == 12345.0f);  // the stride's gap is untouched
  }
  return worst;
}

}  // namespace

TEST_CASE("gemm/gemv: every dtype and layout, ragged shapes, bias or not, within float rounding of the exact product") {
  std::mt19937 rng(3);
  const std::size_t Ms[] = {1, 2, 5, 6, 7, 13}, Ks[] = {1, 3, 8, 17, 300}, Ns[] = {1, 5, 16, 17, 33};
  for_each_isa([&](kn::isa) {
    for (std::size_t threads : {1u, 2u}) {
      kn::set_thread_count(threads);
      for (dtype t : {dtype::F32, dtype::BF16, dtype::F16})
        for (auto layout : {kn::weight_layout::out_in, kn::weight_layout::in_out})
          for (std::size_t M : Ms)
            for (std::size_t K : Ks)
              for (std::size_t N : Ns) {
                INFO(sw::dtype_name(t), " layout ", int(layout), " M ", M, " K ", K, " N ", N, " threads ", threads);
                bool with_bias = (M + K + N) % 2 == 0;
                CHECK(check_product(M, K, N, layout, t, with_bias, M % 2 == 1, rng) < 2e-6);
              }
    }
  });
  kn::set_thread_count(kn::detail::default_thread_count());
}

TEST_CASE("gemm/gemv: large enough to split over threads (panels and output blocks), and gemm of one row equals gemv") {
  std::mt19937 rng(5);
  for_each_isa([&](kn::isa) {
    kn::set_thread_count(2);
    CHECK(check_product(64, 256, 768, kn::weight_layout::in_out, dtype::F32, true, false, rng) < 2e-6);
    CHECK(check_product(9, 300, 515, kn::weight_layout::out_in, dtype::BF16, true, false, rng) < 2e-6);
    CHECK(check_product(1, 700, 2100, kn::weight_layout::in_out, dtype::F16, true, false, rng) < 2e-6);
    CHECK(check_product(1, 2100, 700, kn::weight_layout::out_in, dtype::F32, false, false, rng) < 2e-6);
    // BF16 one row: [in, out] split by input rows (ragged: 703 is no multiple
    // of 4), [out, in] with the next rows prefetched.
    CHECK(check_product(1, 700, 2100, kn::weight_layout::in_out, dtype::BF16, true, false, rng) < 2e-6);
    CHECK(check_product(1, 703, 515, kn::weight_layout::in_out, dtype::BF16, false, false, rng) < 2e-6);
    CHECK(check_product(1, 2100, 701, kn::weight_layout::out_in, dtype::BF16, true, false, rng) < 2e-6);
    std::vector<float> x(300);
    for (auto& v : x) v = std::normal_distribution<float>()(rng);
    weights w = make_weights(300 * 40, dtype::F32, rng);
    std::vector<float> a(40), b(40);
    kn::gemv(x.data(), w.ref(40, 300, dtype::F32), kn::weight_layout::out_in, nullptr, a.data());
    kn::gemm(x.data(), 1, 300, w.ref(40, 300, dtype::F32), kn::weight_layout::out_in, nullptr, b.data(), 40);
    for (std::size_t i = 0; i < 40; ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-5));
  });
  kn::set_thread_count(kn::detail::default_thread_count());
}

TEST_CASE("gemm: the AVX2 path and the baseline path give the same products to float rounding") {
  if (kn::detected_isa() != kn::isa::avx2) return;
  std::mt19937 rng(9);
  const std::size_t M = 19, K = 129, N = 70;
  std::vector<float> x(M * K);
  for (auto& v : x) v = std::normal_distribution<float>()(rng);
  weights w = make_weights(K * N, dtype::BF16, rng);
  std::vector<float> fast(M * N), base(M * N);
  kn::force_isa(kn::isa::avx2);
  kn::gemm(x.data(), M, K, w.ref(K, N, dtype::BF16), kn::weight_layout::in_out, nullptr, fast.data(), N);
  kn::force_isa(kn::isa::baseline);
  kn::gemm(x.data(), M, K, w.ref(K, N, dtype::BF16), kn::weight_layout::in_out, nullptr, base.data(), N);
  kn::force_isa(kn::detected_isa());
  double worst = 0;
  for (std::size_t i = 0; i < fast.size(); ++i) worst = std::max(worst, double(std::abs(fast[i] - base[i])));
  CHECK(worst < 1e-4);
  CHECK(worst > 0);  // different summation orders: the two really are different code
}
