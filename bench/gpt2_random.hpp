// A GPT-2-small-sized checkpoint of random weights in Hugging Face's layout
// (124,439,808 parameters, n_head 12 in the metadata), for the benchmarks.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "safeweights/kernels/convert.hpp"

namespace swbench {

namespace kn = safeweights::kernels;

// Random weights as a trained GPT-2's are roughly scaled: N(0, 0.02), LayerNorm gains 1.
inline void write_random_gpt2(const std::string& path, sw::dtype type) {
  constexpr std::uint64_t d = 768, vocab = 50257, ctx = 1024, layers = 12;
  sw::writer w;
  w.set_metadata("format", "pt");
  w.set_metadata("n_head", "12");
  auto add = [&](const std::string& name, std::vector<std::uint64_t> shape, bool ones = false) {
    std::uint64_t seed = std::hash<std::string>{}(name);
    auto source = [seed, ones, type, pos = std::uint64_t{0}](std::span<std::byte> dst) mutable -> std::size_t {
      const std::size_t width = sw::byte_width(type), n = dst.size() / width;
      std::vector<float> f(n);
      for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t x = (seed ^ (pos + i)) * 0x9e3779b97f4a7c15ull;
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 32;
        // The sum of two uniforms: a cheap bell shape with standard deviation 0.02.
        float u = static_cast<float>(x & 0xffff) / 65536.0f + static_cast<float>((x >> 16) & 0xffff) / 65536.0f - 1.0f;
        f[i] = ones ? 1.0f : u * 0.049f;
      }
      kn::from_f32(f.data(), type, dst.data(), n);
      pos += n;
      return n * width;
    };
    check(w.add_stream(name, type, std::move(shape), source), path);
  };
  add("wte.weight", {vocab, d});
  add("wpe.weight", {ctx, d});
  for (std::uint64_t n = 0; n < layers; ++n) {
    std::string h = "h." + std::to_string(n) + ".";
    add(h + "ln_1.weight", {d}, true);
    add(h + "ln_1.bias", {d});
    add(h + "attn.c_attn.weight", {d, 3 * d});
    add(h + "attn.c_attn.bias", {3 * d});
    add(h + "attn.c_proj.weight", {d, d});
    add(h + "attn.c_proj.bias", {d});
    add(h + "ln_2.weight", {d}, true);
    add(h + "ln_2.bias", {d});
    add(h + "mlp.c_fc.weight", {d, 4 * d});
    add(h + "mlp.c_fc.bias", {4 * d});
    add(h + "mlp.c_proj.weight", {4 * d, d});
    add(h + "mlp.c_proj.bias", {d});
  }
  add("ln_f.weight", {d}, true);
  add("ln_f.bias", {d});
  check(w.write_file(path), path);
}

}  // namespace swbench
