// The layers (nn/layers/) against direct definitions: Linear, Conv1D,
// Conv2d (strides, padding, rectangular inputs), Embedding, LayerNorm,
// RMSNorm, the activations, Sequential, ModuleList, causal self-attention;
// and the tensor type's ownership rules.
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "safeweights/nn/layers/activations.hpp"
#include "safeweights/nn/layers/causal_self_attention.hpp"
#include "safeweights/nn/layers/conv2d.hpp"
#include "safeweights/nn/layers/embedding.hpp"
#include "safeweights/nn/layers/layer_norm.hpp"
#include "safeweights/nn/layers/linear.hpp"
#include "safeweights/nn/layers/module_list.hpp"
#include "safeweights/nn/layers/rms_norm.hpp"
#include "safeweights/nn/layers/sequential.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace nn = safeweights::nn;
using sw::dtype;

namespace {

void fill(nn::tensor& t, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  float* p = t.mutable_f32();
  for (std::size_t i = 0; i < t.numel(); ++i) p[i] = d(rng);
}

nn::tensor random_tensor(nn::shape_type shape, unsigned seed) {
  nn::tensor t = nn::tensor::zeros(dtype::F32, std::move(shape));
  fill(t, seed);
  return t;
}

}  // namespace

TEST_CASE("tensor: zeros, views that copy on write, reshape, conversion; bad shapes throw") {
  nn::tensor z = nn::tensor::zeros(dtype::F32, {2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.nbytes() == 24);
  CHECK(z.f32()[5] == 0.0f);
  const float values[4] = {1, 2, 3, 4};
  auto owner = std::make_shared<int>(0);
  nn::tensor v = nn::tensor::borrowed(dtype::F32, {4}, std::as_bytes(std::span(values)), owner);
  nn::tensor shared = v;
  CHECK(v.is_borrowed());
  CHECK(v.shares_memory_with(shared));
  v.mutable_f32()[0] = 9.0f;  // copies first: the borrowed bytes are never written
  CHECK(values[0] == 1.0f);
  CHECK(shared.f32()[0] == 1.0f);
  CHECK(v.f32()[0] == 9.0f);
  CHECK_FALSE(v.is_borrowed());
  CHECK(v.reshaped({2, 2}).dim(1) == 2);
  CHECK_THROWS_AS(v.reshaped({3}), sw::exception);
  nn::tensor h = v.to(dtype::F16);
  CHECK(h.type() == dtype::F16);
  CHECK(h.to(dtype::F32).f32()[3] == 4.0f);
  CHECK_THROWS_AS(h.f32(), sw::exception);
  CHECK_THROWS_AS(nn::tensor::zeros(dtype::F32, {std::size_t{1} << 62, 8}), sw::exception);
  CHECK_THROWS_AS(nn::tensor::from_floats(std::vector<float>(3), {2, 2}), sw::exception);
}

TEST_CASE("linear and conv1d: x W^T + b and x W + b over any leading shape") {
  nn::linear lin(5, 3);
  fill(lin.weight, 1);
  fill(lin.bias, 2);
  nn::conv1d c1(5, 3);
  fill(c1.weight, 3);
  fill(c1.bias, 4);
  nn::tensor x = random_tensor({2, 4, 5}, 5);
  nn::tensor y = lin(x), z = c1(x);
  REQUIRE(y.shape() == nn::shape_type{2, 4, 3});
  for (std::size_t r = 0; r < 8; ++r)
    for (std::size_t o = 0; o < 3; ++o) {
      double a = lin.bias.f32()[o], b = c1.bias.f32()[o];
      for (std::size_t i = 0; i < 5; ++i) {
        a += double(x.f32()[r * 5 + i]) * lin.weight.f32()[o * 5 + i];
        b += double(x.f32()[r * 5 + i]) * c1.weight.f32()[i * 3 + o];
      }
      CHECK(y.f32()[r * 3 + o] == doctest::Approx(a).epsilon(1e-5));
      CHECK(z.f32()[r * 3 + o] == doctest::Approx(b).epsilon(1e-5));
    }
  CHECK_THROWS_AS(lin(random_tensor({2, 4}, 6)), sw::exception);
  CHECK(nn::linear(5, 3, false).state().size() == 1);
}

TEST_CASE("conv2d: matches the direct sum for strides, padding, rectangular inputs, with and without bias") {
  struct config {
    std::size_t in, out, k, stride, pad, h, w;
    bool bias;
  };
  for (const config& c : {config{1, 8, 3, 1, 1, 8, 8, true}, config{8, 16, 3, 2, 1, 8, 8, true},
                          config{3, 4, 2, 1, 0, 5, 7, false}, config{2, 5, 3, 3, 2, 6, 4, true}}) {
    INFO("in ", c.in, " out ", c.out, " k ", c.k, " stride ", c.stride, " pad ", c.pad);
    nn::conv2d conv(c.in, c.out, c.k, c.stride, c.pad, c.bias);
    fill(conv.weight, 7);
    if (c.bias) fill(conv.bias, 8);
    nn::tensor x = random_tensor({2, c.in, c.h, c.w}, 9);
    nn::tensor y = conv(x);
    const std::size_t oh = (c.h + 2 * c.pad - c.k) / c.stride + 1, ow = (c.w + 2 * c.pad - c.k) / c.stride + 1;
    REQUIRE(y.shape() == nn::shape_type{2, c.out, oh, ow});
    double worst = 0;
    for (std::size_t n = 0; n < 2; ++n)
      for (std::size_t o = 0; o < c.out; ++o)
        for (std::size_t py = 0; py < oh; ++py)
          for (std::size_t px = 0; px < ow; ++px) {
            double s = c.bias ? conv.bias.f32()[o] : 0.0;
            for (std::size_t i = 0; i < c.in; ++i)
              for (std::size_t ky = 0; ky < c.k; ++ky)
                for (std::size_t kx = 0; kx < c.k; ++kx) {
                  long iy = long(py * c.stride + ky) - long(c.pad), ix = long(px * c.stride + kx) - long(c.pad);
                  if (iy < 0 || ix < 0 || iy >= long(c.h) || ix >= long(c.w)) continue;
                  s += double(conv.weight.f32()[((o * c.in + i) * c.k + ky) * c.k + kx]) *
                       x.f32()[((n * c.in + i) * c.h + std::size_t(iy)) * c.w + std::size_t(ix)];
                }
            worst = std::max(worst, std::abs(y.f32()[((n * c.out + o) * oh + py) * ow + px] - s));
          }
    CHECK(worst < 1e-5);
  }
  CHECK_THROWS_AS(nn::conv2d(3, 4, 3)(random_tensor({1, 2, 5, 5}, 1)), sw::exception);
}

TEST_CASE("embedding: rows by id from any integer tensor, BF16 weights widened; ids outside the table throw") {
  nn::embedding e(4, 3);
  fill(e.weight, 1);
  std::vector<std::int32_t> ids = {3, 0, 3};
  nn::tensor id_tensor = nn::tensor::empty(dtype::I32, {3});
  std::memcpy(id_tensor.mutable_data(), ids.data(), 12);
  nn::tensor y = e(id_tensor);
  REQUIRE(y.shape() == nn::shape_type{3, 3});
  CHECK(y.f32()[0] == e.weight.f32()[9]);
  CHECK(y.f32()[8] == e.weight.f32()[11]);
  std::vector<std::int64_t> bad = {4};
  CHECK_THROWS_AS(e.forward(bad), sw::exception);
  std::vector<std::int64_t> negative = {-1};
  CHECK_THROWS_AS(e.forward(negative), sw::exception);
  nn::embedding b(4, 3, dtype::BF16);
  b.weight = e.weight.to(dtype::BF16);
  std::vector<std::int64_t> one = {2};
  CHECK(b.forward(one).f32()[1] == sw::bf16_to_float(sw::float_to_bf16(e.weight.f32()[7])));
}

TEST_CASE("layer_norm and rms_norm layers: normalised rows; the activations and softmax layers; flatten") {
  nn::tensor x = random_tensor({3, 6}, 2);
  nn::layer_norm ln(6);
  nn::tensor y = ln(x);
  for (std::size_t r = 0; r < 3; ++r) {
    double mean = 0, var = 0;
    for (std::size_t i = 0; i < 6; ++i) mean += y.f32()[r * 6 + i];
    mean /= 6;
    for (std::size_t i = 0; i < 6; ++i) var += (y.f32()[r * 6 + i] - mean) * (y.f32()[r * 6 + i] - mean);
    CHECK(std::abs(mean) < 1e-6);
    CHECK(var / 6 == doctest::Approx(1.0).epsilon(1e-4));
  }
  CHECK(nn::layer_norm(6, 1e-5f, false).state().empty());
  nn::rms_norm rms(6);
  nn::tensor r = rms(x);
  double sq = 0;
  for (std::size_t i = 0; i < 6; ++i) sq += double(r.f32()[i]) * r.f32()[i];
  CHECK(sq / 6 == doctest::Approx(1.0).epsilon(1e-4));
  nn::tensor relu_y = nn::relu()(x), silu_y = nn::silu()(x), soft = nn::softmax()(x);
  nn::tensor gelu_exact = nn::gelu()(x), gelu_tanh = nn::gelu(nn::gelu::approximation::tanh)(x);
  for (std::size_t i = 0; i < x.numel(); ++i) {
    float v = x.f32()[i];
    CHECK(relu_y.f32()[i] == (v > 0 ? v : 0.0f));
    CHECK(silu_y.f32()[i] == doctest::Approx(v / (1 + std::exp(-v))).epsilon(1e-5));
    CHECK(gelu_exact.f32()[i] == doctest::Approx(0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))).epsilon(1e-5));
    CHECK(std::abs(gelu_tanh.f32()[i] - gelu_exact.f32()[i]) < 1e-2);
  }
  double row = 0;
  for (std::size_t i = 0; i < 6; ++i) row += soft.f32()[i];
  CHECK(row == doctest::Approx(1.0));
  CHECK(nn::flatten()(random_tensor({2, 3, 4}, 1)).shape() == nn::shape_type{2, 12});
}

