// Sealing: rewrite a file through the canonical writer with its per-tensor
// digests under the metadata key `safeweights.seal` (seal_format.hpp). The
// tensors, their bytes and every other metadata key are kept; an existing
// seal is replaced where it stood. The output is written atomically, so
// `in` may equal `out`.
#pragma once

#include <string>

#include "safeweights/integrity/seal_format.hpp"
#include "safeweights/integrity/tensor_digests.hpp"
#include "safeweights/io/writer.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// The tensors and metadata of `r`, sealed, in a writer ready to write.
inline result<void> add_sealed(const reader& r, writer& w, unsigned threads = 0) {
  auto digests = digest_tensors(r, threads);
  if (!digests) return std::move(digests).error_value();
  for (const tensor_info& t : r.tensors()) {
    auto view = r.tensor(t);
    if (!view) return std::move(view).error_value();
    if (auto added = w.add(*view); !added) return added;
  }
  w.enable_metadata();
  for (const metadata_entry& m : r.metadata()) w.set_metadata(std::string(m.key), std::string(m.value));
  w.set_metadata(std::string(seal_key), make_seal(r, *digests));
  return {};
}

inline result<void> seal_file(const std::string& in, const std::string& out, const write_options& options = {}) {
  auto r = reader::open(in);
  if (!r) return std::move(r).error_value();
  writer w;
  if (auto s = add_sealed(*r, w); !s) return s;
  return w.write_file(out, options);
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
