// gpt2-infer: runs a GPT-2 checkpoint laid out as Hugging Face's (see
// include/safeweights/nn/gpt2.hpp) on a token sequence.
//
//   gpt2-infer --weights FILE --tokens 464,3290,318 [--n-head 12] [--generate K] [--json]
//              [--dtype keep|f32|bf16] [--threads N] [--tp]
//
// FILE is a .safetensors file or a model.safetensors.index.json. Sizes come
// from the tensor shapes, the head count from --n-head or the metadata key
// n_head. By default the weights stay in the file's dtype and in its mapping
// (F32, BF16 and F16 are computed from directly; others are converted to F32).
//
// --json prints one object:
//   {"logits": [... vocab floats at the last prompt position ...], "next_token": ID}
// and with --generate K (greedy decoding) also
//   "generated": [K token ids]          (the first of them is next_token)
// Without --json: the next token, the five best logits and any generated ids.
// Exit status: 0 ok, 1 invalid input (a bad file, a token out of range), 2 usage error.
//
// --tp: tensor-parallel over the ranks of `mpirun -np N gpt2-infer --tp ...`
// (include/safeweights/nn/gpt2_tensor_parallel.hpp). N must divide the head
// count. Each rank reads (pread, no mapping) only its part of each split
// weight plus the whole embeddings and norms. Rank 0 prints the output, and
// on stderr one line per rank: bytes read from the file, load time, VmRSS and
// VmHWM; with --json also "tensor_parallel": {"world": N, "ranks": [{"rank",
// "bytes_read", "fetch_calls", "sharded_bytes", "replicated_bytes", "load_ms",
// "vm_rss_kib", "vm_hwm_kib"}, ...]}. Threads default to the cores / N.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "safeweights/nn/gpt2.hpp"
#include "safeweights/nn/gpt2_tensor_parallel.hpp"
#if SAFEWEIGHTS_HAVE_MPI
#include "mpi_world.hpp"
#include "process_memory.hpp"
#endif

namespace nn = safeweights::nn;

