// A GPT-2-small-sized checkpoint of random weights in Hugging Face's layout as
// nn::gpt2_checkpoint_layout gives it (124,439,808 parameters, n_head 12 in the
// metadata), for the benchmarks.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "safeweights/kernels/convert.hpp"
#include "safeweights/nn/gpt2.hpp"

namespace swbench {

namespace kn = safeweights::kernels;

// A LayerNorm's gain ("ln_1.weight", "ln_f.weight"): GPT-2 names its norms ln_*.
inline bool is_layer_norm_gain(const std::string& name) {
  if (!name.ends_with(".weight")) return false;
  const std::string owner = name.substr(0, name.size() - 7);
  return owner.substr(owner.rfind('.') + 1).starts_with("ln_");
}

// Random weights as a trained GPT-2's are roughly scaled: N(0, 0.02), LayerNorm gains 1.
inline void write_random_gpt2(const std::string& path, sw::dtype type) {
  sw::writer w;
  w.set_metadata("format", "pt");
  w.set_metadata("n_head", "12");
  for (const auto& t : sw::nn::gpt2_checkpoint_layout(sw::nn::gpt2_config{}, type)) {
    const bool ones = is_layer_norm_gain(t.name);
    std::uint64_t seed = std::hash<std::string>{}(t.name);
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
    check(w.add_stream(t.name, t.type, t.shape, source), path);
  }
  check(w.write_file(path), path);
}

}  // namespace swbench
