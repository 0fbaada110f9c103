// Classic models (classic/): prediction time per sample, at batch 1 (one
// row per call, as a service answering single requests) and batch 1000.
// bench/classic_compare.py runs this and scikit-learn's predict_proba /
// predict / transform on the same rows and prints them side by side; alone it
// prints its own lines:
//
//   bench-classic MODEL.safetensors X.npy ...   -> "MODEL batch ns_per_sample" per line
//
// X.npy: float64 [1000, F], C order (the script writes it: dataset rows with noise).
//
// Each figure is the median of 7 repetitions, each long enough (>= 50 ms).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "safeweights/classic/model.hpp"

namespace classic = safeweights::classic;
using clock_type = std::chrono::steady_clock;

namespace {

// The float64 [rows, F] array of an .npy file (version 1 preamble, C order).
std::vector<double> read_x(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {};
  std::vector<unsigned char> bytes;
  unsigned char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) bytes.insert(bytes.end(), buf, buf + n);
  std::fclose(f);
  const std::size_t header = bytes[8] | bytes[9] << 8;
  std::vector<double> x((bytes.size() - 10 - header) / 8);
  std::memcpy(x.data(), bytes.data() + 10 + header, x.size() * 8);
  return x;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Nanoseconds per sample of `run(first_row, rows)` over `total` rows in calls of `batch`.
template <class Run>
double ns_per_sample(std::size_t total, std::size_t batch, Run run) {
  std::vector<double> reps;
  for (int rep = 0; rep < 7; ++rep) {
    std::size_t samples = 0;
    auto t0 = clock_type::now();
    double elapsed = 0;
    do {
      for (std::size_t first = 0; first + batch <= total; first += batch) run(first, batch);
      samples += total / batch * batch;
      elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
    } while (elapsed < 0.05);
    reps.push_back(elapsed * 1e9 / static_cast<double>(samples));
  }
  return median(reps);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc % 2 == 0) {
    std::fprintf(stderr, "usage: bench-classic MODEL.safetensors X.npy ...\n");
    return 2;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    auto m = classic::load_model(name);
    if (!m) {
      std::fprintf(stderr, "%s\n", m.error_value().message.c_str());
      return 1;
    }
    const std::size_t F = m->n_features();
    auto x = read_x(argv[i + 1]);
    const std::size_t rows = x.size() / F;
    const bool classifier = m->kind() == classic::model_kind::classifier;
    const std::size_t width = classifier ? m->classes().size() : m->n_outputs();
    std::vector<double> out(rows * width);
    for (std::size_t batch : {std::size_t{1}, std::size_t{1000}}) {
      double ns = ns_per_sample(rows, batch, [&](std::size_t first, std::size_t n) {
        std::span<const double> in(x.data() + first * F, n * F);
        std::span<double> dst(out.data() + first * width, n * width);
        auto r = classifier ? m->predict_proba(in, n, dst)
                 : m->kind() == classic::model_kind::regressor ? m->predict(in, n, dst)
                                                               : m->transform(in, n, dst);
        if (!r) std::abort();
      });
      std::printf("%s %zu %.1f\n", name.c_str(), batch, ns);
    }
  }
  return 0;
}