namespace {

constexpr const char* usage =
    "usage: gpt2-infer --weights FILE --tokens ID,ID,... [--n-head N] [--generate K] [--json]\n"
    "                  [--dtype keep|f32|bf16] [--threads N] [--tp]\n";

int usage_error(const std::string& what) {
  std::fprintf(stderr, "gpt2-infer: %s\n%s", what.c_str(), usage);
  return 2;
}

template <class T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<std::vector<std::int64_t>> parse_tokens(std::string_view s) {
  std::vector<std::int64_t> out;
  while (true) {
    std::size_t comma = s.find(',');
    auto id = parse_number<std::int64_t>(s.substr(0, comma));
    if (!id || *id < 0) return std::nullopt;
    out.push_back(*id);
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

void print_float(std::string& out, float f) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(f));
  out.append(buf, static_cast<std::size_t>(n));
}

// The program's output: the next token, the logits, any generated ids, and
// `extra_json` (a `"key": value` member) in the JSON object.
std::string format_output(const nn::gpt2_config& c, const std::vector<float>& logits, std::int64_t next,
                          const std::vector<std::int64_t>& generated, bool json, const std::string& extra_json) {
  std::string out;
  if (json) {
    out = "{\"logits\": [";
    for (std::size_t i = 0; i < logits.size(); ++i) {
      if (i) out += ", ";
      print_float(out, logits[i]);
    }
    out += "], \"next_token\": " + std::to_string(next);
    if (!generated.empty()) {
      out += ", \"generated\": [";
      for (std::size_t i = 0; i < generated.size(); ++i) out += (i ? ", " : "") + std::to_string(generated[i]);
      out += "]";
    }
    if (!extra_json.empty()) out += ", " + extra_json;
    out += "}\n";
    return out;
  }
  std::vector<std::size_t> order(logits.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  const std::size_t top = std::min<std::size_t>(5, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                    [&](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
  out = "gpt2: " + std::to_string(c.n_layer) + " layers, width " + std::to_string(c.n_embd) + ", " +
        std::to_string(c.n_head) + " heads, vocabulary " + std::to_string(c.vocab_size) + " (" +
        std::string(safeweights::kernels::isa_name(safeweights::kernels::active_isa())) + ", " +
        std::to_string(safeweights::kernels::thread_count()) + " threads)\n";
  out += "next token: " + std::to_string(next) + "\nbest logits:";
  for (std::size_t i = 0; i < top; ++i) {
    out += " " + std::to_string(order[i]) + "=";
    print_float(out, logits[order[i]]);
  }
  out += "\n";
  if (!generated.empty()) {
    out += "generated:";
    for (std::int64_t id : generated) out += " " + std::to_string(id);
    out += "\n";
  }
  return out;
}

struct settings {
  std::string weights;
  std::vector<std::int64_t> tokens;
  std::optional<std::size_t> n_head, threads;
  std::size_t generate = 0;
  bool json = false;
  nn::dtype_policy dtypes = nn::dtype_policy::keep;
};

// The prompt fits the vocabulary and the positions (1 and a message otherwise).
int check_prompt(const settings& s, const nn::gpt2_config& c) {
  for (std::int64_t id : s.tokens)
    if (static_cast<std::uint64_t>(id) >= c.vocab_size) {
      std::fprintf(stderr, "gpt2-infer: token %lld is outside the vocabulary of %zu\n", static_cast<long long>(id),
                   c.vocab_size);
      return 1;
    }
  if (s.tokens.size() + (s.generate ? s.generate - 1 : 0) > c.n_positions) {
    std::fprintf(stderr, "gpt2-infer: %zu tokens and %zu generated exceed the model's %zu positions\n",
                 s.tokens.size(), s.generate, c.n_positions);
    return 1;
  }
  return 0;
}

int run_single(const settings& s) {
  auto model = nn::load_gpt2(s.weights, s.n_head, s.dtypes);
  if (!model) {
    std::fprintf(stderr, "gpt2-infer: %s\n", model.error_value().message.c_str());
    return 1;
  }
  const nn::gpt2_config& c = (*model)->config();
  if (int bad = check_prompt(s, c)) return bad;
  std::vector<float> logits;
  std::vector<std::int64_t> generated;
  try {
    generated = (*model)->generate(s.tokens, std::max<std::size_t>(s.generate, 1), &logits);
  } catch (const safeweights::exception& e) {
    std::fprintf(stderr, "gpt2-infer: %s\n", e.what());
    return 1;
  }
  const std::int64_t next = generated.front();
  if (!s.generate) generated.clear();
  std::fputs(format_output(c, logits, next, generated, s.json, "").c_str(), stdout);
  return 0;
}

#if SAFEWEIGHTS_HAVE_MPI
// One rank of the tensor-parallel run. Every rank reaches the same verdict
// on the file and the prompt (they read the same header), and a failure on
// any rank is shared through mpi_world::max, so no rank waits for a sum
// another will never send. Exit status: the worst rank's.
int run_tensor_parallel(const settings& s, const mpi_world& world) {
  const bool lead = world.rank() == 0;
  auto say = [&](const std::string& what) {
    std::fprintf(stderr, "gpt2-infer (rank %zu of %zu): %s\n", world.rank(), world.size(), what.c_str());
  };
  if (!s.threads) {
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    safeweights::kernels::set_thread_count(std::max<std::size_t>(1, cores / world.size()));
  }
  const auto t0 = std::chrono::steady_clock::now();
  safeweights::read_options read;
  read.mode = safeweights::io_mode::pread;
  read.random_access = true;
  int status = 0;
  std::unique_ptr<nn::gpt2_tp> model;
  nn::gpt2_tp_plan plan;
  auto file = nn::checkpoint::open(s.weights, read);
  std::optional<nn::gpt2_config> config;
  if (!file) {
    say(file.error_value().message);
    status = 1;
  } else if (auto c = nn::gpt2_config_from(*file, s.n_head); !c) {
    say(c.error_value().message);
    status = 1;
  } else if (c->n_head % world.size() != 0) {
    if (lead)
      std::fprintf(stderr, "gpt2-infer: --tp over %zu ranks needs a rank count that divides the model's %zu heads\n%s",
                   world.size(), c->n_head, usage);
    status = 2;
  } else {
    config = *c;
    auto loaded = nn::load_gpt2_tp(*file, *c, world.rank(), world.size(), &mpi_world::sum, s.dtypes, &plan);
    if (!loaded) {
      say(loaded.error_value().message);
      status = 1;
    } else {
      model = std::move(*loaded);
      if (check_prompt(s, *c)) status = 1;
    }
  }
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if ((status = mpi_world::max(status))) return status;

  std::vector<float> logits;
  std::vector<std::int64_t> generated;
  try {
    generated = model->generate(s.tokens, std::max<std::size_t>(s.generate, 1), &logits);
  } catch (const safeweights::exception& e) {
    say(e.what());
    status = 1;  // the same on every rank: the ranks run the same positions
  }
  if ((status = mpi_world::max(status))) return status;

  std::uint64_t bytes = 0, calls = 0;
  for (const safeweights::reader& r : file->files()) {
    bytes += r.bytes_fetched();
    calls += r.fetch_calls();
  }
  const process_memory memory = read_process_memory();
  const std::vector<double> mine = {static_cast<double>(bytes), static_cast<double>(calls),
                                    static_cast<double>(plan.sharded_bytes), static_cast<double>(plan.replicated_bytes),
                                    load_ms, static_cast<double>(memory.rss_kib), static_cast<double>(memory.hwm_kib)};
  const std::vector<double> all = world.gather(mine);
  if (!lead) return 0;

  std::string report = "\"tensor_parallel\": {\"world\": " + std::to_string(world.size()) + ", \"ranks\": [";
  for (std::size_t r = 0; r < world.size(); ++r) {
    const double* v = all.data() + r * mine.size();
    auto u = [](double x) { return std::to_string(static_cast<long long>(x)); };
    std::fprintf(stderr,
                 "gpt2-infer: rank %zu of %zu: read %s bytes in %s calls (its part of the split tensors %s + whole "
                 "tensors %s), load %.1f ms, VmRSS %.1f MiB, VmHWM %.1f MiB\n",
                 r, world.size(), u(v[0]).c_str(), u(v[1]).c_str(), u(v[2]).c_str(), u(v[3]).c_str(), v[4],
                 v[5] / 1024.0, v[6] / 1024.0);
    char load[32];
    std::snprintf(load, sizeof load, "%.3f", v[4]);
    report += std::string(r ? ", " : "") + "{\"rank\": " + std::to_string(r) + ", \"bytes_read\": " + u(v[0]) +
              ", \"fetch_calls\": " + u(v[1]) + ", \"sharded_bytes\": " + u(v[2]) + ", \"replicated_bytes\": " +
              u(v[3]) + ", \"load_ms\": " + load + ", \"vm_rss_kib\": " + u(v[5]) + ", \"vm_hwm_kib\": " + u(v[6]) + "}";
  }
  report += "]}";
  const std::int64_t next = generated.front();
  if (!s.generate) generated.clear();
  std::fputs(format_output(*config, logits, next, generated, s.json, report).c_str(), stdout);
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  settings s;
  std::optional<std::vector<std::int64_t>> tokens;
  bool tp = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::optional<std::string_view> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string_view(argv[++i]);
    };
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      return 0;
    } else if (a == "--json") {
      s.json = true;
    } else if (a == "--tp") {
      tp = true;
    } else if (a == "--weights") {
      auto v = value();
      if (!v) return usage_error("--weights needs a file");
      s.weights = std::string(*v);
    } else if (a == "--tokens") {
      auto v = value();
      if (!v || !(tokens = parse_tokens(*v))) return usage_error("--tokens needs a comma-separated list of token ids");
    } else if (a == "--n-head") {
      auto v = value();
      auto n = v ? parse_number<std::size_t>(*v) : std::nullopt;
      if (!n || *n == 0) return usage_error("--n-head needs a positive number");
      s.n_head = n;
    } else if (a == "--generate") {
      auto v = value();
      auto n = v ? parse_number<std::size_t>(*v) : std::nullopt;
      if (!n) return usage_error("--generate needs a number");
      s.generate = *n;
    } else if (a == "--threads") {
      auto v = value();
      auto n = v ? parse_number<std::size_t>(*v) : std::nullopt;
      if (!n || *n == 0) return usage_error("--threads needs a positive number");
      s.threads = n;
    } else if (a == "--dtype") {
      auto v = value();
      if (v == "keep") s.dtypes = nn::dtype_policy::keep;
      else if (v == "f32") s.dtypes = nn::dtype_policy::f32;
      else if (v == "bf16") s.dtypes = nn::dtype_policy::bf16;
      else return usage_error("--dtype is keep, f32 or bf16");
    } else {
      return usage_error("unknown argument `" + std::string(a) + "`");
    }
  }
  if (s.weights.empty()) return usage_error("--weights is required");
  if (!tokens) return usage_error("--tokens is required");
  s.tokens = std::move(*tokens);
  if (s.threads) safeweights::kernels::set_thread_count(*s.threads);
  if (!tp) return run_single(s);
#if SAFEWEIGHTS_HAVE_MPI
  mpi_world world(&argc, &argv);
  return run_tensor_parallel(s, world);
#else
  return usage_error("--tp needs MPI, and this gpt2-infer was built without it (install libopenmpi-dev, reconfigure)");
#endif
}
