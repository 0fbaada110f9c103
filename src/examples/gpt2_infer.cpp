// gpt2-infer: runs a GPT-2 checkpoint laid out as Hugging Face's (see
// include/safeweights/nn/gpt2.hpp) on a token sequence.
//
//   gpt2-infer --weights FILE --tokens 464,3290,318 [--n-head 12] [--generate K] [--json]
//              [--dtype keep|f32|bf16] [--threads N]
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
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "safeweights/nn/gpt2.hpp"

namespace nn = safeweights::nn;

namespace {

constexpr const char* usage =
    "usage: gpt2-infer --weights FILE --tokens ID,ID,... [--n-head N] [--generate K] [--json]\n"
    "                  [--dtype keep|f32|bf16] [--threads N]\n";

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

}  // namespace

int main(int argc, char** argv) {
  std::string weights;
  std::optional<std::vector<std::int64_t>> tokens;
  std::optional<std::size_t> n_head, threads;
  std::size_t generate = 0;
  bool json = false;
  nn::dtype_policy dtypes = nn::dtype_policy::keep;
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
      json = true;
    } else if (a == "--weights") {
      auto v = value();
      if (!v) return usage_error("--weights needs a file");
      weights = std::string(*v);
    } else if (a == "--tokens") {
      auto v = value();
      if (!v || !(tokens = parse_tokens(*v))) return usage_error("--tokens needs a comma-separated list of token ids");
    } else if (a == "--n-head") {
      auto v = value();
      auto n = v ? parse_number<std::size_t>(*v) : std::nullopt;
      if (!n || *n == 0) return usage_error("--n-head needs a positive number");
      n_head = n;
    } else if (a == "--generate") {
      auto v = value();
      auto n = v ? parse_number<std::size_t>(*v) : std::nullopt;
      if (!n) return usage_error("--generate needs a number");
      generate = *n;
    } else if (a == "--threads") {
      auto v = value();
      auto n = v ? parse_number<std::size_t>(*v) : std::nullopt;
      if (!n || *n == 0) return usage_error("--threads needs a positive number");
      threads = n;
    } else if (a == "--dtype") {
      auto v = value();
      if (v == "keep") dtypes = nn::dtype_policy::keep;
      else if (v == "f32") dtypes = nn::dtype_policy::f32;
      else if (v == "bf16") dtypes = nn::dtype_policy::bf16;
      else return usage_error("--dtype is keep, f32 or bf16");
    } else {
      return usage_error("unknown argument `" + std::string(a) + "`");
    }
  }
  if (weights.empty()) return usage_error("--weights is required");
  if (!tokens) return usage_error("--tokens is required");
  if (threads) safeweights::kernels::set_thread_count(*threads);

  auto model = nn::load_gpt2(weights, n_head, dtypes);
  if (!model) {
    std::fprintf(stderr, "gpt2-infer: %s\n", model.error_value().message.c_str());
    return 1;
  }
  const nn::gpt2_config& c = (*model)->config();
  for (std::int64_t id : *tokens)
    if (static_cast<std::uint64_t>(id) >= c.vocab_size) {
      std::fprintf(stderr, "gpt2-infer: token %lld is outside the vocabulary of %zu\n", static_cast<long long>(id),
                   c.vocab_size);
      return 1;
    }
  if (tokens->size() + (generate ? generate - 1 : 0) > c.n_positions) {
    std::fprintf(stderr, "gpt2-infer: %zu tokens and %zu generated exceed the model's %zu positions\n", tokens->size(),
                 generate, c.n_positions);
    return 1;
  }
  std::vector<float> logits;
  std::vector<std::int64_t> generated;
  try {
    generated = (*model)->generate(*tokens, std::max<std::size_t>(generate, 1), &logits);
  } catch (const safeweights::exception& e) {
    std::fprintf(stderr, "gpt2-infer: %s\n", e.what());
    return 1;
  }
  const std::int64_t next = generated.front();
  if (!generate) generated.clear();

  std::string out;
  if (json) {
    out = "{\"logits\": [";
    for (std::size_t i = 0; i < logits.size(); ++i) {
      if (i) out += ", ";
      print_float(out, logits[i]);
    }
    out += "], \"next_token\": " + std::to_string(next);
    if (generate) {
      out += ", \"generated\": [";
      for (std::size_t i = 0; i < generated.size(); ++i) out += (i ? ", " : "") + std::to_string(generated[i]);
      out += "]";
    }
    out += "}\n";
  } else {
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
    if (generate) {
      out += "generated:";
      for (std::int64_t id : generated) out += " " + std::to_string(id);
      out += "\n";
    }
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}
