// A reader of a sealed file that checks each tensor against its sealed
// SHA-256 when it is first handed out (opt-in: a plain reader never hashes).
// The seal is parsed and matched against the header at open, so a tensor
// added, removed or re-typed after sealing fails there; a flipped bit fails
// the first access to its tensor, with digest_mismatch naming it.
//
// Cost: one SHA-256 pass over a tensor the first time it is asked for, and
// nothing after (mmap and buffer readers: the view's bytes are the ones that
// were hashed). In io_mode::pread every access reads a fresh copy from the
// file, so every access hashes that copy: the bytes handed out are always
// the bytes checked.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "safeweights/integrity/seal_format.hpp"
#include "safeweights/integrity/tensor_digests.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// What verify_all found: how many tensors were checked, and one
// digest_mismatch error per tensor whose bytes do not match its seal.
struct seal_report {
  std::size_t tensors = 0;
  std::vector<error> failures;
  bool ok() const noexcept { return failures.empty(); }
};

class sealed_reader {
 public:
  static result<sealed_reader> open(const std::string& path, const read_options& options = {}) {
    auto r = reader::open(path, options);
    if (!r) return std::move(r).error_value();
    return from(std::move(*r));
  }

  // Takes a reader already open; not_sealed when its file has no seal.
  static result<sealed_reader> from(reader r) {
    auto digests = sealed_digests(r);
    if (!digests) return std::move(digests).error_value();
    auto state = std::make_shared<lazy_state>();
    state->sealed = std::move(*digests);
    state->checked = std::make_unique<std::atomic<std::uint8_t>[]>(state->sealed.size());
    for (std::size_t i = 0; i < state->sealed.size(); ++i) state->checked[i] = unchecked;
    return sealed_reader(std::move(r), std::move(state));
  }

  // The underlying reader: its views are NOT verified.
  const reader& unverified() const noexcept { return reader_; }
  std::span<const tensor_info> tensors() const noexcept { return reader_.tensors(); }
  const tensor_info* find(std::string_view name) const noexcept { return reader_.find(name); }
  const sha256_digest& sealed_digest(const tensor_info& info) const { return state_->sealed[index_of(info)]; }

  result<tensor_view> tensor(std::string_view name) const {
    const tensor_info* info = reader_.find(name);
    if (!info) return reader_.tensor(name);  // tensor_not_found, worded by the reader
    return tensor(*info);
  }

  // The tensor's view, once its bytes matched the seal. `info` must come from tensors().
  result<tensor_view> tensor(const tensor_info& info) const {
    auto view = reader_.tensor(info);
    if (!view) return view;
    std::size_t i = index_of(info);
    const bool fresh_copy = reader_.mode() == io_mode::pread && info.byte_size() != 0;  // read anew each time
    std::uint8_t state = state_->checked[i].load(std::memory_order_acquire);
    if (state == good && !fresh_copy) return view;
    if (state == bad && !fresh_copy) return mismatch(info);
    if (sha256(view->bytes()) != state_->sealed[i]) {
      state_->checked[i].store(bad, std::memory_order_release);
      return mismatch(info);
    }
    state_->checked[i].store(good, std::memory_order_release);
    return view;
  }

  // Checks every tensor (in parallel, like digest_tensors); every mismatch is
  // reported, by name. Tensors found good are not hashed again on access.
  result<seal_report> verify_all(unsigned threads = 0) const {
    auto digests = digest_tensors(reader_, threads);
    if (!digests) return std::move(digests).error_value();
    seal_report report;
    report.tensors = digests->size();
    for (std::size_t i = 0; i < digests->size(); ++i) {
      const bool same = (*digests)[i] == state_->sealed[i];
      state_->checked[i].store(same ? good : bad, std::memory_order_release);
      if (!same) report.failures.push_back(mismatch(reader_.tensors()[i], &(*digests)[i]));
    }
    return report;
  }

 private:
  static constexpr std::uint8_t unchecked = 0, good = 1, bad = 2;

  struct lazy_state {
    std::vector<sha256_digest> sealed;  // offset order, like reader::tensors()
    std::unique_ptr<std::atomic<std::uint8_t>[]> checked;
  };

  sealed_reader(reader r, std::shared_ptr<lazy_state> state) : reader_(std::move(r)), state_(std::move(state)) {}

  std::size_t index_of(const tensor_info& info) const noexcept {
    return static_cast<std::size_t>(&info - reader_.tensors().data());
  }

  error mismatch(const tensor_info& info, const sha256_digest* actual = nullptr) const {
    std::string msg = "tensor " + quote_name(info.name) + ": bytes do not match the seal (sha256 ";
    if (actual) msg += to_hex(*actual) + ", ";
    msg += "sealed " + to_hex(state_->sealed[index_of(info)]) + ")";
    return make_error(errc::digest_mismatch, std::move(msg)).in(reader_.source());
  }

  reader reader_;
  std::shared_ptr<lazy_state> state_;
};

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
