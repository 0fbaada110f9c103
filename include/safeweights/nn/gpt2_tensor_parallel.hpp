// GPT-2 split across `world` ranks as Megatron-LM splits it: each rank
// holds n_head / world attention heads and a 1/world slice of the MLP.
//
//   attn.c_attn [d, 3d]   column-parallel: the rank's heads' columns of q, k and v
//   attn.c_proj [d, d]    row-parallel: the rank's heads' rows, then the sum over ranks
//   mlp.c_fc    [d, 4d]   column-parallel
//   mlp.c_proj  [4d, d]   row-parallel, then the sum over ranks
//
// The row-parallel biases are added once, after the sum; embeddings, layer
// norms and the LM head are whole on every rank. Each rank reads only its
// part of each split tensor from the file (with io_mode::pread, exactly those
// bytes). The sum is the caller's all_reduce_fn: this header needs no MPI.
// With world = 1 this is the plain model (one piece per tensor, no sums).
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "safeweights/nn/gpt2.hpp"
#include "safeweights/nn/tensor_parallel.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

// How a GPT-2 tensor (named without the "transformer." prefix) is split.
inline shard_rule gpt2_shard_rule(std::string_view name) {
  using internal::matches_pattern;
  if (matches_pattern("h.*.attn.c_attn.weight", name)) return {true, 1, 3};
  if (matches_pattern("h.*.attn.c_attn.bias", name)) return {true, 0, 3};
  if (matches_pattern("h.*.mlp.c_fc.weight", name)) return {true, 1, 1};
  if (matches_pattern("h.*.mlp.c_fc.bias", name)) return {true, 0, 1};
  if (matches_pattern("h.*.attn.c_proj.weight", name) || matches_pattern("h.*.mlp.c_proj.weight", name))
    return {true, 0, 1};
  return {};
}

struct gpt2_tp_part {
  std::string name;  // without the prefix
  const checkpoint::entry* source = nullptr;
  tensor_shard shard;
};

// What one rank reads: every tensor of the model, whole or its part.
struct gpt2_tp_plan {
  std::size_t rank = 0, world = 1;
  std::vector<gpt2_tp_part> parts;
  std::uint64_t sharded_bytes = 0;     // this rank's parts of the split tensors
  std::uint64_t replicated_bytes = 0;  // the whole tensors
};

