// GPT-2-small-sized model benchmarks (124M parameters, random weights, in
// Hugging Face's layout), each beside its baseline from the same run:
//   zero-copy load of the F32 and BF16 files (goal: under 1 ms);
//   converting load BF16 -> F32 against a memcpy of the same bytes into fresh memory;
//   a 64-token prompt forward (F32) against PyTorch's eager forward of the
//     same weights (bench/gpt2_torch.py, run by this program when Debian's
//     python3-torch is installed), at PyTorch's best settings;
//   decoding one token (F32, BF16): the weights streamed per second against
//     summing the file's mapped bytes on the same threads (goal >= 70%);
//   resident memory of a process that loads the BF16 file and decodes, against the file size.
// The files are written at startup into $TMPDIR/safeweights-bench-<pid> and removed at exit.
//
//   bench-gpt2 [google benchmark flags]
#include <benchmark/benchmark.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "gpt2_random.hpp"
#include "read_floor.hpp"
#include "reporting.hpp"
#include "safeweights/nn/gpt2.hpp"

extern char** environ;

namespace {

namespace sw = safeweights;
namespace nn = safeweights::nn;
namespace kn = safeweights::kernels;
using clock_type = std::chrono::steady_clock;

constexpr int kRepetitions = 5;
constexpr std::size_t kPrompt = 64;

struct model_file {
  std::string path;
  std::uint64_t bytes = 0;
};
model_file f32_file, bf16_file;

std::vector<std::int64_t> prompt_tokens() {
  std::vector<std::int64_t> t(kPrompt);
  for (std::size_t i = 0; i < kPrompt; ++i) t[i] = static_cast<std::int64_t>(i % 50257);
  return t;
}

void fail(benchmark::State& state, const sw::error& e) { state.SkipWithError(e.message.c_str()); }

// ------------------------------------------------------------------ loading

void bm_load_zero_copy(benchmark::State& state, const model_file* f) {
  for (auto _ : state) {
    auto t0 = clock_type::now();
    nn::load_report report;
    auto m = nn::load_gpt2(f->path, std::nullopt, nn::dtype_policy::keep, &report);
    auto t1 = clock_type::now();
    if (!m) return fail(state, m.error_value());
    if (report.zero_copy != report.loaded) return state.SkipWithError("not every tensor was borrowed");
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
}

void bm_load_convert(benchmark::State& state, const model_file* f) {
  for (auto _ : state) {
    auto t0 = clock_type::now();
    auto m = nn::load_gpt2(f->path, std::nullopt, nn::dtype_policy::f32);
    auto t1 = clock_type::now();
    if (!m) return fail(state, m.error_value());
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  state.counters["GB/s"] = benchmark::Counter(double(f->bytes * 3) * double(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);  // BF16 read + F32 written
}

// Floor: the same bytes (the BF16 data read, twice as many written) copied
// from the mapped file into fresh memory, as many threads as the load uses (one).
void bm_copy_floor(benchmark::State& state, const model_file* f) {
  sw::reader r = sw::open(f->path);
  auto data = r.index().data_size();
  const sw::tensor_view first = r.tensor(r.tensors()[0]).value();  // mapped: its bytes are the file's
  const std::byte* src = first.bytes().data() - r.tensors()[0].begin;
  for (auto _ : state) {
    auto t0 = clock_type::now();
    sw::aligned_buffer out(static_cast<std::size_t>(2 * data));
    std::memcpy(out.data(), src, static_cast<std::size_t>(data));
    std::memcpy(out.data() + data, src, static_cast<std::size_t>(data));
    benchmark::DoNotOptimize(out.data());
    auto t1 = clock_type::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  state.counters["GB/s"] = benchmark::Counter(double(data * 3) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// ------------------------------------------------------------------ running

std::unique_ptr<nn::gpt2>& model_for(const model_file* f) {
  static std::unique_ptr<nn::gpt2> f32, bf16;
  auto& m = f == &f32_file ? f32 : bf16;
  if (!m) m = nn::load_gpt2(f->path).value();
  return m;
}

void bm_prompt(benchmark::State& state, const model_file* f) {
  const auto& m = model_for(f);
  auto tokens = prompt_tokens();
  {
    auto s = m->start();
    benchmark::DoNotOptimize(m->forward(s, tokens));
  }
  for (auto _ : state) {
    auto s = m->start();
    benchmark::DoNotOptimize(m->forward(s, tokens));
  }
}

void bm_decode(benchmark::State& state, const model_file* f) {
  const auto& m = model_for(f);
  auto tokens = prompt_tokens();
  auto s = m->start();
  m->forward(s, tokens);
  std::int64_t next = 11;
  for (auto _ : state) {
    if (s.length + 1 >= m->config().n_positions) {
      state.PauseTiming();
      s = m->start();
      m->forward(s, tokens);
      state.ResumeTiming();
    }
    auto logits = m->forward(s, std::span<const std::int64_t>(&next, 1));
    next = nn::gpt2::argmax(logits);
  }
  state.counters["GB/s"] = benchmark::Counter(double(f->bytes) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// Floor: sum the file's mapped bytes as floats on the kernels' threads.
void bm_read_floor(benchmark::State& state, const model_file* f) {
  sw::reader r = sw::open(f->path);
  const sw::tensor_view first = r.tensor(r.tensors()[0]).value();
  const auto* base = reinterpret_cast<const float*>(first.bytes().data());
  const std::size_t n = static_cast<std::size_t>(r.index().data_size() / 4);
  auto sum = [&] { return swbench::sum_on_kernel_threads(base, n); };
  benchmark::DoNotOptimize(sum());
  for (auto _ : state) benchmark::DoNotOptimize(sum());
  state.counters["GB/s"] = benchmark::Counter(double(n * 4) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// ------------------------------------------------------------------ memory

long status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + std::strlen(key), nullptr, 10);
  return -1;
}

struct memory_figures {
  long before_kib = -1, after_load_kib = -1, after_run_kib = -1, peak_kib = -1;
  double load_ms = 0;
};

// In a fresh child process: RSS before, after loading (zero copy), and after
// a 64-token prompt and 16 decoded tokens (every weight touched). Called
// before anything starts the kernels' thread pool: threads do not survive fork.
memory_figures measure_memory(const model_file* f) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    memory_figures m;
    m.before_kib = status_kib("VmRSS:");
    auto t0 = clock_type::now();
    auto model = nn::load_gpt2(f->path);
    m.load_ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
    if (model) {
      m.after_load_kib = status_kib("VmRSS:");
      (*model)->generate(prompt_tokens(), 16);
      m.after_run_kib = status_kib("VmRSS:");
      m.peak_kib = status_kib("VmHWM:");
    }
    ssize_t ignored = ::write(fds[1], &m, sizeof m);
    (void)ignored;
    ::_exit(0);
  }
  ::close(fds[1]);
  memory_figures m;
  if (::read(fds[0], &m, sizeof m) != static_cast<ssize_t>(sizeof m)) m = {};
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return m;
}

// ------------------------------------------------------------------ PyTorch

// bench/gpt2_torch.py's median prompt time, or a negative number when it cannot run.
double torch_prompt_ms(std::string& note) {
  const std::string script = std::string(SAFEWEIGHTS_SOURCE_DIR) + "/bench/gpt2_torch.py";
  const std::string out_path = f32_file.path + ".torch.json";
  std::vector<std::string> args = {"/usr/bin/python3", script, f32_file.path, "--tokens", std::to_string(kPrompt),
                                   "--threads", std::to_string(kn::thread_count())};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = {"OMP_WAIT_POLICY=PASSIVE"};
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    note = "cannot start /usr/bin/python3";
    return -1;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::ifstream in(out_path);
  std::stringstream text;
  text << in.rdbuf();
  ::unlink(out_path.c_str());
  std::string s = text.str();
  auto at = s.find("\"prompt_ms\": ");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || at == std::string::npos) {
    note = "bench/gpt2_torch.py failed (is python3-torch installed?)";
    return -1;
  }
  auto v = s.find("\"torch\": \"");
  note = v == std::string::npos ? "" : "torch " + s.substr(v + 10, s.find('"', v + 10) - v - 10);
  return std::strtod(s.c_str() + at + 13, nullptr);
}

// ------------------------------------------------------------------ summary

void summarize(const swbench::recording_reporter& rep, const memory_figures& bf16_memory, const memory_figures& f32_memory,
               double torch_ms, const std::string& torch_note) {
  auto seconds = [&](const std::string& n) {
    const auto* f = rep.find(n);
    return f ? f->seconds : -1.0;
  };
  auto counter = [&](const std::string& n, const char* c) {
    const auto* f = rep.find(n);
    if (!f) return -1.0;
    auto it = f->counters.find(c);
    return it == f->counters.end() ? -1.0 : it->second;
  };
  std::printf("\nSUMMARY (GPT-2 small: 124M parameters; F32 file %.1f MB, BF16 file %.1f MB; %zu threads, %s; medians of %d)\n",
              double(f32_file.bytes) / 1e6, double(bf16_file.bytes) / 1e6, kn::thread_count(),
              std::string(kn::isa_name(kn::active_isa())).c_str(), kRepetitions);
  swbench::summary_table t;
  std::printf("\nLoading\n");
  for (const char* which : {"f32", "bf16"}) {
    double s = seconds(std::string("load_zero_copy/") + which);
    if (s < 0) continue;
    bool ok = s < 1e-3;
    ++t.judged;
    t.pass += ok;
    std::printf("  zero-copy load %-5s (open, size, build, borrow 148 tensors) %8.3f ms   goal < 1 ms  %s\n", which, s * 1e3,
                ok ? "PASS" : "MISS");
  }
  t.header("Throughput (higher is better)");
  double conv = counter("load_convert/bf16", "GB/s"), floor = counter("copy_floor/bf16", "GB/s");
  if (conv > 0 && floor > 0)
    t.row("converting load BF16 -> F32 (read + written)", conv, "memcpy same bytes, fresh memory", floor, "GB/s", 0.8);
  for (const char* which : {"f32", "bf16"}) {
    double d = counter(std::string("decode/") + which, "GB/s"), r = counter(std::string("read_floor/") + which, "GB/s");
    if (d > 0 && r > 0)
      t.row(std::string("decode one token, ") + which + " (weights streamed)", d, "sum of the mapped file", r, "GB/s", 0.7);
  }
  double prompt = seconds("prompt/f32");
  if (prompt > 0 && torch_ms > 0)
    t.row("64-token prompt forward, F32 (1 / time)", 1.0 / prompt, "PyTorch eager (" + torch_note + ")", 1e3 / torch_ms,
          "1/s", 1.0);
  else
    std::printf("64-token prompt forward, F32: %.1f ms; PyTorch not run (%s)\n", prompt * 1e3, torch_note.c_str());
  std::printf("\nTimes: prompt F32 %.1f ms, BF16 %.1f ms; decode F32 %.2f ms/token, BF16 %.2f ms/token; PyTorch prompt %.1f ms\n",
              seconds("prompt/f32") * 1e3, seconds("prompt/bf16") * 1e3, seconds("decode/f32") * 1e3,
              seconds("decode/bf16") * 1e3, torch_ms);
  std::printf("\nResident memory of a fresh process (VmRSS), loading with zero copy, then a 64-token prompt and 16 tokens:\n");
  for (auto [name, m, bytes] : {std::tuple{"BF16", bf16_memory, bf16_file.bytes}, std::tuple{"F32", f32_memory, f32_file.bytes}})
    std::printf("  %-4s file %7.1f MB: before %6.1f MB, after load %6.1f MB (%.2f ms), after running %6.1f MB, peak %6.1f MB"
                " = %.2f x the file (%.2f x counting only what the model added)\n",
                name, double(bytes) / 1e6, m.before_kib / 1024.0 * 1.048576, m.after_load_kib / 1024.0 * 1.048576, m.load_ms,
                m.after_run_kib / 1024.0 * 1.048576, m.peak_kib / 1024.0 * 1.048576, m.peak_kib * 1024.0 / double(bytes),
                double(m.peak_kib - m.before_kib) * 1024.0 / double(bytes));
  std::printf("\n%d of %d goals hold. Load average (1/5/15 min) now %s.\n", t.pass, t.judged, swbench::load_average().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  std::string dir = swbench::make_fixture_dir();
  f32_file.path = dir + "/gpt2-f32.safetensors";
  bf16_file.path = dir + "/gpt2-bf16.safetensors";
  auto t0 = clock_type::now();
  swbench::write_random_gpt2(f32_file.path, sw::dtype::F32);
  swbench::write_random_gpt2(bf16_file.path, sw::dtype::BF16);
  f32_file.bytes = swbench::warm(f32_file.path);
  bf16_file.bytes = swbench::warm(bf16_file.path);
  std::fprintf(stderr, "wrote and warmed %s and %s in %.1f s\n", f32_file.path.c_str(), bf16_file.path.c_str(),
               std::chrono::duration<double>(clock_type::now() - t0).count());
  std::printf("load average (1/5/15 min) before: %s\n", swbench::load_average().c_str());

  auto timed = [](benchmark::internal::Benchmark* b) {
    b->UseManualTime()->Unit(benchmark::kMillisecond)->Repetitions(kRepetitions)->DisplayAggregatesOnly(true);
  };
  auto real = [](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond)->Repetitions(kRepetitions)->DisplayAggregatesOnly(true);
  };
  for (auto [name, f] : {std::pair{"f32", &f32_file}, std::pair{"bf16", &bf16_file}}) {
    timed(benchmark::RegisterBenchmark((std::string("load_zero_copy/") + name).c_str(), bm_load_zero_copy, f)->Iterations(20));
    real(benchmark::RegisterBenchmark((std::string("prompt/") + name).c_str(), bm_prompt, f)->Iterations(3));
    real(benchmark::RegisterBenchmark((std::string("decode/") + name).c_str(), bm_decode, f)->Iterations(20));
    real(benchmark::RegisterBenchmark((std::string("read_floor/") + name).c_str(), bm_read_floor, f)->Iterations(10));
  }
  timed(benchmark::RegisterBenchmark("load_convert/bf16", bm_load_convert, &bf16_file)->Iterations(2));
  timed(benchmark::RegisterBenchmark("copy_floor/bf16", bm_copy_floor, &bf16_file)->Iterations(2));

  memory_figures bf16_memory = measure_memory(&bf16_file), f32_memory = measure_memory(&f32_file);
  swbench::recording_reporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  std::string note;
  double torch_ms = torch_prompt_ms(note);
  summarize(rep, bf16_memory, f32_memory, torch_ms, note);
  benchmark::Shutdown();
  return rep.errors() ? 1 : 0;
}
