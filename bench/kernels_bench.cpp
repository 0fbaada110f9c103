// Kernel benchmarks, each beside its baseline from the same run:
//   matrix products (gemm): ours against OpenBLAS sgemm, 768 -> 3072 at 64 and 512 rows,
//     both weight layouts ([in, out] as GPT-2's Conv1D, [out, in] as torch Linear);
//   matrix-vector products (gemv): ours against OpenBLAS sgemv (F32), and F32/BF16 weights
//     against the machine's streaming read bandwidth on a matrix far larger than the caches;
//   element conversions: bytes moved per second against memcpy of the same bytes.
// Threads: our kernels use kernels::thread_count() (SAFEWEIGHTS_THREADS, else the CPUs
// this process may use); OpenBLAS gets the same count through openblas_set_num_threads,
// so neither oversubscribes the machine. Timings are reported, never asserted.
//
//   bench-kernels [google benchmark flags]      e.g. --benchmark_filter=gemm
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstring>
#include <random>
#include <vector>

#include "read_floor.hpp"
#include "reporting.hpp"
#include "safeweights/kernels/convert.hpp"
#include "safeweights/kernels/gemm.hpp"

extern "C" void openblas_set_num_threads(int);

namespace {

namespace sw = safeweights;
namespace kn = safeweights::kernels;
using kn::weight_layout;

constexpr int kRepetitions = 5;

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct product_shape {
  std::size_t rows, in, out;
};

double flops(const product_shape& s) { return 2.0 * double(s.rows) * double(s.in) * double(s.out); }

void set_gflops(benchmark::State& state, double per_iteration) {
  state.counters["GFLOP/s"] = benchmark::Counter(per_iteration * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// ------------------------------------------------------------------ gemm

void bm_gemm_ours(benchmark::State& state, product_shape s, weight_layout layout) {
  auto x = random_floats(s.rows * s.in, 1), w = random_floats(s.in * s.out, 2);
  std::vector<float> y(s.rows * s.out);
  kn::matrix_ref ref = layout == weight_layout::in_out ? kn::as_matrix_ref(w.data(), s.in, s.out)
                                                       : kn::as_matrix_ref(w.data(), s.out, s.in);
  kn::linear(x.data(), s.rows, s.in, ref, layout, nullptr, y.data(), s.out);
  for (auto _ : state) {
    kn::linear(x.data(), s.rows, s.in, ref, layout, nullptr, y.data(), s.out);
    benchmark::ClobberMemory();
  }
  set_gflops(state, flops(s));
}

void bm_gemm_openblas(benchmark::State& state, product_shape s, weight_layout layout) {
  openblas_set_num_threads(static_cast<int>(kn::thread_count()));
  auto x = random_floats(s.rows * s.in, 1), w = random_floats(s.in * s.out, 2);
  std::vector<float> y(s.rows * s.out);
  const bool in_out = layout == weight_layout::in_out;
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, in_out ? CblasNoTrans : CblasTrans, static_cast<int>(s.rows),
                static_cast<int>(s.out), static_cast<int>(s.in), 1.0f, x.data(), static_cast<int>(s.in), w.data(),
                static_cast<int>(in_out ? s.out : s.in), 0.0f, y.data(), static_cast<int>(s.out));
  };
  run();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  set_gflops(state, flops(s));
}

// ------------------------------------------------------------------ gemv

// Weights as stored: F32, or BF16 (half the bytes).
struct stored_matrix {
  std::vector<std::byte> bytes;
  kn::matrix_ref ref;
};

stored_matrix make_matrix(std::size_t rows, std::size_t cols, sw::dtype t) {
  auto f = random_floats(rows * cols, 3);
  stored_matrix m;
  m.bytes.resize(rows * cols * sw::byte_width(t));
  kn::from_f32(f.data(), t, m.bytes.data(), f.size());
  m.ref = {m.bytes.data(), t, rows, cols};
  return m;
}

void set_bandwidth(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void bm_gemv_ours(benchmark::State& state, std::size_t in, std::size_t out, weight_layout layout, sw::dtype t) {
  stored_matrix m = layout == weight_layout::in_out ? make_matrix(in, out, t) : make_matrix(out, in, t);
  auto x = random_floats(in, 4);
  std::vector<float> y(out);
  kn::gemv(x.data(), m.ref, layout, nullptr, y.data());
  for (auto _ : state) {
    kn::gemv(x.data(), m.ref, layout, nullptr, y.data());
    benchmark::ClobberMemory();
  }
  set_bandwidth(state, double(m.bytes.size()));
  set_gflops(state, 2.0 * double(in) * double(out));
}

void bm_gemv_openblas(benchmark::State& state, std::size_t in, std::size_t out, weight_layout layout) {
  openblas_set_num_threads(static_cast<int>(kn::thread_count()));
  auto w = random_floats(in * out, 3), x = random_floats(in, 4);
  std::vector<float> y(out);
  auto run = [&] {
    if (layout == weight_layout::in_out)  // y = W^T x, W [in, out]
      cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(in), static_cast<int>(out), 1.0f, w.data(),
                  static_cast<int>(out), x.data(), 1, 0.0f, y.data(), 1);
    else  // y = W x, W [out, in]
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(out), static_cast<int>(in), 1.0f, w.data(),
                  static_cast<int>(in), x.data(), 1, 0.0f, y.data(), 1);
  };
  run();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  set_bandwidth(state, double(w.size() * 4));
  set_gflops(state, 2.0 * double(in) * double(out));
}

