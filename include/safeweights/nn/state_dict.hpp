// Loading a checkpoint's tensors into a module, and saving a module.
//
// load_state_dict first matches every file tensor to a module tensor by name
// (after the prefix and rename options) and checks shapes and dtypes; only
// when everything fits does it pour, and it pours into new tensors that
// replace the module's all at once at the end. So a file that does not fit,
// a read error or a cancelled load leaves the module exactly as it was.
//
// In PyTorch's terms: strict mode (the default) fails on missing and
// unexpected keys; shape mismatches and dtypes that cannot be converted fail
// in either mode. A failure is errc::state_dict_mismatch with every problem
// in the message; check_state_dict() returns the same report without loading.
//
// Zero copy: where a tensor's dtype in the file is the one the module will
// hold and its bytes are aligned for it, the module's tensor borrows the
// file's mapping (kept alive by shared ownership) and nothing is copied.
// Otherwise the bytes are converted (any byte-sized dtype to F32, BF16 or
// F16) a vector at a time.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "safeweights/io/checkpoint.hpp"
#include "safeweights/io/writer.hpp"
#include "safeweights/kernels/convert.hpp"
#include "safeweights/nn/module.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

// What a state dict is loaded from: one file, or the shards of an index (io/checkpoint.hpp).
using safeweights::checkpoint;

// Which dtype a floating-point tensor of the module gets. Integer and BOOL
// tensors always keep the dtype their module declared.
enum class dtype_policy : unsigned char {
  as_declared,  // the dtype the module declared (F32 unless it said otherwise)
  keep,         // the file's dtype when the kernels compute with it (F32, BF16, F16), else F32
  f32,          // F32
  bf16,         // BF16
};

struct load_options {
  bool strict = true;
  // Removed from the front of file names that start with it ("transformer.", "model.").
  std::string strip_prefix;
  // Then put in front of every file name.
  std::string add_prefix;
  // Then this maps each name to the module's name for it; nullopt drops the tensor (reported as ignored).
  std::function<std::optional<std::string>(std::string_view)> rename;
  // Unexpected keys matching one of these are ignored, not reported as
  // unexpected: "h.*.attn.bias", where '*' stands for one name segment's text.
  std::vector<std::string> ignore_unexpected;
  dtype_policy dtypes = dtype_policy::as_declared;
  // A U16 tensor in the file for a float parameter is refused (reported in
  // `u16_into_float`): U16 is what BF16 or F16 bits become when written as
  // raw uint16 (writer::add<std::uint16_t>), and loading them as numbers
  // gives weights like 16128. True loads them as the numbers they are.
  bool u16_as_numbers = false;
  // Called with (bytes done, bytes total) as tensors are poured; returning
  // false cancels the load (errc::load_cancelled) with the module unchanged.
  std::function<bool(std::uint64_t done, std::uint64_t total)> progress;
};

struct shape_mismatch {
  std::string name;
  std::vector<std::uint64_t> file_shape;
  shape_type module_shape;
};

struct dtype_change {
  std::string name;
  dtype from = dtype::F32, to = dtype::F32;
};

struct load_report {
  std::vector<std::string> missing_keys;     // in the module, not in the file
  std::vector<std::string> unexpected_keys;  // in the file, not in the module
  std::vector<std::string> ignored_keys;     // dropped by ignore_unexpected or the rename hook
  std::vector<shape_mismatch> shape_mismatches;
  std::vector<dtype_change> unconvertible;   // e.g. C64 into F32
  std::vector<std::string> duplicate_targets;  // module names two file tensors were mapped to
  std::vector<dtype_change> conversions;     // what was (or would be) converted
  std::vector<std::string> u16_into_float;   // U16 tensors for float parameters (load_options::u16_as_numbers)
  std::size_t loaded = 0;                    // tensors poured (or that would be)
  std::size_t zero_copy = 0;                 // of which borrowed from the mapping
  std::uint64_t bytes_borrowed = 0, bytes_copied = 0;

  // Problems that fail a load in either mode.
  bool has_errors() const noexcept {
    return !shape_mismatches.empty() || !unconvertible.empty() || !duplicate_targets.empty() ||
           !u16_into_float.empty();
  }
  bool fits(bool strict) const noexcept {
    return !has_errors() && (!strict || (missing_keys.empty() && unexpected_keys.empty()));
  }

