// GPT-2 as Hugging Face's GPT2LMHeadModel lays out its weights:
//
//   wte.weight [vocab, d]   wpe.weight [positions, d]
//   h.N.ln_1.{weight,bias}  h.N.attn.c_attn.{weight [d, 3d], bias}  h.N.attn.c_proj.{weight [d, d], bias}
//   h.N.ln_2.{weight,bias}  h.N.mlp.c_fc.{weight [d, 4d], bias}     h.N.mlp.c_proj.{weight [4d, d], bias}
//   ln_f.{weight,bias}
//
// Conv1D weights are stored [in, out]; the LM head is tied to wte; the
// activation is gelu_new (tanh); LayerNorm eps 1e-5. Files may prefix every
// name with "transformer." and may hold the old causal-mask buffers
// h.N.attn.bias and h.N.attn.masked_bias (and a tied lm_head.weight), which
// are ignored. The sizes come from the shapes; the head count from the
// caller or the metadata key n_head. gpt2_checkpoint_layout lists the
// tensors for a config, from the module itself.
#pragma once

#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "safeweights/io/checkpoint.hpp"
#include "safeweights/kernels/activations.hpp"
#include "safeweights/nn/layers/causal_self_attention.hpp"
#include "safeweights/nn/layers/conv1d.hpp"
#include "safeweights/nn/layers/embedding.hpp"
#include "safeweights/nn/layers/layer_norm.hpp"
#include "safeweights/nn/layers/module_list.hpp"
#include "safeweights/nn/model_card.hpp"
#include "safeweights/nn/state_dict.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

struct gpt2_config {
  std::size_t vocab_size = 50257, n_positions = 1024, n_embd = 768, n_layer = 12, n_head = 12;
  float layer_norm_epsilon = 1e-5f;
};

class gpt2_mlp : public module {
 public:
  gpt2_mlp(std::size_t d, dtype type) : c_fc(d, 4 * d, type), c_proj(4 * d, d, type) {
    register_module("c_fc", c_fc);
    register_module("c_proj", c_proj);
  }
  conv1d c_fc, c_proj;
};

class gpt2_block : public module {
 public:
  gpt2_block(const gpt2_config& c, dtype type)
      : ln_1(c.n_embd, c.layer_norm_epsilon, true, type),
        attn(c.n_embd, c.n_head, type),
        ln_2(c.n_embd, c.layer_norm_epsilon, true, type),
        mlp(c.n_embd, type) {
    register_module("ln_1", ln_1);
    register_module("attn", attn);
    register_module("ln_2", ln_2);
    register_module("mlp", mlp);
  }

  // x [rows, d] in place: x += attn(ln_1(x)); x += mlp(ln_2(x)).
  void forward_rows(float* x, std::size_t rows, kv_cache& cache) const {
    const std::size_t d = ln_1.weight.numel();
    std::vector<float> a(rows * d), b(rows * d), wide(rows * 4 * d);
    ln_1.forward_rows(x, rows, d, a.data(), d);
    attn.forward_rows(a.data(), rows, b.data(), &cache);
    kernels::add_to(x, b.data(), rows * d);
    ln_2.forward_rows(x, rows, d, a.data(), d);
    mlp.c_fc.forward_rows(a.data(), rows, d, wide.data(), 4 * d);
    kernels::gelu_tanh(wide.data(), wide.size());
    mlp.c_proj.forward_rows(wide.data(), rows, 4 * d, b.data(), d);
    kernels::add_to(x, b.data(), rows * d);
  }

  layer_norm ln_1;
  causal_self_attention attn;
  layer_norm ln_2;
  gpt2_mlp mlp;
};

