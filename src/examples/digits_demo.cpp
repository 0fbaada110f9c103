// The second half of the tour: a model trained in PyTorch, run in C++.
// tests/fixtures/make_torch_fixtures.py trained a small MLP on
// scikit-learn's digits and saved its state dict as safetensors, with the
// model card people keep beside it, and recorded PyTorch's predictions for
// all 1797 samples. Here the same architecture is declared as a C++ module,
// the file's tensors are poured into it (zero-copy: F32 into F32), and every
// prediction is compared with PyTorch's.
//
//   digits-demo DATA_DIR   (the directory holding digits_mlp.safetensors)
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "digits_models.hpp"
#include "safeweights/nn/model_card.hpp"
#include "safeweights/nn/state_dict.hpp"
#include "safeweights/safeweights.hpp"

namespace sw = safeweights;
namespace nn = safeweights::nn;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: digits-demo DATA_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  try {
    // 1. Load: missing, unexpected and mismatched tensors would all be listed here.
    digits::mlp model;
    nn::load_report report = nn::load_state_dict(model, dir + "/digits_mlp.safetensors").value();
    std::printf("loaded %zu tensors into the module (%zu borrowed from the mapping, %llu bytes copied)\n",
                report.loaded, report.zero_copy, static_cast<unsigned long long>(report.bytes_copied));

    // 2. What was saved beside the weights.
    sw::reader file = sw::open(dir + "/digits_mlp.safetensors");
    auto card = nn::model_card::from_metadata([&](std::string_view k) { return file.metadata_value(k); }).value();
    if (card.training_date) std::printf("trained at %s\n", card.training_date->c_str());
    if (card.feature_names) std::printf("%zu features, %s ... %s\n", card.feature_names->size(),
                                        card.feature_names->front().c_str(), card.feature_names->back().c_str());
    if (card.scores)
      for (const auto& [name, value] : *card.scores) std::printf("score %s = %.4f\n", name.c_str(), value);

    // 3. Predict every sample and compare with what PyTorch predicted.
    sw::reader expected = sw::open(dir + "/digits_expected.safetensors");
    auto pixels = expected.tensor("inputs").value();
    const std::size_t n = expected.find("labels")->elements;
    std::vector<float> x(pixels.elements());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(pixels.bytes()[i]) / 16.0f;
    nn::tensor logits = model.forward(nn::tensor::from_floats(x, {n, 64}));
    auto torch_logits = expected.tensor("mlp.logits").value().typed<float>().value();
    auto torch_classes = expected.tensor("mlp.predictions").value().typed<std::int64_t>().value();
    auto labels = expected.tensor("labels").value().as<std::uint8_t>().value();

    std::size_t same = 0, correct = 0;
    double max_diff = 0;
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t best = 0;
      for (std::size_t c = 0; c < 10; ++c) {
        max_diff = std::max(max_diff, double(std::abs(logits.f32()[i * 10 + c] - torch_logits[i * 10 + c])));
        if (logits.f32()[i * 10 + c] > logits.f32()[i * 10 + best]) best = c;
      }
      same += static_cast<std::int64_t>(best) == torch_classes[i];
      correct += best == labels[i];
    }
    std::printf("\n%zu of %zu predictions identical to PyTorch's; largest logit difference %.2g\n", same, n, max_diff);
    std::printf("accuracy on the digits: %.4f\n", double(correct) / double(n));
    return same == n && max_diff <= 1e-5 ? 0 : 1;
  } catch (const sw::exception& e) {
    std::fprintf(stderr, "digits-demo: %s\n", e.what());
    return 1;
  }
}