  // Every problem, as the error message gives them.
  std::string describe(bool strict = true) const {
    std::string out;
    auto section = [&](const std::string& text) { out += (out.empty() ? "" : "; ") + text; };
    auto names = [](const std::vector<std::string>& v) {
      std::string s;
      for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + safeweights::quote_name(v[i]);
      return s;
    };
    if (strict && !missing_keys.empty()) section("missing key(s): " + names(missing_keys));
    if (strict && !unexpected_keys.empty()) section("unexpected key(s): " + names(unexpected_keys));
    for (const auto& m : shape_mismatches) {
      std::string file = "[";
      for (std::size_t i = 0; i < m.file_shape.size(); ++i) file += (i ? ", " : "") + std::to_string(m.file_shape[i]);
      section("size mismatch for " + safeweights::quote_name(m.name) + ": the file has " + file +
              "], the module has " + shape_text(m.module_shape));
    }
    for (const auto& c : unconvertible)
      section(safeweights::quote_name(c.name) + ": cannot convert " + std::string(dtype_name(c.from)) + " to " +
              std::string(dtype_name(c.to)));
    for (const auto& d : duplicate_targets)
      section(safeweights::quote_name(d) + ": more than one file tensor maps to this name");
    for (const auto& n : u16_into_float)
      section(safeweights::quote_name(n) +
              ": U16 in the file for a float parameter (BF16 or F16 bits written as uint16? write them with "
              "dtype::BF16 or F16; load_options::u16_as_numbers loads them as numbers)");
    return out;
  }
};

namespace internal {

// One name segment against one pattern segment, '*' matching any run of
// characters: the classic two-pointer walk (no recursion: names come from
// files and may be long).
inline bool matches_segment(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// "h.*.attn.bias" against "h.11.attn.bias": as many segments, each matching.
inline bool matches_pattern(std::string_view pattern, std::string_view name) {
  for (;;) {
    const std::size_t pd = pattern.find('.'), nd = name.find('.');
    if ((pd == std::string_view::npos) != (nd == std::string_view::npos)) return false;
    if (!matches_segment(pattern.substr(0, pd), name.substr(0, nd))) return false;
    if (pd == std::string_view::npos) return true;
    pattern.remove_prefix(pd + 1);
    name.remove_prefix(nd + 1);
  }
}

struct planned_load {
  tensor* slot;
  const checkpoint::entry* source;
  dtype target;
};

struct load_plan {
  load_report report;
  std::vector<planned_load> steps;
};

inline dtype target_dtype(dtype declared, dtype in_file, dtype_policy policy) {
  if (!is_float_type(declared)) return declared;
  switch (policy) {
    case dtype_policy::keep: return kernels::is_compute_type(in_file) ? in_file : dtype::F32;
    case dtype_policy::f32: return dtype::F32;
    case dtype_policy::bf16: return dtype::BF16;
    default: return declared;
  }
}

inline load_plan plan_load(module& m, const checkpoint& file, const load_options& options) {
  load_plan plan;
  load_report& report = plan.report;
  std::vector<named_tensor> state = m.state();
  std::unordered_map<std::string_view, std::size_t> by_name;
  for (std::size_t i = 0; i < state.size(); ++i) by_name.emplace(state[i].name, i);
  std::vector<bool> claimed(state.size(), false);
  for (const checkpoint::entry& e : file.tensors()) {
    std::string name(e.name);
    if (!options.strip_prefix.empty() && name.compare(0, options.strip_prefix.size(), options.strip_prefix) == 0)
      name.erase(0, options.strip_prefix.size());
    name = options.add_prefix + name;
    if (options.rename) {
      auto renamed = options.rename(name);
      if (!renamed) {
        report.ignored_keys.push_back(std::move(name));
        continue;
      }
      name = std::move(*renamed);
    }
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      bool ignore = false;
      for (const auto& p : options.ignore_unexpected) ignore = ignore || matches_pattern(p, name);
      (ignore ? report.ignored_keys : report.unexpected_keys).push_back(std::move(name));
      continue;
    }
    const std::size_t k = it->second;
    if (claimed[k]) {
      report.duplicate_targets.push_back(std::move(name));
      continue;
    }
    claimed[k] = true;
    tensor& slot = *state[k].value;
    const auto& file_shape = e.info->shape;
    bool same_shape = file_shape.size() == slot.rank();
    for (std::size_t d = 0; same_shape && d < file_shape.size(); ++d) same_shape = file_shape[d] == slot.dim(d);
    if (!same_shape) {
      report.shape_mismatches.push_back({name, {file_shape.begin(), file_shape.end()}, slot.shape()});
      continue;
    }
    if (e.info->type == dtype::U16 && is_float_type(slot.type()) && !options.u16_as_numbers) {
      report.u16_into_float.push_back(std::move(name));
      continue;
    }
    const dtype target = target_dtype(slot.type(), e.info->type, options.dtypes);
    if (target != e.info->type) {
      if (!kernels::is_compute_type(target) || !kernels::converts_to_f32(e.info->type)) {
        report.unconvertible.push_back({name, e.info->type, target});
        continue;
      }
      report.conversions.push_back({name, e.info->type, target});
    }
    plan.steps.push_back({&slot, &e, target});
  }
  for (std::size_t i = 0; i < state.size(); ++i)
    if (!claimed[i]) report.missing_keys.push_back(state[i].name);
  report.loaded = plan.steps.size();
  return plan;
}

inline bool aligned_for(const std::byte* p, dtype t) noexcept {
  return reinterpret_cast<std::uintptr_t>(p) % (byte_width(t) ? byte_width(t) : 1) == 0;
}

}  // namespace internal