namespace internal {

// What every GPT-2 forward shares, around its blocks: token plus position
// embeddings for the positions after `length`, `blocks(x, rows)` on them in
// place, then the final norm and the tied LM head (wte, [vocab, d], read as
// [out, in]) at the last position only.
template <class Blocks>
std::vector<float> gpt2_forward(const gpt2_config& c, const embedding& wte, const embedding& wpe, const layer_norm& ln_f,
                                std::size_t& length, std::span<const std::int64_t> tokens, Blocks&& blocks) {
  const std::size_t d = c.n_embd, rows = tokens.size();
  if (rows == 0) fail("gpt2: no tokens");
  if (length + rows > c.n_positions)
    fail("gpt2: " + std::to_string(length + rows) + " positions, the model has " + std::to_string(c.n_positions));
  std::vector<float> x(rows * d), position(d);
  for (std::size_t t = 0; t < rows; ++t) {
    wte.row(tokens[t], x.data() + t * d);
    wpe.row(static_cast<std::int64_t>(length + t), position.data());
    kernels::add_to(x.data() + t * d, position.data(), d);
  }
  blocks(x.data(), rows);
  length += rows;
  std::vector<float> last(d), logits(c.vocab_size);
  ln_f.forward_rows(x.data() + (rows - 1) * d, 1, d, last.data(), d);
  kernels::gemv(last.data(), wte.weight.matrix(), kernels::weight_layout::out_in, nullptr, logits.data());
  return logits;
}

// The first index of the largest value (as torch.argmax).
inline std::int64_t argmax(const std::vector<float>& v) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return static_cast<std::int64_t>(best);
}

// Greedy decoding with any model that has start() and forward(session, tokens).
template <class Model>
std::vector<std::int64_t> gpt2_generate(const Model& model, std::span<const std::int64_t> prompt, std::size_t count,
                                        std::vector<float>* prompt_logits) {
  auto s = model.start();
  std::vector<float> logits = model.forward(s, prompt);
  if (prompt_logits) *prompt_logits = logits;
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(argmax(logits));
    if (i + 1 < count) logits = model.forward(s, std::span<const std::int64_t>(&out.back(), 1));
  }
  return out;
}

}  // namespace internal

class gpt2 : public module {
 public:
  // Parameters start as zeros of `type` (large ones cost no memory until
  // written); load_state_dict replaces them.
  explicit gpt2(const gpt2_config& c, dtype type = dtype::F32)
      : config_(c), wte(c.vocab_size, c.n_embd, type), wpe(c.n_positions, c.n_embd, type),
        ln_f(c.n_embd, c.layer_norm_epsilon, true, type) {
    register_module("wte", wte);
    register_module("wpe", wpe);
    register_module("h", h);
    for (std::size_t i = 0; i < c.n_layer; ++i) h.push_back(std::make_unique<gpt2_block>(c, type));
    register_module("ln_f", ln_f);
  }

  const gpt2_config& config() const noexcept { return config_; }

  // The positions run so far, with their keys and values.
  struct session {
    std::vector<kv_cache> caches;
    std::size_t length = 0;
  };
  session start() const {
    session s;
    for (std::size_t i = 0; i < config_.n_layer; ++i) s.caches.emplace_back(config_.n_positions, config_.n_embd);
    return s;
  }

  // Runs `tokens` after the session's; returns the logits at the last of them [vocab].
  std::vector<float> forward(session& s, std::span<const std::int64_t> tokens) const {
    return internal::gpt2_forward(config_, wte, wpe, ln_f, s.length, tokens, [&](float* x, std::size_t rows) {
      for (std::size_t i = 0; i < h.size(); ++i) h[i].forward_rows(x, rows, s.caches[i]);
    });
  }

  // Greedy decoding: `count` tokens after `prompt`. `prompt_logits`, when
  // given, receives the logits at the prompt's last position.
  std::vector<std::int64_t> generate(std::span<const std::int64_t> prompt, std::size_t count,
                                     std::vector<float>* prompt_logits = nullptr) const {
    return internal::gpt2_generate(*this, prompt, count, prompt_logits);
  }

  // The first index of the largest value (as torch.argmax).
  static std::int64_t argmax(const std::vector<float>& v) { return internal::argmax(v); }

 private:
  gpt2_config config_;

 public:
  embedding wte, wpe;
  module_list<gpt2_block> h;
  layer_norm ln_f;
};

// One tensor of a GPT-2 checkpoint, as gpt2_checkpoint_layout lists it.
struct gpt2_checkpoint_tensor {
  std::string name;  // Hugging Face's, without the "transformer." prefix
  dtype type = dtype::F32;
  std::vector<std::uint64_t> shape;
};

