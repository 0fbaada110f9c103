// Modules in PyTorch's sense: a module owns named parameters and buffers
// and has named children, so every weight has a dotted name
// ("h.3.mlp.c_fc.weight") that matches the state dict PyTorch saves.
//
//   struct mlp : nn::module {
//     nn::linear fc1{64, 32}, fc2{32, 10};
//     mlp() { register_module("fc1", fc1); register_module("fc2", fc2); }
//   };
//
// A module records where its members are, so it is neither copied nor
// moved; containers hold their children by unique_ptr. Names are non-empty,
// hold no '.', and are unique within their module (else sw::exception with
// errc::invalid_argument, from the registering constructor).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "safeweights/nn/tensor.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

struct named_tensor {
  std::string name;  // dotted, from the module it was asked of
  tensor* value = nullptr;
  bool is_buffer = false;
};

class module {
 public:
  module() = default;
  module(const module&) = delete;
  module& operator=(const module&) = delete;
  virtual ~module() = default;

  // Parameters and persistent buffers, depth first in registration order:
  // what load_state_dict fills and save_state_dict writes.
  std::vector<named_tensor> state() {
    std::vector<named_tensor> out;
    collect("", out, true, true, false);
    return out;
  }
  std::vector<named_tensor> named_parameters() {
    std::vector<named_tensor> out;
    collect("", out, true, false, false);
    return out;
  }
  // Every buffer, the non-persistent ones too.
  std::vector<named_tensor> named_buffers() {
    std::vector<named_tensor> out;
    collect("", out, false, true, true);
    return out;
  }
  // This module ("") and every descendant, with their dotted names.
  std::vector<std::pair<std::string, module*>> named_modules() {
    std::vector<std::pair<std::string, module*>> out;
    walk("", [&](const std::string& name, module& m) { out.emplace_back(name, &m); });
    return out;
  }
  std::size_t parameter_count() {
    std::size_t n = 0;
    for (const auto& p : named_parameters()) n += p.value->numel();
    return n;
  }

 protected:
  // Registers `slot` (a member) under `name`, set to `initial`.
  tensor& register_parameter(std::string name, tensor& slot, tensor initial) {
    claim(name);
    slot = std::move(initial);
    tensors_.push_back({std::move(name), &slot, false, true});
    return slot;
  }
  // A buffer is state that is not trained; a non-persistent one is not saved or loaded.
  tensor& register_buffer(std::string name, tensor& slot, tensor initial, bool persistent = true) {
    claim(name);
    slot = std::move(initial);
    tensors_.push_back({std::move(name), &slot, true, persistent});
    return slot;
  }
  template <class M>
  M& register_module(std::string name, M& child) {
    claim(name);
    children_.emplace_back(std::move(name), &child);
    return child;
  }

 private:
  struct entry {
    std::string name;
    tensor* slot;
    bool is_buffer;
    bool persistent;
  };

  void claim(const std::string& name) const {
    if (name.empty() || name.find('.') != std::string::npos)
      throw exception(make_error(errc::invalid_argument, "module member name `" + name + "` must be non-empty and hold no '.'"));
    for (const auto& e : tensors_)
      if (e.name == name) throw exception(make_error(errc::invalid_argument, "`" + name + "` registered twice"));
    for (const auto& c : children_)
      if (c.first == name) throw exception(make_error(errc::invalid_argument, "`" + name + "` registered twice"));
  }

  void collect(const std::string& prefix, std::vector<named_tensor>& out, bool parameters, bool buffers,
               bool non_persistent) {
    for (const auto& e : tensors_) {
      bool wanted = e.is_buffer ? buffers && (e.persistent || non_persistent) : parameters;
      if (wanted) out.push_back({prefix + e.name, e.slot, e.is_buffer});
    }
    for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out, parameters, buffers, non_persistent);
  }

  void walk(const std::string& name, const std::function<void(const std::string&, module&)>& f) {
    f(name, *this);
    for (const auto& [child_name, child] : children_) child->walk(name.empty() ? child_name : name + "." + child_name, f);
  }

  std::vector<entry> tensors_;
  std::vector<std::pair<std::string, module*>> children_;
};

// A module with one input and one output, as Sequential chains them.
class layer : public module {
 public:
  virtual tensor forward(const tensor& x) const = 0;
  tensor operator()(const tensor& x) const { return forward(x); }
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