// What load_state_dict would do, without touching the module.
inline load_report check_state_dict(module& m, const checkpoint& file, const load_options& options = {}) {
  internal::load_plan plan = internal::plan_load(m, file, options);
  for (const auto& step : plan.steps) {
    const std::uint64_t bytes = step.source->info->byte_size();
    const reader& r = file.files()[step.source->file];
    if (step.target == step.source->info->type && r.mode() == io_mode::mmap) {
      ++plan.report.zero_copy;  // the alignment is known only once the bytes are looked at
      plan.report.bytes_borrowed += bytes;
    } else {
      plan.report.bytes_copied += bytes;
    }
  }
  return plan.report;
}

inline result<load_report> load_state_dict(module& m, const checkpoint& file, const load_options& options = {}) {
  internal::load_plan plan = internal::plan_load(m, file, options);
  load_report& report = plan.report;
  if (!report.fits(options.strict))
    return make_error(errc::state_dict_mismatch, "error(s) in loading state_dict: " + report.describe(options.strict))
        .in(file.source());
  std::uint64_t total = 0, done = 0;
  for (const auto& step : plan.steps) total += step.source->info->byte_size();
  auto cancelled = [&] {
    return make_error(errc::load_cancelled, "load cancelled after " + std::to_string(done) + " of " +
                                                std::to_string(total) + " bytes; the module is unchanged")
        .in(file.source());
  };
  if (options.progress && !options.progress(0, total)) return cancelled();
  std::vector<tensor> staged(plan.steps.size());
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const internal::planned_load& step = plan.steps[i];
    const tensor_info& info = *step.source->info;
    auto view = file.view(*step.source);
    if (!view) return std::move(view).error_value();
    const shape_type& shape = step.slot->shape();
    const bool mapped = file.files()[step.source->file].mode() == io_mode::mmap;
    if (step.target == info.type && internal::aligned_for(view->bytes().data(), info.type)) {
      // The view keeps whatever holds the bytes alive: the mapping, or the reader's copy in pread mode.
      staged[i] = tensor::borrowed(info.type, shape, view->bytes(), std::make_shared<tensor_view>(*view));
      if (mapped) {
        ++report.zero_copy;
        report.bytes_borrowed += info.byte_size();
      } else {
        report.bytes_copied += info.byte_size();
      }
      done += info.byte_size();
    } else {
      staged[i] = tensor::empty(step.target, shape);
      // Large tensors in pieces, so that progress (and cancelling) keeps pace.
      const std::size_t in_width = byte_width(info.type), out_width = byte_width(step.target);
      const std::size_t piece = std::size_t{4} << 20;
      const std::size_t n = staged[i].numel();
      std::byte* out = staged[i].mutable_data();
      for (std::size_t at = 0; at < n; at += piece) {
        const std::size_t count = std::min(piece, n - at);
        kernels::convert(info.type, view->bytes().data() + at * in_width, step.target, out + at * out_width, count);
        done += count * in_width;
        if (options.progress && at + count < n && !options.progress(done, total)) return cancelled();
      }
      report.bytes_copied += info.byte_size();
    }
    if (options.progress && !options.progress(done, total)) return cancelled();
  }
  for (std::size_t i = 0; i < plan.steps.size(); ++i) *plan.steps[i].slot = std::move(staged[i]);
  return report;
}

// Opens `path` (a safetensors file, or a model.safetensors.index.json) and loads it.
inline result<load_report> load_state_dict(module& m, const std::string& path, const load_options& options = {},
                                           const read_options& read = {}) {
  auto file = checkpoint::open(path, read);
  if (!file) return std::move(file).error_value();
  return load_state_dict(m, *file, options);
}

// Writes every parameter and persistent buffer with its dotted name, in the
// canonical layout, atomically; metadata keys keep the order given.
inline result<void> save_state_dict(module& m, const std::string& path,
                                    const std::vector<std::pair<std::string, std::string>>& metadata = {},
                                    const write_options& options = {}) {
  writer w;
  for (const named_tensor& t : m.state()) {
    std::vector<std::uint64_t> shape(t.value->shape().begin(), t.value->shape().end());
    if (auto r = w.add(t.name, t.value->type(), std::move(shape), t.value->bytes()); !r)
      return std::move(r).error_value().in(path);
  }
  for (const auto& [key, value] : metadata) w.set_metadata(key, value);
  return w.write_file(path, options);
}

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
