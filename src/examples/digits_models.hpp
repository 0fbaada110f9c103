// The digits models of tests/fixtures/make_torch_fixtures.py, module for
// module as PyTorch defines them: one definition for digits-demo and the
// digits tests. The names they register (layers.0.weight, ...) are the
// state dicts' keys.
#pragma once

#include <memory>

#include "safeweights/nn/layers/activations.hpp"
#include "safeweights/nn/layers/conv2d.hpp"
#include "safeweights/nn/layers/linear.hpp"
#include "safeweights/nn/layers/sequential.hpp"

namespace digits {

namespace nn = safeweights::nn;

// PyTorch: layers = Sequential(Linear(64, 32), ReLU(), Linear(32, 10)).
struct mlp : nn::module {
  nn::sequential layers;
  mlp() {
    layers.push_back(std::make_unique<nn::linear>(64, 32));
    layers.push_back(std::make_unique<nn::relu>());
    layers.push_back(std::make_unique<nn::linear>(32, 10));
    register_module("layers", layers);
  }
  nn::tensor forward(const nn::tensor& x) const { return layers(x); }
};

// PyTorch: features = Sequential(Conv2d(1, 8, 3, padding=1), ReLU(), Conv2d(8, 16, 3, stride=2, padding=1), ReLU()),
// classifier = Linear(256, 10), applied to the flattened features of x.view(-1, 1, 8, 8).
struct cnn : nn::module {
  nn::sequential features;
  nn::linear classifier{16 * 4 * 4, 10};
  nn::flatten flat;
  cnn() {
    features.push_back(std::make_unique<nn::conv2d>(1, 8, 3, 1, 1));
    features.push_back(std::make_unique<nn::relu>());
    features.push_back(std::make_unique<nn::conv2d>(8, 16, 3, 2, 1));
    features.push_back(std::make_unique<nn::relu>());
    register_module("features", features);
    register_module("classifier", classifier);
  }
  nn::tensor forward(const nn::tensor& x) const {
    return classifier(flat(features(x.reshaped({x.dim(0), 1, 8, 8}))));
  }
};

}  // namespace digits
