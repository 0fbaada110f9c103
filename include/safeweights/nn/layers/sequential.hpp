// torch.nn.Sequential: layers named "0", "1", ... applied in order.
//
//   nn::sequential net;
//   net.push_back(std::make_unique<nn::linear>(64, 32));
//   net.push_back(std::make_unique<nn::relu>());
//   net.push_back(std::make_unique<nn::linear>(32, 10));   // "2.weight", "2.bias"
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "safeweights/nn/module.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

class sequential : public layer {
 public:
  sequential() = default;

  template <class L>
  L& push_back(std::unique_ptr<L> l) {
    L& ref = *l;
    register_module(std::to_string(layers_.size()), ref);
    layers_.push_back(std::move(l));
    return ref;
  }

  std::size_t size() const noexcept { return layers_.size(); }
  layer& operator[](std::size_t i) const { return *layers_.at(i); }

  tensor forward(const tensor& x) const override {
    tensor h = x;
    for (const auto& l : layers_) h = l->forward(h);
    return h;
  }

 private:
  std::vector<std::unique_ptr<layer>> layers_;
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
