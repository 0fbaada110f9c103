// Integrity benchmark: SHA-256 of a 1 GiB file by the library beside
// `openssl dgst -sha256` on the same warm file in the same run; the cost of
// verify-on-access beside one plain SHA-256 pass over the same tensors; and
// hashing a model for its signature (hash_model: 8 files of 128 MiB, and the
// 1 GiB file in 64 MiB shards) on every core beside openssl's rate per core
// times the cores, with one thread as the ablation.
// Timings are printed, never asserted; the exit status says only whether
// everything ran (and the digests agreed with OpenSSL's).
//
//   bench-integrity [REPETITIONS]   (default 7; medians are reported)
//
// Fixtures go to $TMPDIR/safeweights-bench-<pid> and are removed at exit.
// Each repetition runs every measurement once, in the same order, so a burst
// of load from elsewhere hits all of them alike; take the figures on a quiet
// machine (the program prints the load average it saw).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <filesystem>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "safeweights/integrity.hpp"

extern char** environ;

namespace {

using namespace swbench;
using clock_type = std::chrono::steady_clock;

constexpr std::uint64_t gib = std::uint64_t{1} << 30;

double seconds_of(const std::function<void()>& f) {
  auto t0 = clock_type::now();
  f();
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// `openssl dgst -sha256 FILE`, its output kept to check the digest.
std::string run_openssl_dgst(const std::string& path, const std::string& out_path) {
  std::vector<std::string> args = {"openssl", "dgst", "-sha256", "-r", path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  if (posix_spawnp(&pid, "openssl", &actions, nullptr, argv.data(), environ) != 0) die("cannot run openssl");
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid failed");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("openssl dgst failed");
  std::ifstream in(out_path);
  std::string hex;
  in >> hex;
  return hex;
}

// A file of `count` F32 tensors of `each` bytes, streamed from the pattern.
void write_tensors(const std::string& path, std::size_t count, std::uint64_t each) {
  sw::writer w;
  for (std::size_t i = 0; i < count; ++i)
    check(w.add_stream("layer." + std::to_string(i) + ".weight", sw::dtype::F32, {each / 4}, pattern_source()), path);
  check(w.write_file(path), path);
}

double load_average() {
  double l = -1;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const std::string dir = make_fixture_dir();
  const std::string big = dir + "/big_1g.safetensors";     // one 1 GiB tensor
  const std::string many = dir + "/many_1g.safetensors";   // 64 tensors of 16 MiB
  const std::string sealed_path = dir + "/sealed.safetensors";
  const std::string scratch = dir + "/openssl.out";
  std::printf("writing fixtures in %s ...\n", dir.c_str());
  write_big(big, gib);
  write_tensors(many, 64, std::uint64_t{16} << 20);
  check(sw::seal_file(many, sealed_path), sealed_path);
  // A model directory: 8 shards of 128 MiB.
  const std::string model_dir = dir + "/model";
  std::filesystem::create_directories(model_dir);
  std::uint64_t model_bytes = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string shard = model_dir + "/model-0000" + std::to_string(i + 1) + "-of-00008.safetensors";
    write_big(shard, gib / 8);
    model_bytes += warm(shard);
  }
  const std::string single_dir = dir + "/single";
  std::filesystem::create_directories(single_dir);
  std::filesystem::create_hard_link(big, single_dir + "/model.safetensors");
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::uint64_t big_bytes = warm(big);
  warm(sealed_path);
  std::printf("load average at start: %.2f (take figures on a quiet machine)\n\n", load_average());

  std::map<std::string, std::vector<double>> t;
  bool agree = true;
  auto sealed_plain = sw::reader::open(sealed_path).value();
  std::uint64_t sealed_tensor_bytes = sealed_plain.index().data_size();
  for (int rep = 0; rep < reps; ++rep) {
    std::string openssl_hex;
    t["openssl dgst -sha256"].push_back(seconds_of([&] { openssl_hex = run_openssl_dgst(big, scratch); }));
    sw::file_digest d;
    t["digest_file (pread, 1 MiB chunks)"].push_back(seconds_of([&] { d = sw::digest_file(big).value(); }));
    agree = agree && sw::to_hex(d.sha256) == openssl_hex;
    t["digest_bytes (mapped)"].push_back(seconds_of([&] {
      auto f = sw::file_handle::open_read(big).value();
      auto m = sw::mapping::map(f).value();
      d = sw::digest_bytes(m.bytes());
    }));
    agree = agree && sw::to_hex(d.sha256) == openssl_hex;

    // Verify-on-access: a fresh sealed reader, every tensor asked for once,
    // against one SHA-256 pass over the same bytes.
    t["sha256 of each tensor, 1 thread"].push_back(seconds_of([&] {
      for (const auto& info : sealed_plain.tensors()) {
        const sw::tensor_view v = sealed_plain.tensor(info).value();
        (void)sw::sha256(v.bytes());
      }
    }));
    t["sealed_reader: first access of each tensor"].push_back(seconds_of([&] {
      auto s = sw::sealed_reader::open(sealed_path).value();
      for (const auto& info : s.tensors()) (void)s.tensor(info).value();
    }));
    t["sealed_reader: second access of each tensor"].push_back(0);
    {
      auto s = sw::sealed_reader::open(sealed_path).value();
      for (const auto& info : s.tensors()) (void)s.tensor(info).value();
      t["sealed_reader: second access of each tensor"].back() = seconds_of([&] {
        for (const auto& info : s.tensors()) (void)s.tensor(info).value();
      });
    }
    t["digest_tensors, 2 threads"].push_back(seconds_of([&] { (void)sw::digest_tensors(sealed_plain, 2).value(); }));
    // Hashing a model for its signature.
    sw::model_serialization files, shards;
    shards.method = sw::serialization_method::shards;
    shards.shard_size = std::uint64_t{64} << 20;
    t["hash_model files, 8 x 128 MiB, 1 thread"].push_back(
        seconds_of([&] { (void)sw::hash_model(model_dir, files, {}, 1).value(); }));
    t["hash_model files, 8 x 128 MiB, every core"].push_back(
        seconds_of([&] { (void)sw::hash_model(model_dir, files, {}, 0).value(); }));
    t["hash_model shards, 1 GiB in 64 MiB, 1 thread"].push_back(
        seconds_of([&] { (void)sw::hash_model(single_dir, shards, {}, 1).value(); }));
    t["hash_model shards, 1 GiB in 64 MiB, every core"].push_back(
        seconds_of([&] { (void)sw::hash_model(single_dir, shards, {}, 0).value(); }));
    t["verify_all, 2 threads"].push_back(seconds_of([&] {
      auto s = sw::sealed_reader::open(sealed_path).value();
      if (!s.verify_all(2).value().ok()) die("sealed fixture does not verify");
    }));
  }

  auto rate = [](double seconds, std::uint64_t bytes) { return bytes / seconds / 1e9; };
  const double openssl = median(t["openssl dgst -sha256"]);
  std::printf("Whole-file SHA-256 of a 1 GiB file (warm page cache), median of %d:\n", reps);
  std::printf("  %-46s %8.3f s  %6.2f GB/s\n", "openssl dgst -sha256 (baseline)", openssl, rate(openssl, big_bytes));
  for (const char* k : {"digest_file (pread, 1 MiB chunks)", "digest_bytes (mapped)"}) {
    double s = median(t[k]);
    std::printf("  %-46s %8.3f s  %6.2f GB/s  %5.1f%% of openssl (goal >= 90%%)\n", k, s, rate(s, big_bytes),
                100 * openssl / s);
  }
  const double one_pass = median(t["sha256 of each tensor, 1 thread"]);
  std::printf("\nVerify-on-access, 64 tensors of 16 MiB (%.2f GB), median of %d:\n", sealed_tensor_bytes / 1e9, reps);
  std::printf("  %-46s %8.3f s  %6.2f GB/s (baseline: one digest pass)\n", "sha256 of each tensor, 1 thread", one_pass,
              rate(one_pass, sealed_tensor_bytes));
  for (const char* k : {"sealed_reader: first access of each tensor", "digest_tensors, 2 threads",
                        "verify_all, 2 threads"}) {
    double s = median(t[k]);
    std::printf("  %-46s %8.3f s  %6.2f GB/s  %5.2fx one pass\n", k, s, rate(s, sealed_tensor_bytes), s / one_pass);
  }
  const double again = median(t["sealed_reader: second access of each tensor"]);
  std::printf("  %-46s %8.1f us for all 64 (no hashing)\n", "sealed_reader: second access of each tensor", again * 1e6);
  std::printf("\n  goal: first access <= 1 digest pass per tensor (ratio ~1.00x), later accesses ~0\n");
  const double per_core = rate(openssl, big_bytes);
  std::printf("\nHashing a model for its signature (hash_model, pread), %u cores, median of %d;\n"
              "baseline: openssl dgst -sha256 %.2f GB/s per core x %u cores = %.2f GB/s:\n",
              cores, reps, per_core, cores, per_core * cores);
  for (const char* k : {"hash_model files, 8 x 128 MiB, 1 thread", "hash_model files, 8 x 128 MiB, every core",
                        "hash_model shards, 1 GiB in 64 MiB, 1 thread", "hash_model shards, 1 GiB in 64 MiB, every core"}) {
    const double sec = median(t[k]);
    const std::uint64_t bytes = std::string_view(k).find("files") != std::string_view::npos ? model_bytes : big_bytes;
    const bool all = std::string_view(k).ends_with("every core");
    std::printf("  %-46s %8.3f s  %6.2f GB/s  %5.1f%% of openssl x %u%s\n", k, sec, rate(sec, bytes),
                100 * rate(sec, bytes) / (per_core * (all ? cores : 1)), all ? cores : 1u,
                all ? " (goal >= 90%)" : "");
  }
  std::printf("load average at end: %.2f\n", load_average());
  if (!agree) {
    std::printf("ERROR: the library's digest differs from openssl's\n");
    return 1;
  }
  std::printf("digests agree with openssl dgst\n");
  return 0;
}