// Rank `rank`'s plan: each tensor of `file` but the ignored buffers, by
// gpt2_shard_rule; invalid_argument when `world` does not divide the heads.
inline result<gpt2_tp_plan> plan_gpt2_tp(const checkpoint& file, const gpt2_config& c, std::size_t rank,
                                         std::size_t world) {
  if (world == 0 || rank >= world)
    return make_error(errc::invalid_argument, "rank " + std::to_string(rank) + " of " + std::to_string(world) + " ranks");
  if (c.n_head % world != 0)
    return make_error(errc::invalid_argument, "gpt2: " + std::to_string(c.n_head) + " heads do not split across " +
                                                  std::to_string(world) + " ranks (the rank count must divide the heads)")
        .in(file.source());
  gpt2_tp_plan plan;
  plan.rank = rank;
  plan.world = world;
  const std::string prefix = gpt2_prefix(file);
  const load_options ignored = gpt2_load_options(file);
  for (const checkpoint::entry& e : file.tensors()) {
    std::string_view name = e.name;
    if (!prefix.empty() && name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
    bool skip = false;
    for (const std::string& pattern : ignored.ignore_unexpected) skip = skip || internal::matches_pattern(pattern, name);
    if (skip) continue;
    auto shard = shard_of(*e.info, gpt2_shard_rule(name), rank, world);
    if (!shard) return std::move(shard).error_value().in(file.source());
    (shard->replicated ? plan.replicated_bytes : plan.sharded_bytes) += shard->bytes;
    plan.parts.push_back({std::string(name), &e, std::move(*shard)});
  }
  return plan;
}

// A column-parallel Conv1D then a row-parallel one (attention: c_attn then
// c_proj; MLP: c_fc then c_proj), at one rank's sizes.
class gpt2_tp_pair : public module {
 public:
  gpt2_tp_pair(const char* first_name, std::size_t in, std::size_t first_out, const char* second_name,
               std::size_t second_in, std::size_t out)
      : first(in, first_out), second(second_in, out) {
    register_module(first_name, first);
    register_module(second_name, second);
  }
  conv1d first, second;
};

class gpt2_tp_block : public module {
 public:
  gpt2_tp_block(const gpt2_config& c, std::size_t world)
      : ln_1(c.n_embd, c.layer_norm_epsilon),
        attn("c_attn", c.n_embd, 3 * c.n_embd / world, "c_proj", c.n_embd / world, c.n_embd),
        ln_2(c.n_embd, c.layer_norm_epsilon),
        mlp("c_fc", c.n_embd, 4 * c.n_embd / world, "c_proj", 4 * c.n_embd / world, c.n_embd),
        heads_(c.n_head / world), width_(c.n_embd / world) {
    register_module("ln_1", ln_1);
    register_module("attn", attn);
    register_module("ln_2", ln_2);
    register_module("mlp", mlp);
  }

  // x [rows, d] in place, as gpt2_block; the cache holds this rank's heads.
  void forward_rows(float* x, std::size_t rows, kv_cache& cache, const all_reduce_fn& sum) const {
    const std::size_t d = ln_1.weight.numel(), w = width_, head_dim = w / heads_;
    std::vector<float> a(rows * d), b(rows * d), qkv(rows * 3 * w), mixed(rows * w), wide(rows * 4 * w);
    ln_1.forward_rows(x, rows, d, a.data(), d);
    attn.first.forward_rows(a.data(), rows, d, qkv.data(), 3 * w);
    if (cache.length + rows > cache.capacity)
      internal::fail("attention: " + std::to_string(cache.length + rows) + " positions exceed the cache's " +
                   std::to_string(cache.capacity));
    const std::size_t first = cache.length;
    for (std::size_t t = 0; t < rows; ++t) cache.append(qkv.data() + t * 3 * w + w, qkv.data() + t * 3 * w + 2 * w);
    kernels::causal_attention(qkv.data(), 3 * w, cache.keys.data(), cache.values.data(), w, first, rows, heads_,
                              head_dim, mixed.data(), w);
    row_parallel(attn.second, mixed.data(), rows, b.data(), sum);
    kernels::add_to(x, b.data(), rows * d);
    ln_2.forward_rows(x, rows, d, a.data(), d);
    mlp.first.forward_rows(a.data(), rows, d, wide.data(), 4 * w);
    kernels::gelu_tanh(wide.data(), wide.size());
    row_parallel(mlp.second, wide.data(), rows, b.data(), sum);
    kernels::add_to(x, b.data(), rows * d);
  }

  // This rank's share of the width: n_embd / world.
  std::size_t local_width() const noexcept { return width_; }

  layer_norm ln_1;
  gpt2_tp_pair attn;
  layer_norm ln_2;
  gpt2_tp_pair mlp;

 private:
  // y = the sum over ranks of x . W_rank, then + bias (once).
  static void row_parallel(const conv1d& layer, const float* x, std::size_t rows, float* y, const all_reduce_fn& sum) {
    internal::require_compute_type(layer.weight, "conv1d");
    const std::size_t in = layer.in_features(), out = layer.out_features();
    kernels::linear(x, rows, in, layer.weight.matrix(), kernels::weight_layout::in_out, nullptr, y, out);
    if (sum) sum(y, rows * out);
    std::vector<float> bias(out);
    kernels::to_f32(layer.bias.type(), layer.bias.data(), bias.data(), out);
    for (std::size_t r = 0; r < rows; ++r) kernels::add_to(y + r * out, bias.data(), out);
  }

  std::size_t heads_, width_;
};

class gpt2_tp : public module {
 public:
  // `sum` must add up the ranks' floats (it may be empty when world is 1).
  gpt2_tp(const gpt2_config& c, std::size_t rank, std::size_t world, all_reduce_fn sum)
      : config_(c), rank_(rank), world_(world), sum_(std::move(sum)), wte(c.vocab_size, c.n_embd),
        wpe(c.n_positions, c.n_embd), ln_f(c.n_embd, c.layer_norm_epsilon) {
    if (world == 0 || c.n_head % world != 0)
      internal::fail("gpt2: " + std::to_string(c.n_head) + " heads do not split across " + std::to_string(world) + " ranks");
    register_module("wte", wte);
    register_module("wpe", wpe);
    register_module("h", h);
    for (std::size_t i = 0; i < c.n_layer; ++i) h.push_back(std::make_unique<gpt2_tp_block>(c, world));
    register_module("ln_f", ln_f);
  }

  const gpt2_config& config() const noexcept { return config_; }
  std::size_t rank() const noexcept { return rank_; }
  std::size_t world() const noexcept { return world_; }

  // An empty session: each block's cache holds this rank's heads.
  gpt2::session start() const {
    gpt2::session s;
    for (std::size_t i = 0; i < config_.n_layer; ++i) s.caches.emplace_back(config_.n_positions, config_.n_embd / world_);
    return s;
  }

  // As gpt2::forward; every rank gets the same logits [vocab].
  std::vector<float> forward(gpt2::session& s, std::span<const std::int64_t> tokens) const {
    return internal::gpt2_forward(config_, wte, wpe, ln_f, s.length, tokens, [&](float* x, std::size_t rows) {
      for (std::size_t i = 0; i < h.size(); ++i) h[i].forward_rows(x, rows, s.caches[i], sum_);
    });
  }

  // As gpt2::generate (greedy; the ranks' logits are equal, so are their choices).
  std::vector<std::int64_t> generate(std::span<const std::int64_t> prompt, std::size_t count,
                                     std::vector<float>* prompt_logits = nullptr) const {
    return internal::gpt2_generate(*this, prompt, count, prompt_logits);
  }

 private:
  gpt2_config config_;
  std::size_t rank_, world_;
  all_reduce_fn sum_;

 public:
  embedding wte, wpe;
  module_list<gpt2_tp_block> h;
  layer_norm ln_f;
};

// Builds rank `rank`'s model and reads its parts of `file` (open it with
// io_mode::pread so that only those bytes are read). Every tensor is
// required, with GPT-2's shapes; dtypes as load_state_dict's policy.
inline result<std::unique_ptr<gpt2_tp>> load_gpt2_tp(const checkpoint& file, const gpt2_config& c, std::size_t rank,
                                                     std::size_t world, all_reduce_fn sum,
                                                     dtype_policy dtypes = dtype_policy::keep,
                                                     gpt2_tp_plan* plan_out = nullptr) {
  auto plan = plan_gpt2_tp(file, c, rank, world);
  if (!plan) return std::move(plan).error_value();
  auto fail = [&](errc code, std::string what) { return make_error(code, "gpt2: " + std::move(what)).in(file.source()); };
  auto model = std::make_unique<gpt2_tp>(c, rank, world, std::move(sum));
  std::unordered_map<std::string_view, tensor*> slots;
  std::vector<named_tensor> state = model->state();
  for (named_tensor& t : state) slots.emplace(t.name, t.value);
  std::vector<std::pair<tensor*, tensor>> staged;
  for (const gpt2_tp_part& part : plan->parts) {
    const tensor_info& info = *part.source->info;
    auto slot = slots.find(part.name);
    if (slot == slots.end()) return fail(errc::state_dict_mismatch, "unexpected tensor " + safeweights::quote_name(part.name));
    const shape_type& want = slot->second->shape();
    if (!std::equal(want.begin(), want.end(), part.shard.shape.begin(), part.shard.shape.end()))
      return fail(errc::state_dict_mismatch, "tensor " + safeweights::quote_name(part.name) + ": this rank's part is " +
                                                 shape_text(shape_type(part.shard.shape.begin(), part.shard.shape.end())) +
                                                 ", the model expects " + shape_text(want));
    if (byte_width(info.type) == 0 || !kernels::converts_to_f32(info.type))
      return fail(errc::dtype_mismatch, "tensor " + safeweights::quote_name(part.name) + " is " +
                                            std::string(dtype_name(info.type)) + ", not a float type");
    tensor raw = tensor::empty(info.type, want);
    if (auto r = read_shard(file.files()[part.source->file], info, part.shard, {raw.mutable_data(), raw.nbytes()}); !r)
      return std::move(r).error_value();
    const dtype target = internal::target_dtype(slot->second->type(), info.type, dtypes);
    staged.emplace_back(slot->second, target == info.type ? std::move(raw) : raw.to(target));
    slots.erase(slot);
  }
  if (!slots.empty()) {
    std::vector<std::string_view> missing;
    for (const auto& kv : slots) missing.push_back(kv.first);
    std::sort(missing.begin(), missing.end());
    std::string list;
    for (std::string_view m : missing) list += (list.empty() ? "" : ", ") + safeweights::quote_name(m);
    return fail(errc::state_dict_mismatch, "missing tensors " + list);
  }
  for (auto& [slot, value] : staged) *slot = std::move(value);
  if (plan_out) *plan_out = std::move(*plan);
  return model;
}

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
