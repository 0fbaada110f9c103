// libFuzzer target: the state-dict loader on any bytes. The input is read as
// a safetensors image from memory and loaded into a small fixed module, in
// strict and non-strict mode, with each dtype policy, with and without a
// prefix to strip; then the module runs once. Nothing may crash, read out of
// bounds or leave the module half-loaded: a failed load must leave every
// tensor as it was (checked by comparing bytes before and after).
// Run: fuzz/run SECONDS state_dict.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "safeweights/nn/layers/activations.hpp"
#include "safeweights/nn/layers/embedding.hpp"
#include "safeweights/nn/layers/layer_norm.hpp"
#include "safeweights/nn/layers/linear.hpp"
#include "safeweights/nn/layers/sequential.hpp"
#include "safeweights/nn/state_dict.hpp"

namespace sw = safeweights;
namespace nn = safeweights::nn;

namespace {

// net.0 = Linear(4, 3), net.1 = ReLU, net.2 = Linear(3, 2, no bias); emb [5, 4]; norm [4]; count (I64 buffer).
struct fuzz_model : nn::module {
  nn::sequential net;
  nn::embedding emb{5, 4};
  nn::layer_norm norm{4};
  nn::tensor count;
  fuzz_model() {
    net.push_back(std::make_unique<nn::linear>(4, 3));
    net.push_back(std::make_unique<nn::relu>());
    net.push_back(std::make_unique<nn::linear>(3, 2, false));
    register_module("net", net);
    register_module("emb", emb);
    register_module("norm", norm);
    register_buffer("count", count, nn::tensor::zeros(sw::dtype::I64, {1}));
  }
};

std::vector<std::vector<std::byte>> snapshot(fuzz_model& m) {
  std::vector<std::vector<std::byte>> out;
  for (const auto& t : m.state()) out.emplace_back(t.value->bytes().begin(), t.value->bytes().end());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto bytes = std::as_bytes(std::span(data, size));
  auto file = sw::reader::from_buffer(bytes, {}, "<fuzz>");
  if (!file) return 0;
  std::vector<sw::reader> files;
  files.push_back(*file);
  auto set = nn::checkpoint::from_files(std::move(files), "<fuzz>");
  if (!set) return 0;
  for (bool strict : {true, false})
    for (auto policy : {nn::dtype_policy::as_declared, nn::dtype_policy::keep, nn::dtype_policy::bf16})
      for (const char* prefix : {"", "model."}) {
        fuzz_model m;
        nn::load_options options;
        options.strict = strict;
        options.dtypes = policy;
        options.strip_prefix = prefix;
        options.ignore_unexpected = {"*.attn.bias", "h.*.x"};
        (void)nn::check_state_dict(m, *set, options);
        auto before = snapshot(m);
        auto loaded = nn::load_state_dict(m, *set, options);
        if (!loaded) {
          if (snapshot(m) != before) __builtin_trap();  // half-loaded
          continue;
        }
        // Whatever was loaded must run: the layers read every tensor they hold.
        nn::tensor x = nn::tensor::zeros(sw::dtype::F32, {2, 4});
        nn::tensor y = m.net(m.norm(x));
        if (y.numel() != 4) __builtin_trap();
        std::vector<std::int64_t> ids = {0, 4};
        (void)m.emb.forward(ids);
      }
  return 0;
}
