// torch.nn.ModuleList: modules named "0", "1", ..., with no forward of its
// own (GPT-2's "h" holds its blocks in one).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "safeweights/nn/module.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

template <class M = module>
class module_list : public module {
 public:
  module_list() = default;

  M& push_back(std::unique_ptr<M> m) {
    M& ref = *m;
    register_module(std::to_string(items_.size()), ref);
    items_.push_back(std::move(m));
    return ref;
  }

  std::size_t size() const noexcept { return items_.size(); }
  M& operator[](std::size_t i) const { return *items_.at(i); }
  auto begin() const noexcept { return items_.begin(); }
  auto end() const noexcept { return items_.end(); }

 private:
  std::vector<std::unique_ptr<M>> items_;
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