// The floor for a memory-bound product: summing the same number of bytes,
// split over the same threads.
void bm_read_floor(benchmark::State& state, std::size_t bytes) {
  std::vector<float> v = random_floats(bytes / 4, 5);
  auto sum = [&] { return swbench::sum_on_kernel_threads(v.data(), v.size()); };
  benchmark::DoNotOptimize(sum());
  for (auto _ : state) benchmark::DoNotOptimize(sum());
  set_bandwidth(state, double(bytes));
}

// ------------------------------------------------------------------ convert

constexpr std::size_t kConvertElements = std::size_t{16} << 20;

void bm_convert(benchmark::State& state, sw::dtype from, sw::dtype to, kn::isa path) {
  if (!kn::force_isa(path)) return state.SkipWithError("this CPU lacks the instruction set");
  std::vector<std::byte> src(kConvertElements * sw::byte_width(from)), dst(kConvertElements * sw::byte_width(to));
  auto f = random_floats(kConvertElements, 6);
  if (from == sw::dtype::F32) std::memcpy(src.data(), f.data(), src.size());
  else if (sw::byte_width(from) == 2) kn::from_f32(f.data(), from, src.data(), f.size());
  else for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::byte>(i * 2654435761u >> 24);
  kn::convert(from, src.data(), to, dst.data(), kConvertElements);
  for (auto _ : state) {
    kn::convert(from, src.data(), to, dst.data(), kConvertElements);
    benchmark::ClobberMemory();
  }
  kn::force_isa(kn::detected_isa());
  set_bandwidth(state, double(src.size() + dst.size()));
  state.counters["Gelem/s"] = benchmark::Counter(double(kConvertElements) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// memcpy of `bytes` (read + write = 2 x bytes moved).
void bm_memcpy(benchmark::State& state, std::size_t bytes) {
  std::vector<std::byte> src(bytes, std::byte{1}), dst(bytes);
  std::memcpy(dst.data(), src.data(), bytes);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::ClobberMemory();
  }
  set_bandwidth(state, 2.0 * double(bytes));
}

// ------------------------------------------------------------------ summary

const product_shape batch64{64, 768, 3072}, batch512{512, 768, 3072};
constexpr std::size_t big_in = 8192, big_out = 8192;

void summarize(const swbench::recording_reporter& rep) {
  swbench::summary_table t;
  auto counter = [&](const std::string& name, const char* c) {
    const auto* f = rep.find(name);
    if (!f) return -1.0;
    auto it = f->counters.find(c);
    return it == f->counters.end() ? -1.0 : it->second;
  };
  // The counter named `unit` of benchmark a against b's.
  auto compare = [&](const std::string& label, const std::string& a, const std::string& b, const std::string& base_label,
                     const char* unit, double goal) {
    double x = counter(a, unit), y = counter(b, unit);
    if (x < 0 || y < 0) return t.missing(label);
    t.row(label, x, base_label, y, unit, goal);
  };
  std::printf("\nSUMMARY (medians of %d repetitions; threads: ours %zu, OpenBLAS %zu; instruction set %s)\n",
              kRepetitions, kn::thread_count(), kn::thread_count(), std::string(kn::isa_name(kn::detected_isa())).c_str());
  t.header("Matrix products, F32 (GFLOP/s)");
  for (const char* rows : {"64", "512"})
    for (const char* layout : {"in_out", "out_in"}) {
      std::string name = std::string("gemm/") + rows + "x768x3072/" + layout;
      compare(std::string(rows) + " x 768 -> 3072, weights " + layout, "ours/" + name, "openblas/" + name,
              "OpenBLAS sgemm", "GFLOP/s", 0.9);
    }
  t.header("Matrix-vector products (GB/s of weights read)");
  for (const char* layout : {"in_out", "out_in"}) {
    std::string name = std::string("gemv/768x3072/") + layout;
    compare(std::string("1 x 768 -> 3072 F32, ") + layout + " (in cache)", "ours/" + name + "/F32", "openblas/" + name,
            "OpenBLAS sgemv", "GB/s", 0);
  }
  for (const char* layout : {"in_out", "out_in"}) {
    std::string name = std::string("gemv/8192x8192/") + layout;
    compare(std::string("1 x 8192 -> 8192 F32, ") + layout, "ours/" + name + "/F32", "openblas/" + name,
            "OpenBLAS sgemv", "GB/s", 0);
    compare(std::string("1 x 8192 -> 8192 F32, ") + layout, "ours/" + name + "/F32", "read_floor/256MiB",
            "read floor (sum 256 MiB)", "GB/s", 0.7);
    compare(std::string("1 x 8192 -> 8192 BF16, ") + layout, "ours/" + name + "/BF16", "read_floor/256MiB",
            "read floor (sum 256 MiB)", "GB/s", 0.7);
  }
  t.header("Element conversions, 16 Mi elements, one thread (GB/s read + written)");
  for (const char* c : {"BF16->F32", "F16->F32", "F8_E4M3->F32", "F32->BF16", "F32->F16"})
    for (const char* isa : {"avx2", "baseline"})
      compare(std::string(c) + " (" + isa + ")", std::string("convert/") + c + "/" + isa, "memcpy/64MiB",
              "memcpy 64 MiB (read + write)", "GB/s", 0);
  std::printf("\n%d of %d goals hold. Load average (1/5/15 min) now %s.\n", t.pass, t.judged,
              swbench::load_average().c_str());
  std::printf("OpenBLAS is %s; our kernels use none of it.\n", OPENBLAS_VERSION);
}

}  // namespace