// The tensors of a GPT-2 checkpoint for `c` in `type`: what gpt2 loads, in
// its state-dict order, read from a gpt2 built for `c` (its zeros cost no
// memory) so that the list cannot drift from the module. The buffers old
// files also hold (h.N.attn.bias, h.N.attn.masked_bias) and a tied
// lm_head.weight are not in it: gpt2 has no use for them.
inline std::vector<gpt2_checkpoint_tensor> gpt2_checkpoint_layout(const gpt2_config& c, dtype type = dtype::F32) {
  gpt2 model(c, type);
  std::vector<gpt2_checkpoint_tensor> out;
  for (const named_tensor& t : model.state()) {
    const shape_type& shape = t.value->shape();
    out.push_back({t.name, t.value->type(), std::vector<std::uint64_t>(shape.begin(), shape.end())});
  }
  return out;
}

// The prefix a GPT-2 checkpoint's names carry: "transformer." or none.
inline std::string gpt2_prefix(const checkpoint& file) {
  return file.find("transformer.wte.weight") ? "transformer." : "";
}

// The options that load a GPT-2 checkpoint into gpt2: prefix, ignored buffers, dtypes.
inline load_options gpt2_load_options(const checkpoint& file, dtype_policy dtypes = dtype_policy::keep) {
  load_options o;
  o.strip_prefix = gpt2_prefix(file);
  o.ignore_unexpected = {"h.*.attn.bias", "h.*.attn.masked_bias", "lm_head.weight"};
  o.dtypes = dtypes;
  return o;
}

// Sizes from the shapes; the head count from `n_head`, else the metadata key n_head.
inline result<gpt2_config> gpt2_config_from(const checkpoint& file, std::optional<std::size_t> n_head = std::nullopt) {
  const std::string prefix = gpt2_prefix(file);
  auto fail = [&](std::string what) { return make_error(errc::invalid_argument, "gpt2: " + std::move(what)).in(file.source()); };
  const checkpoint::entry* wte = file.find(prefix + "wte.weight");
  const checkpoint::entry* wpe = file.find(prefix + "wpe.weight");
  if (!wte || !wpe) return fail("no wte.weight or wpe.weight: not a GPT-2 checkpoint");
  if (wte->info->shape.size() != 2 || wpe->info->shape.size() != 2 || wte->info->shape[1] != wpe->info->shape[1])
    return fail("wte.weight and wpe.weight are not [n, d] matrices of one width");
  gpt2_config c;
  c.vocab_size = static_cast<std::size_t>(wte->info->shape[0]);
  c.n_positions = static_cast<std::size_t>(wpe->info->shape[0]);
  c.n_embd = static_cast<std::size_t>(wte->info->shape[1]);
  // Blocks h.0 ... h.(n-1): count the ln_1 weights that are present in a row.
  c.n_layer = 0;
  while (file.find(prefix + "h." + std::to_string(c.n_layer) + ".ln_1.weight")) ++c.n_layer;
  if (n_head) {
    c.n_head = *n_head;
  } else if (auto v = file.metadata_value(metadata_keys::n_head)) {
    auto n = parse_n_head(*v);
    if (!n) return fail("metadata n_head is not a number of at least 1");
    c.n_head = *n;
  } else {
    return fail("the head count is not in the file: give it (--n-head) or set the metadata key n_head");
  }
  if (c.n_head == 0 || c.n_embd % c.n_head != 0)
    return fail("width " + std::to_string(c.n_embd) + " is not a multiple of " + std::to_string(c.n_head) + " heads");
  return c;
}

// Opens, sizes and loads a GPT-2 checkpoint (file or shard index).
inline result<std::unique_ptr<gpt2>> load_gpt2(const std::string& path, std::optional<std::size_t> n_head = std::nullopt,
                                               dtype_policy dtypes = dtype_policy::keep, load_report* report = nullptr) {
  auto file = checkpoint::open(path);
  if (!file) return std::move(file).error_value();
  auto config = gpt2_config_from(*file, n_head);
  if (!config) return std::move(config).error_value();
  auto model = std::make_unique<gpt2>(*config);
  auto loaded = load_state_dict(*model, *file, gpt2_load_options(*file, dtypes));
  if (!loaded) return std::move(loaded).error_value();
  if (report) *report = std::move(*loaded);
  return model;
}

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
