// Fuzz target: the header parser alone. The input is the JSON text (no
// length prefix). Both parsers run on it, under the default limits and under
// tight ones, with a data section of any size and with none: the canonical
// fast path may give up, but whenever it gives a verdict the general parser
// (the authority) must give the same one, and on acceptance the same index,
// field by field. The one door, parse_header, must agree with both, on a
// copy and in place on a header followed by arbitrary bytes.
#include <cstring>
#include <limits>
#include <vector>

#include "fuzz_target.hpp"
#include "safeweights/format/header/parse_header.hpp"

namespace sw = safeweights;

namespace {

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
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sw::detail::header_copy copy(text);
  auto general = sw::detail::parse_general(copy.text, copy.readable_after, data_bytes, options, copy.owner);
  if (!general) FUZZ_REQUIRE(!general.error_value().message.empty());
  if (auto fast = sw::detail::parse_canonical(copy.text, data_bytes, options, copy.owner)) {
    FUZZ_REQUIRE(fast->code() == general.code());
    if (*fast) check_same(**fast, *general);
  }
  auto public_result = sw::parse_header(text, 0, data_bytes, options);
  FUZZ_REQUIRE(public_result.code() == general.code());
  if (public_result) check_same(*public_result, *general);

  // In place, as in a mapping: the header is followed by bytes that are not
  // padding (digits, quotes, the header's own start), exactly as many as
  // the fast path may overread, then as many as simdjson's padding (the
  // general parser must still read a zero-padded copy: a run of digits
  // there once took simdjson's number parser past them).
  for (std::size_t after : {sw::detail::canonical_scanner::max_overread, sw::detail::header_parser::max_overread}) {
    for (int filler = 0; filler < 3; ++filler) {
      std::vector<std::uint8_t> image(size + after);
      if (size) std::memcpy(image.data(), data, size);
      for (std::size_t i = 0; i < after; ++i)
        image[size + i] = filler == 0 ? '7' : filler == 1 ? '"' : (size ? data[i % size] : ']');
      auto in_place = sw::parse_header(std::string_view(reinterpret_cast<const char*>(image.data()), size), after,
                                       data_bytes, options, sw::caller_keeps_alive(image.data()));
      FUZZ_REQUIRE(in_place.code() == general.code());
      if (in_place) check_same(*in_place, *general);
    }
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