TEST_CASE("sequential and module_list: names 0, 1, ...; sequential applies its layers in order") {
  nn::sequential net;
  auto& first = net.push_back(std::make_unique<nn::linear>(4, 3));
  net.push_back(std::make_unique<nn::relu>());
  net.push_back(std::make_unique<nn::linear>(3, 2));
  std::vector<std::string> names;
  for (const auto& t : net.state()) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  fill(first.weight, 1);
  nn::tensor x = random_tensor({5, 4}, 3);
  nn::tensor manual = net[2](net[1](net[0](x)));
  nn::tensor chained = net(x);
  CHECK(std::memcmp(manual.data(), chained.data(), manual.nbytes()) == 0);
  nn::module_list<nn::linear> list;
  list.push_back(std::make_unique<nn::linear>(2, 2));
  list.push_back(std::make_unique<nn::linear>(2, 2, false));
  CHECK(list.size() == 2);
  CHECK(list.state().back().name == "1.weight");
}

TEST_CASE("causal_self_attention: position t sees only 0..t; a cache gives the same result token by token") {
  const std::size_t d = 8, heads = 2, T = 5;
  nn::causal_self_attention attn(d, heads);
  fill(attn.c_attn.weight, 1);
  fill(attn.c_attn.bias, 2);
  fill(attn.c_proj.weight, 3);
  nn::tensor x = random_tensor({T, d}, 4);
  nn::tensor all = attn(x);
  // Changing the last position must not change the earlier outputs.
  nn::tensor x2 = x;
  x2.mutable_f32()[(T - 1) * d] += 5.0f;
  nn::tensor changed = attn(x2);
  for (std::size_t i = 0; i < (T - 1) * d; ++i) CHECK(changed.f32()[i] == all.f32()[i]);
  CHECK(changed.f32()[(T - 1) * d] != all.f32()[(T - 1) * d]);
  nn::kv_cache cache(T, d);
  std::vector<float> step(d);
  for (std::size_t t = 0; t < T; ++t) {
    attn.forward_rows(x.f32() + t * d, 1, step.data(), &cache);
    for (std::size_t i = 0; i < d; ++i) CHECK(step[i] == doctest::Approx(all.f32()[t * d + i]).epsilon(1e-5));
  }
  CHECK_THROWS_AS(attn.forward_rows(x.f32(), 1, step.data(), &cache), sw::exception);  // the cache is full
  CHECK_THROWS_AS(nn::causal_self_attention(10, 3), sw::exception);
}
