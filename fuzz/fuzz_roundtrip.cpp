// Fuzz target: whatever the reader accepts, the writer re-emits and the
// reader accepts again with identical tensors (names, dtypes, shapes,
// bytes) and metadata (keys, values, order, present or not). Writing the
// re-read file once more gives the same bytes: the canonical form is a fixed
// point. Aligned mode is exercised too, and its output must be readable with
// its data section on a 64-byte boundary.
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_target.hpp"
#include "safeweights/safeweights.hpp"

namespace sw = safeweights;

namespace {

sw::result<std::vector<std::byte>> rewrite(const sw::reader& r, const sw::write_options& options) {
  sw::writer w;
  for (const sw::tensor_info& t : r.tensors()) {
    auto v = r.tensor(t);
    FUZZ_REQUIRE(v.has_value());
    auto added = w.add(*v);
    FUZZ_REQUIRE(added.has_value());
  }
  if (r.has_metadata()) w.enable_metadata();
  for (const sw::metadata_entry& m : r.metadata()) w.set_metadata(std::string(m.key), std::string(m.value));
  return w.serialize(options);
}

void check_same(const sw::reader& a, const sw::reader& b) {
  FUZZ_REQUIRE(a.tensors().size() == b.tensors().size());
  for (const sw::tensor_info& x : a.tensors()) {
    const sw::tensor_info* y = b.find(x.name);
    FUZZ_REQUIRE(y != nullptr);
    FUZZ_REQUIRE(x.type == y->type);
    FUZZ_REQUIRE(x.shape.size() == y->shape.size());
    for (std::size_t d = 0; d < x.shape.size(); ++d) FUZZ_REQUIRE(x.shape[d] == y->shape[d]);
    auto xv = a.tensor(x);
    auto yv = b.tensor(*y);
    FUZZ_REQUIRE(xv && yv && xv->bytes().size() == yv->bytes().size());
    if (!xv->bytes().empty())
      FUZZ_REQUIRE(std::memcmp(xv->bytes().data(), yv->bytes().data(), xv->bytes().size()) == 0);
  }
  FUZZ_REQUIRE(a.has_metadata() == b.has_metadata());
  FUZZ_REQUIRE(a.metadata().size() == b.metadata().size());
  for (std::size_t i = 0; i < a.metadata().size(); ++i) {
    FUZZ_REQUIRE(a.metadata()[i].key == b.metadata()[i].key);
    FUZZ_REQUIRE(a.metadata()[i].value == b.metadata()[i].value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  auto original = sw::reader::from_buffer(file);
  if (!original) return 0;

  auto canonical = rewrite(*original, {});
  FUZZ_REQUIRE(canonical.has_value());
  auto reread = sw::reader::from_buffer(*canonical);
  FUZZ_REQUIRE(reread.has_value());
  check_same(*original, *reread);
  FUZZ_REQUIRE(reread->index().header_size() % 8 == 0);

  auto again = rewrite(*reread, {});
  FUZZ_REQUIRE(again.has_value() && *again == *canonical);

  sw::write_options aligned;
  aligned.align_data = true;
  auto padded = rewrite(*original, aligned);
  FUZZ_REQUIRE(padded.has_value());
  auto padded_read = sw::reader::from_buffer(*padded);
  FUZZ_REQUIRE(padded_read.has_value());
  FUZZ_REQUIRE(padded_read->index().data_offset() % 64 == 0);
  check_same(*original, *padded_read);
  return 0;
}
