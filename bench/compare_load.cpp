// The C++ side of bench/compare: one measurement per process, so that each
// has its own peak RSS (the driver reads it with wait4). Prints one JSON line
// {"seconds": S, "bytes": B} with the time of the operation alone.
//
//   bench-compare save-gpt2 PATH   write a GPT-2-sized F32 state dict (148 tensors, 124,439,808 values)
//   bench-compare save-many PATH   write 10,000 small F32 tensors
//   bench-compare open PATH        reader::open: validate the header, index, map (lazy)
//   bench-compare load PATH        reader::open + load(): every tensor into owned memory (eager),
//                                  after touching and freeing twice the file's size (recycle_memory)
//   bench-compare floor-pread PATH pread of the data section into an already-touched buffer
//   bench-compare floor-memcpy PATH memcpy of as many bytes between two touched buffers
//   bench-compare layout-gpt2      print save-gpt2's names and shapes as JSON (for bench/compare.py)
//
// Saves go through the library's atomic writer, which fsyncs before it
// renames; the Python savers are timed with an fsync too, so all are alike.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "safeweights/nn/gpt2.hpp"
#include "safeweights/safeweights.hpp"

namespace sw = safeweights;
using clock_type = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench-compare: %s\n", what.c_str());
  std::exit(1);
}

void report(double seconds, std::uint64_t bytes) {
  std::printf("{\"seconds\": %.9f, \"bytes\": %llu}\n", seconds, static_cast<unsigned long long>(bytes));
}

double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

struct named_tensor {
  std::string name;
  std::vector<std::uint64_t> shape;
  std::vector<float> values;
};

// Values that do not compress: a fast generator, not a constant.
std::vector<float> random_floats(std::size_t n, std::uint64_t seed) {
  std::vector<float> v(n);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& f : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f = static_cast<float>(static_cast<std::int32_t>(x >> 32)) * 0x1p-31f;
  }
  return v;
}

// GPT-2 small's state dict in nn::gpt2's layout.
std::vector<named_tensor> gpt2() {
  std::vector<named_tensor> out;
  for (auto& t : sw::nn::gpt2_checkpoint_layout(sw::nn::gpt2_config{}, sw::dtype::F32)) {
    std::uint64_t n = 1;
    for (auto s : t.shape) n *= s;
    out.push_back({std::move(t.name), std::move(t.shape), random_floats(n, out.size())});
  }
  return out;
}

// 10,000 tensors "blocks.N.pK" of 1 to 8 floats, as bench/compare.py builds them.
std::vector<named_tensor> many() {
  std::vector<named_tensor> out;
  for (std::size_t i = 0; i < 10000; ++i) {
    std::uint64_t k = i % 8 + 1;
    out.push_back({"blocks." + std::to_string(i / 8) + ".p" + std::to_string(i % 8), {k}, random_floats(k, i)});
  }
  return out;
}

// [["wte.weight", [50257, 768]], ...]: the layout for bench/compare.py's own savers.
void print_gpt2_layout() {
  std::string json = "[";
  for (const auto& t : sw::nn::gpt2_checkpoint_layout(sw::nn::gpt2_config{}, sw::dtype::F32)) {
    json += (json.size() > 1 ? ", [\"" : "[\"") + t.name + "\", [";
    for (std::size_t i = 0; i < t.shape.size(); ++i) json += (i ? ", " : "") + std::to_string(t.shape[i]);
    json += "]]";
  }
  std::printf("%s]\n", json.c_str());
}

void save(const std::vector<named_tensor>& tensors, const std::string& path) {
  auto t0 = clock_type::now();
  sw::writer w;
  std::uint64_t bytes = 0;
  for (const named_tensor& t : tensors) {
    if (auto r = w.add<float>(t.name, t.shape, t.values); !r) die(r.error_value().message);
    bytes += t.values.size() * sizeof(float);
  }
  if (auto r = w.write_file(path); !r) die(r.error_value().message);
  report(since(t0), bytes);
}

// A buffer of `n` bytes, every page touched.
std::vector<std::byte> touched(std::size_t n) {
  std::vector<std::byte> b(n);
  std::memset(b.data(), 1, n);
  return b;
}

// Touches and frees twice `n` bytes, then starts the peak RSS again, before a
// load's clock starts, so that the fresh memory the load fills (its buffer; the
// page cache too, when cold) comes from pages the kernel has just had. In a
// virtual machine whose balloon reports free pages to the host (virtio free
// page reporting), memory freed a second ago is handed back and faults in again
// at the host's cost: 0.6 s more for 500 MB here, paid or not by how long the
// process took to start. bench/compare.py's Python children do the same;
// SAFEWEIGHTS_BENCH_RECYCLE=0 (its --no-recycle) turns both off.
void recycle_memory(std::size_t n) {
  const char* setting = std::getenv("SAFEWEIGHTS_BENCH_RECYCLE");
  if (setting && std::string(setting) == "0") return;
  {
    sw::aligned_buffer scratch(2 * n);  // huge pages, as the load's own buffer asks for
    std::memset(scratch.data(), 1, scratch.size());
  }
  // The scratch is not the load's: VmHWM := VmRSS, which wait4's peak RSS reads.
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  const bool reset = f && std::fputs("5", f) >= 0;
  if ((f && std::fclose(f) != 0) || !reset) die("cannot reset the peak RSS through /proc/self/clear_refs");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "layout-gpt2") {
    print_gpt2_layout();
    return 0;
  }
  if (argc != 3) die("usage: bench-compare save-gpt2|save-many|open|load|floor-pread|floor-memcpy PATH, or layout-gpt2");
  const std::string op = argv[1], path = argv[2];
  if (op == "save-gpt2") {
    save(gpt2(), path);
  } else if (op == "save-many") {
    save(many(), path);
  } else if (op == "open") {
    auto t0 = clock_type::now();
    auto r = sw::reader::open(path);
    double s = since(t0);
    if (!r) die(r.error_value().message);
    report(s, r->index().data_size());
  } else if (op == "load") {
    recycle_memory(static_cast<std::size_t>(std::filesystem::file_size(path)));
    auto t0 = clock_type::now();
    auto r = sw::reader::open(path);
    if (!r) die(r.error_value().message);
    auto loaded = r->load();
    double s = since(t0);
    if (!loaded) die(loaded.error_value().message);
    report(s, loaded->bytes());
  } else if (op == "floor-pread" || op == "floor-memcpy") {
    auto r = sw::reader::open(path, {.mode = sw::io_mode::pread});
    if (!r) die(r.error_value().message);
    const std::size_t n = static_cast<std::size_t>(r->index().data_size());
    std::vector<std::byte> dst = touched(n);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open " + path);
    double s = 0;
    if (op == "floor-pread") {
      auto t0 = clock_type::now();
      std::size_t done = 0;
      while (done < n) {
        ssize_t got = ::pread(fd, dst.data() + done, n - done, static_cast<off_t>(r->index().data_offset() + done));
        if (got <= 0) die("pread failed");
        done += static_cast<std::size_t>(got);
      }
      s = since(t0);
    } else {
      std::vector<std::byte> src = touched(n);
      auto t0 = clock_type::now();
      std::memcpy(dst.data(), src.data(), n);
      s = since(t0);
      if (dst[n / 2] != src[n / 2]) die("memcpy");
    }
    ::close(fd);
    report(s, n);
  } else {
    die("unknown operation " + op);
  }
  return 0;
}