int main(int argc, char** argv) {
  using benchmark::RegisterBenchmark;
  auto common = [](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond)->Repetitions(kRepetitions)->DisplayAggregatesOnly(true)->MinTime(0.2);
  };
  for (auto [rows, shape] : {std::pair{"64", batch64}, std::pair{"512", batch512}})
    for (auto layout : {weight_layout::in_out, weight_layout::out_in}) {
      std::string name = std::string("gemm/") + rows + "x768x3072/" + (layout == weight_layout::in_out ? "in_out" : "out_in");
      common(RegisterBenchmark(("ours/" + name).c_str(), bm_gemm_ours, shape, layout));
      common(RegisterBenchmark(("openblas/" + name).c_str(), bm_gemm_openblas, shape, layout));
    }
  for (auto [in, out, size] : {std::tuple{std::size_t{768}, std::size_t{3072}, "768x3072"}, std::tuple{big_in, big_out, "8192x8192"}})
    for (auto layout : {weight_layout::in_out, weight_layout::out_in}) {
      std::string name = std::string("gemv/") + size + "/" + (layout == weight_layout::in_out ? "in_out" : "out_in");
      common(RegisterBenchmark(("ours/" + name + "/F32").c_str(), bm_gemv_ours, in, out, layout, sw::dtype::F32));
      common(RegisterBenchmark(("ours/" + name + "/BF16").c_str(), bm_gemv_ours, in, out, layout, sw::dtype::BF16));
      common(RegisterBenchmark(("openblas/" + name).c_str(), bm_gemv_openblas, in, out, layout));
    }
  common(RegisterBenchmark("read_floor/256MiB", bm_read_floor, big_in * big_out * 4));
  for (auto [label, from, to] : {std::tuple{"BF16->F32", sw::dtype::BF16, sw::dtype::F32},
                                 std::tuple{"F16->F32", sw::dtype::F16, sw::dtype::F32},
                                 std::tuple{"F8_E4M3->F32", sw::dtype::F8_E4M3, sw::dtype::F32},
                                 std::tuple{"F32->BF16", sw::dtype::F32, sw::dtype::BF16},
                                 std::tuple{"F32->F16", sw::dtype::F32, sw::dtype::F16}})
    for (auto path : {kn::isa::avx2, kn::isa::baseline})
      common(RegisterBenchmark((std::string("convert/") + label + "/" + std::string(kn::isa_name(path))).c_str(), bm_convert,
                               from, to, path));
  common(RegisterBenchmark("memcpy/64MiB", bm_memcpy, std::size_t{64} << 20));

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  std::printf("load average (1/5/15 min) before: %s\n", swbench::load_average().c_str());
  swbench::recording_reporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  summarize(rep);
  benchmark::Shutdown();
  return rep.errors() ? 1 : 0;
}
