// Fuzz target: the header parser alone. The input is the JSON text (no
// length prefix). Both parsers run on it, under the default limits and under
// tight ones, with a data section of any size and with none: the canonical
// fast path may give up, but whenever it gives a verdict the general parser
// (the authority) must give the same one, and on acceptance the same index,
// field by field. The public parse_header must agree with both, and so must
// the fast path run in place on a header followed by arbitrary bytes.
#include <cstring>
#include <limits>
#include <vector>

#include "fuzz_target.hpp"
#include "safeweights/format/parse_header.hpp"

namespace sw = safeweights;

namespace {

sw::detail::padded_buffer copy_of(const std::uint8_t* data, std::size_t size) {
  sw::detail::padded_buffer json(size);
  if (size) std::memcpy(json.data(), data, size);
  return json;
}

void check_same(const sw::header_index& a, const sw::header_index& b) {
  FUZZ_REQUIRE(a.size() == b.size());
  FUZZ_REQUIRE(a.header_size() == b.header_size());
  FUZZ_REQUIRE(a.data_size() == b.data_size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const sw::tensor_info& x = a.tensors()[i];
    const sw::tensor_info& y = b.tensors()[i];
    FUZZ_REQUIRE(x.name == y.name);
    FUZZ_REQUIRE(x.type == y.type);
    FUZZ_REQUIRE(x.shape.size() == y.shape.size());
    for (std::size_t d = 0; d < x.shape.size(); ++d) FUZZ_REQUIRE(x.shape[d] == y.shape[d]);
    FUZZ_REQUIRE(x.begin == y.begin && x.end == y.end && x.elements == y.elements);
    FUZZ_REQUIRE(a.find(x.name) == &x);
    FUZZ_REQUIRE(b.find(y.name) == &y);
  }
  FUZZ_REQUIRE(a.has_metadata() == b.has_metadata());
  FUZZ_REQUIRE(a.metadata().size() == b.metadata().size());
  for (std::size_t i = 0; i < a.metadata().size(); ++i) {
    FUZZ_REQUIRE(a.metadata()[i].key == b.metadata()[i].key);
    FUZZ_REQUIRE(a.metadata()[i].value == b.metadata()[i].value);
    FUZZ_REQUIRE(a.metadata_value(a.metadata()[i].key) == std::optional(a.metadata()[i].value));
  }
}

void run(const std::uint8_t* data, std::size_t size, std::uint64_t data_bytes, const sw::read_options& options) {
  auto general = sw::detail::parse_header_general(copy_of(data, size), data_bytes, options);
  if (!general) FUZZ_REQUIRE(!general.error_value().message.empty());
  auto json = copy_of(data, size);
  auto fast = sw::detail::parse_header_canonical(json, data_bytes, options);
  if (fast) {
    FUZZ_REQUIRE(fast->code() == general.code());
    if (*fast) check_same(**fast, *general);
  } else {
    // Given up: the buffer comes back untouched for the general parser.
    FUZZ_REQUIRE(json.size() == size && (size == 0 || std::memcmp(json.data(), data, size) == 0));
  }
  auto public_result = sw::parse_header(copy_of(data, size), data_bytes, options);
  FUZZ_REQUIRE(public_result.code() == general.code());
  if (public_result) check_same(*public_result, *general);

  // In place, as in a mapping: the header is followed by bytes that are not
  // padding (digits, quotes, the header's own start), exactly as many as
  // the fast path may overread, so ASan catches a read past them.
  for (int filler = 0; filler < 3; ++filler) {
    std::vector<std::uint8_t> image(size + sw::detail::canonical_overread);
    if (size) std::memcpy(image.data(), data, size);
    for (std::size_t i = 0; i < sw::detail::canonical_overread; ++i)
      image[size + i] = filler == 0 ? '7' : filler == 1 ? '"' : (size ? data[i % size] : ']');
    auto in_place = sw::detail::parse_header_in_place(
        std::string_view(reinterpret_cast<const char*>(image.data()), size), sw::detail::canonical_overread,
        data_bytes, options);
    FUZZ_REQUIRE(in_place.code() == general.code());
    if (in_place) check_same(*in_place, *general);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sw::read_options open_ended;
  open_ended.allow_trailing_bytes = true;
  run(data, size, std::numeric_limits<std::uint64_t>::max(), open_ended);
  run(data, size, 0, sw::read_options{});
  sw::read_options tight;
  tight.max_tensors = 3;
  tight.max_rank = 2;
  tight.allow_trailing_bytes = true;
  run(data, size, 64, tight);
  return 0;
}
