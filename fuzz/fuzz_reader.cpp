// Fuzz target: a whole file image, opened from memory with the default
// options and with every leniency on. Whatever the verdict, nothing may
// crash, leak or read outside the input; an accepted file must then hold up
// under every accessor: each tensor's bytes (read in full), its typed views,
// lookups by name, the metadata map, and eager loads of all or some tensors.
// Every metadata value also goes through the seal parser, and a file with a
// seal through the sealed reader (matched, verified lazily and in full).
#include <complex>
#include <type_traits>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_target.hpp"
#include "safeweights/integrity/sealed_reader.hpp"
#include "safeweights/safeweights.hpp"

namespace sw = safeweights;

namespace {

volatile std::uint8_t sink;  // keeps the reads of tensor bytes from being optimised away

void touch(std::span<const std::byte> bytes) {
  std::uint8_t x = 0;
  for (std::byte b : bytes) x ^= static_cast<std::uint8_t>(b);
  sink = x;
}

// The typed views of a tensor whose dtype is T's: a view when aligned, a copy
// otherwise, the same bytes either way; and any other element type refused.
template <class T, class Other>
void check_typed(const sw::tensor_view& v) {
  if constexpr (std::is_same_v<T, bool>) {
    // A byte other than 0 or 1 is no bool: refused, whatever the alignment.
    bool all_bool = true;
    for (std::byte b : v.bytes()) all_bool = all_bool && std::to_integer<unsigned>(b) <= 1;
    if (!all_bool) {
      FUZZ_REQUIRE(v.typed<bool>().code() == sw::errc::invalid_bool);
      FUZZ_REQUIRE(v.as<bool>().code() == sw::errc::invalid_bool);
      return;
    }
  }
  auto typed = v.typed<T>();
  FUZZ_REQUIRE(typed.has_value());
  FUZZ_REQUIRE(typed->size() == v.elements());
  FUZZ_REQUIRE(typed->size() * sizeof(T) == v.bytes().size());
  if (!v.bytes().empty()) FUZZ_REQUIRE(std::memcmp(typed->data(), v.bytes().data(), v.bytes().size()) == 0);
  // Read every element as T (for bool, only 0 and 1 got this far).
  std::uint8_t x = 0;
  for (const T& e : typed->span()) {
    unsigned char raw[sizeof(T)];
    std::memcpy(raw, &e, sizeof(T));
    x ^= raw[0];
  }
  sink = x;
  auto view = v.as<T>();
  const bool aligned = reinterpret_cast<std::uintptr_t>(v.bytes().data()) % alignof(T) == 0;
  if (aligned) {
    FUZZ_REQUIRE(view.has_value());
    FUZZ_REQUIRE(view->size() == v.elements());
    FUZZ_REQUIRE(!typed->is_copy());
  } else {
    FUZZ_REQUIRE(view.code() == sw::errc::misaligned_view);
    FUZZ_REQUIRE(typed->is_copy());
  }
  FUZZ_REQUIRE(v.typed<Other>().code() == sw::errc::dtype_mismatch);
  FUZZ_REQUIRE(v.as<Other>().code() == sw::errc::dtype_mismatch);
}

void check_typed_views(const sw::tensor_view& v) {
  using namespace sw;
  switch (v.type()) {
    case dtype::BOOL: return check_typed<bool, float>(v);
    case dtype::U8: return check_typed<std::uint8_t, std::int8_t>(v);
    case dtype::I8: return check_typed<std::int8_t, std::uint8_t>(v);
    case dtype::I16: return check_typed<std::int16_t, std::uint16_t>(v);
    case dtype::U16: return check_typed<std::uint16_t, std::int16_t>(v);
    case dtype::I32: return check_typed<std::int32_t, float>(v);
    case dtype::U32: return check_typed<std::uint32_t, std::int32_t>(v);
    case dtype::F32: return check_typed<float, std::int32_t>(v);
    case dtype::C64: return check_typed<std::complex<float>, double>(v);
    case dtype::F64: return check_typed<double, std::int64_t>(v);
    case dtype::I64: return check_typed<std::int64_t, double>(v);
    case dtype::U64: return check_typed<std::uint64_t, std::int64_t>(v);
    default:  // no C++ element type: bytes only
      FUZZ_REQUIRE(v.typed<float>().code() == errc::dtype_mismatch);
  }
}

void check_accepted(const sw::reader& r, std::span<const std::byte> file, bool lenient) {
  const auto& index = r.index();
  FUZZ_REQUIRE(index.data_offset() == 8 + index.header_size());
  FUZZ_REQUIRE(index.data_offset() + index.data_size() <= file.size());
  if (!lenient) FUZZ_REQUIRE(index.data_offset() + index.data_size() == file.size());

  std::uint64_t cursor = 0;
  for (const sw::tensor_info& t : r.tensors()) {
    // Offset order, tiling the data section from 0.
    FUZZ_REQUIRE(t.begin == cursor);
    FUZZ_REQUIRE(t.end >= t.begin);
    cursor = t.end;
    FUZZ_REQUIRE(r.find(t.name) == &t);  // names are unique
    std::uint64_t elements = 1;
    for (std::uint64_t d : t.shape) elements *= d;  // validated: cannot overflow
    FUZZ_REQUIRE(elements == t.elements);
    FUZZ_REQUIRE(t.elements * sw::bit_width(t.type) == t.byte_size() * 8);

    auto v = r.tensor(t);
    FUZZ_REQUIRE(v.has_value());
    FUZZ_REQUIRE(v->bytes().size() == t.byte_size());
    if (t.byte_size() != 0)
      FUZZ_REQUIRE(v->bytes().data() == file.data() + index.data_offset() + t.begin);  // zero-copy, in the file
    touch(v->bytes());
    check_typed_views(*v);
    auto by_name = r.tensor(t.name);
    FUZZ_REQUIRE(by_name.has_value() && &by_name->info() == &t);
  }
  FUZZ_REQUIRE(cursor == index.data_size());

  if (!r.has_metadata()) FUZZ_REQUIRE(r.metadata().empty());
  for (const sw::metadata_entry& m : r.metadata()) {
    auto value = r.metadata_value(m.key);
    FUZZ_REQUIRE(value.has_value() && value->data() == m.value.data());  // keys are unique
  }

  // Eager loads: everything, then every other tensor by name.
  auto all = r.load();
  FUZZ_REQUIRE(all.has_value());
  FUZZ_REQUIRE(all->size() == r.tensors().size());
  std::vector<std::string_view> some;
  for (std::size_t i = 0; i < r.tensors().size(); ++i) {
    const sw::tensor_info& t = r.tensors()[i];
    const sw::tensor_view* copy = all->find(t.name);
    FUZZ_REQUIRE(copy != nullptr && copy->bytes().size() == t.byte_size());
    if (t.byte_size() != 0) {
      FUZZ_REQUIRE(std::memcmp(copy->bytes().data(), file.data() + index.data_offset() + t.begin, t.byte_size()) == 0);
      FUZZ_REQUIRE(reinterpret_cast<std::uintptr_t>(copy->bytes().data()) % alignof(std::max_align_t) == 0 ||
                   t.begin % alignof(std::max_align_t) != 0);
    }
    if (i % 2 == 0) some.push_back(t.name);
  }
  auto part = r.load(some);
  FUZZ_REQUIRE(part.has_value() && part->size() == some.size());
  for (const sw::tensor_view& v : part->tensors()) {
    FUZZ_REQUIRE(reinterpret_cast<std::uintptr_t>(v.bytes().data()) % sw::aligned_buffer::alignment == 0 ||
                 v.bytes().empty());
    touch(v.bytes());
  }
}

// A seal is untrusted text too; verification must agree with the digests.
void check_seal(const sw::reader& r) {
  for (const sw::metadata_entry& m : r.metadata()) (void)sw::parse_seal(m.value);
  auto sealed = sw::sealed_reader::from(sw::reader(r));
  if (!sealed) {
    FUZZ_REQUIRE(sealed.code() == sw::errc::not_sealed || sealed.code() == sw::errc::invalid_seal);
    FUZZ_REQUIRE((sealed.code() == sw::errc::not_sealed) == !r.metadata_value(sw::seal_key).has_value());
    return;
  }
  std::vector<bool> good;
  for (const sw::tensor_info& t : sealed->tensors()) {
    auto v = sealed->tensor(t);
    FUZZ_REQUIRE(v.has_value() || v.code() == sw::errc::digest_mismatch);
    auto again = sealed->tensor(t.name);
    FUZZ_REQUIRE(again.code() == v.code());
    good.push_back(v.has_value());
  }
  auto report = sealed->verify_all(1);
  FUZZ_REQUIRE(report.has_value() && report->tensors == good.size());
  std::size_t bad = 0;
  for (bool g : good) bad += !g;
  FUZZ_REQUIRE(report->failures.size() == bad);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  auto strict = sw::reader::from_buffer(file);
  if (strict) {
    check_accepted(*strict, file, false);
    check_seal(*strict);
  } else {
    FUZZ_REQUIRE(strict.code() != sw::errc::ok);
    FUZZ_REQUIRE(strict.error_value().message.rfind("<buffer>: ", 0) == 0);
  }
  sw::read_options lenient;
  lenient.allow_trailing_bytes = true;
  auto relaxed = sw::reader::from_buffer(file, lenient);
  if (strict) FUZZ_REQUIRE(relaxed.has_value() && relaxed->tensors().size() == strict->tensors().size());
  if (relaxed) check_accepted(*relaxed, file, true);
  // Leniency only relaxes R22: any other verdict stays.
  if (!relaxed) FUZZ_REQUIRE(relaxed.code() == strict.code());
  if (strict.code() == sw::errc::trailing_bytes) FUZZ_REQUIRE(relaxed.has_value());
  return 0;
}
