// Byte order (issue 17): the file is little-endian whatever the host. This
// test runs natively (x86-64) and under qemu-s390x (scripts/test-s390x), a
// big-endian host, and checks the same things on both:
// - a file written from host-typed values of every dtype is byte for byte
//   the committed reference tests/data/byte_order/every_dtype.safetensors,
//   which was written by this program on x86-64;
// - reading the reference back gives the same values through typed<T>(),
//   to_floats(), scalar_as_double, and an eager load(); as<T>() views it in
//   place on a little-endian host and fails with errc::byte_order for a
//   multi-byte T on a big-endian one (1-byte types view on both);
// - a loaded tensor (host order on a big-endian host) is written back as the
//   file's bytes.
// To regenerate the reference (on a little-endian host only, after a
// deliberate change to the writer's layout or to the values below):
//   SAFEWEIGHTS_WRITE_REFERENCE=1 build/tests/test-byte_order
#include <bit>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <limits>

#include "safeweights/safeweights.hpp"
#include "support.hpp"

namespace sw = safeweights;
using sw::dtype;

namespace {

std::filesystem::path reference_path() { return test_support::data_dir() / "byte_order" / "every_dtype.safetensors"; }

// Values whose bytes all differ, so a missing or a wrong swap shows.
const std::vector<std::uint8_t> u8s = {0x01, 0x80, 0xff};
const std::vector<std::int8_t> i8s = {-128, 1, 127};
const std::vector<std::int16_t> i16s = {0x0102, -2, -32768, 12345};
const std::vector<std::uint16_t> u16s = {0x0102, 0xfffe, 0x8001};
const std::vector<std::int32_t> i32s = {0x01020304, -2, std::numeric_limits<std::int32_t>::min()};
const std::vector<std::uint32_t> u32s = {0x01020304u, 0xfffffffeu, 7};
const std::vector<std::int64_t> i64s = {0x0102030405060708ll, -2, std::numeric_limits<std::int64_t>::min()};
const std::vector<std::uint64_t> u64s = {0x0102030405060708ull, ~std::uint64_t{0} - 1, 9};
const std::vector<float> f32s = {1.5f, -0.1f, 3.4e38f, std::numeric_limits<float>::denorm_min()};
const std::vector<double> f64s = {3.141592653589793, -1e-300, 1e300};
const std::vector<std::complex<float>> c64s = {{1.5f, -2.25f}, {0.1f, 7.0f}};
const std::vector<float> floats = {1.0f, -2.5f, 65504.0f, 0.1f, -0.0f, 0x1p-24f};  // F16, BF16, F64 via add(floats)
const bool bools[] = {true, false, true};
// The 1-byte and sub-byte types go in as raw bytes (never swapped).
const std::vector<std::uint8_t> f8_bytes = {0x38, 0xb8, 0x7e, 0x01};  // as each F8_* type
const std::vector<std::uint8_t> f4_bytes = {0x12, 0xef};              // F4: 4 elements
const std::vector<std::uint8_t> f6_bytes = {0x12, 0x34, 0x56};        // F6_*: 4 elements
// Raw bytes of a U16 tensor, already little-endian: taken as the file's bytes on every host.
const std::vector<std::uint8_t> u16_file_bytes = {0x02, 0x01, 0xfe, 0xff};  // 0x0102, 0xfffe

template <class T>
std::span<const std::byte> raw(const std::vector<T>& v) {
  return std::as_bytes(std::span(v));
}

std::vector<std::byte> write_every_dtype() {
  sw::writer w;
  auto add = [&]<class T>(const char* name, const std::vector<T>& v) {
    REQUIRE(w.add<T>(name, {v.size()}, std::span<const T>(v)));
  };
  add("u8", u8s);
  add("i8", i8s);
  add("i16", i16s);
  add("u16", u16s);
  add("i32", i32s);
  add("u32", u32s);
  add("i64", i64s);
  add("u64", u64s);
  add("f32", f32s);
  add("f64", f64s);
  add("c64", c64s);
  REQUIRE(w.add<bool>("bool", {3}, std::span<const bool>(bools)));
  REQUIRE(w.add("f16_from_floats", dtype::F16, {floats.size()}, floats));
  REQUIRE(w.add("bf16_from_floats", dtype::BF16, {floats.size()}, floats));
  REQUIRE(w.add("f64_from_floats", dtype::F64, {floats.size()}, floats));
  REQUIRE(w.add("f32_from_floats", dtype::F32, {floats.size()}, floats));
  REQUIRE(w.add("u16_file_bytes", dtype::U16, {2}, raw(u16_file_bytes)));
  for (dtype t : {dtype::F8_E4M3, dtype::F8_E5M2, dtype::F8_E4M3FNUZ, dtype::F8_E5M2FNUZ, dtype::F8_E8M0})
    REQUIRE(w.add(std::string(sw::dtype_name(t)), t, {f8_bytes.size()}, raw(f8_bytes)));
  REQUIRE(w.add("f4", dtype::F4, {4}, raw(f4_bytes)));
  REQUIRE(w.add("f6_e2m3", dtype::F6_E2M3, {4}, raw(f6_bytes)));
  REQUIRE(w.add("f6_e3m2", dtype::F6_E3M2, {4}, raw(f6_bytes)));
  w.set_metadata("written_by", "tests/test_byte_order.cpp");
  auto bytes = w.serialize();
  REQUIRE(bytes);
  return std::move(*bytes);
}

std::string hex_around(std::span<const std::byte> a, std::span<const std::byte> b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return "first difference at byte " + std::to_string(i) + " of " + std::to_string(a.size()) + " / " +
         std::to_string(b.size());
}

// typed<T>() and, where the host allows, as<T>() of a view hold `want`.
template <class T>
void check_typed(const sw::tensor_view& v, const std::vector<T>& want) {
  INFO("tensor ", std::string(v.name()));
  auto t = v.typed<T>();
  REQUIRE(t);
  REQUIRE(t->size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(std::memcmp(&(*t)[i], &want[i], sizeof(T)) == 0);
  auto view = v.as<T>();
  const bool host_order = sizeof(T) == 1 || v.byte_order() == std::endian::native;
  if (host_order) {
    REQUIRE(view);
    CHECK(std::memcmp(view->data(), want.data(), want.size() * sizeof(T)) == 0);
  } else {
    REQUIRE_FALSE(view);
    CHECK(view.error_value().code == sw::errc::byte_order);
    CHECK(view.error_value().message.find("little-endian on disk; this host is big-endian") != std::string::npos);
  }
  // scalar_as_double reads the bytes in the order the view says.
  for (std::size_t i = 0; i < want.size(); ++i) {
    const unsigned parts = sw::components_of(v.type());
    for (unsigned c = 0; c < parts; ++c) {
      double expected;
      if constexpr (std::is_same_v<T, std::complex<float>>)
        expected = c == 0 ? want[i].real() : want[i].imag();
      else
        expected = static_cast<double>(want[i]);
      CHECK(*sw::scalar_as_double(v.type(), v.bytes().data(), i * parts + c, v.byte_order()) == expected);
    }
  }
}

// Every tensor of the reference through the views `find` gives.
template <class Find>
void check_values(Find find) {
  check_typed(find("u8"), u8s);
  check_typed(find("i8"), i8s);
  check_typed(find("i16"), i16s);
  check_typed(find("u16"), u16s);
  check_typed(find("i32"), i32s);
  check_typed(find("u32"), u32s);
  check_typed(find("i64"), i64s);
  check_typed(find("u64"), u64s);
  check_typed(find("f32"), f32s);
  check_typed(find("f64"), f64s);
  check_typed(find("c64"), c64s);
  check_typed(find("u16_file_bytes"), std::vector<std::uint16_t>{0x0102, 0xfffe});
  {
    auto b = find("bool").template typed<bool>();
    REQUIRE(b);
    CHECK(((*b)[0] && !(*b)[1] && (*b)[2]));
  }
  // to_floats: each float dtype to the float values written.
  auto floats_of = [&](const char* name) {
    auto f = find(name).to_floats();
    REQUIRE(f);
    return *f;
  };
  CHECK(floats_of("f32") == f32s);
  CHECK(floats_of("f32_from_floats") == floats);
  CHECK(floats_of("f64_from_floats") == floats);
  auto f16 = floats_of("f16_from_floats");
  auto bf16 = floats_of("bf16_from_floats");
  REQUIRE(f16.size() == floats.size());
  REQUIRE(bf16.size() == floats.size());
  for (std::size_t i = 0; i < floats.size(); ++i) {
    INFO("value ", floats[i]);
    CHECK(std::bit_cast<std::uint32_t>(f16[i]) ==
          std::bit_cast<std::uint32_t>(sw::f16_to_float(sw::float_to_f16(floats[i]))));
    CHECK(std::bit_cast<std::uint32_t>(bf16[i]) ==
          std::bit_cast<std::uint32_t>(sw::bf16_to_float(sw::float_to_bf16(floats[i]))));
  }
  // The F16 file bytes themselves are little-endian: 1.0 is 00 3c.
  auto f16_view = find("f16_from_floats");
  if (f16_view.byte_order() == std::endian::little) {
    CHECK(f16_view.bytes()[0] == std::byte{0x00});
    CHECK(f16_view.bytes()[1] == std::byte{0x3c});
  }
  for (dtype t : {dtype::F8_E4M3, dtype::F8_E5M2, dtype::F8_E4M3FNUZ, dtype::F8_E5M2FNUZ, dtype::F8_E8M0}) {
    auto f8 = floats_of(std::string(sw::dtype_name(t)).c_str());
    REQUIRE(f8.size() == f8_bytes.size());
    for (std::size_t i = 0; i < f8.size(); ++i) {
      float want = sw::f8_to_float(t, f8_bytes[i]);
      CHECK((std::isnan(want) ? std::isnan(f8[i]) : f8[i] == want));
    }
  }
  auto f4 = find("f4");
  CHECK(std::memcmp(f4.bytes().data(), f4_bytes.data(), f4_bytes.size()) == 0);
}

}  // namespace

TEST_CASE("byte order: the host and the helpers") {
  const std::string order = sw::host_is_big_endian ? "big-endian" : "little-endian";
  MESSAGE("host byte order: ", order);
  CHECK(sw::swap_width(dtype::C64) == 4);
  CHECK(sw::swap_width(dtype::F64) == 8);
  CHECK(sw::swap_width(dtype::BF16) == 2);
  for (dtype t : {dtype::BOOL, dtype::U8, dtype::I8, dtype::F8_E4M3, dtype::F8_E8M0, dtype::F4, dtype::F6_E2M3}) {
    CHECK(sw::swap_width(t) == 0);
    CHECK_FALSE(sw::needs_swap(t));
  }
  CHECK(sw::needs_swap(dtype::I32) == sw::host_is_big_endian);
  // to_little: the value's bytes in memory are little-endian on every host.
  std::uint32_t x = sw::to_little(std::uint32_t{0x01020304});
  unsigned char b[4];
  std::memcpy(b, &x, 4);
  CHECK((b[0] == 4 && b[1] == 3 && b[2] == 2 && b[3] == 1));
  CHECK(sw::from_little(sw::to_little(0x0102030405060708ull)) == 0x0102030405060708ull);
  std::complex<float> c = sw::to_little<std::complex<float>, 4>({1.5f, -2.0f});
  unsigned char cb[8];
  std::memcpy(cb, &c, 8);
  CHECK((cb[3] == 0x3f && cb[2] == 0xc0 && cb[7] == 0xc0));  // 1.5f = 3fc00000, -2.0f = c0000000
  // A header word read by the scanners: the first byte is the low byte.
  CHECK(sw::detail::load8("\x01\x02\x03\x04\x05\x06\x07\x08") == 0x0807060504030201ull);
  CHECK(sw::detail::load4("\x01\x02\x03\x04") == 0x04030201u);
}

TEST_CASE("byte order: a file written from host values of every dtype is the reference written on x86-64") {
  auto bytes = write_every_dtype();
  if (std::getenv("SAFEWEIGHTS_WRITE_REFERENCE")) {
    REQUIRE_MESSAGE(!sw::host_is_big_endian, "write the reference on a little-endian host");
    std::filesystem::create_directories(reference_path().parent_path());
    test_support::write_bytes(reference_path(), bytes);
    MESSAGE("wrote ", reference_path().string());
  }
  auto reference = test_support::read_bytes(reference_path());
  REQUIRE(!reference.empty());
  INFO(hex_around(bytes, reference));
  CHECK(bytes == reference);
  // The length prefix is little-endian too.
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(bytes[static_cast<std::size_t>(i)]);
  CHECK(8 + n < bytes.size());
  CHECK(static_cast<char>(bytes[8]) == '{');

  // write_file (the file sink) writes the same bytes.
  test_support::scratch_dir dir;
  sw::writer w;
  REQUIRE(w.add<std::int32_t>("i32", {i32s.size()}, std::span(i32s)));
  REQUIRE(w.add("f16", dtype::F16, {floats.size()}, floats));
  REQUIRE(w.write_file((dir / "small.safetensors").string()));
  auto small = w.serialize();
  REQUIRE(small);
  CHECK(test_support::read_bytes(dir / "small.safetensors") == *small);
}

TEST_CASE("byte order: the reference reads back as the same values in every io_mode") {
  for (auto mode : {sw::io_mode::mmap, sw::io_mode::pread}) {
    sw::read_options options;
    options.mode = mode;
    auto r = sw::reader::open(reference_path().string(), options);
    REQUIRE(r);
    // Lazily: views of the file's little-endian bytes.
    check_values([&](const char* name) {
      auto v = r->tensor(name);
      REQUIRE(v);
      CHECK(v->byte_order() == std::endian::little);
      return *v;
    });
    // Eagerly, all and a subset: host-order memory (swapped on a big-endian host).
    auto all = r->load();
    REQUIRE(all);
    const std::string_view some_names[] = {"i16", "c64", "f64"};
    auto some = r->load(some_names);
    REQUIRE(some);
    for (const auto* loaded : {&*all, &*some}) {
      for (const auto& v : loaded->tensors()) CHECK(v.byte_order() == std::endian::native);
    }
    check_values([&](const char* name) {
      const sw::tensor_view* v = all->find(name);
      REQUIRE(v);
      return *v;
    });
    check_typed(*some->find("i16"), i16s);
    check_typed(*some->find("c64"), c64s);
    check_typed(*some->find("f64"), f64s);
    // A loaded tensor goes back to the file's bytes when written.
    sw::writer again;
    for (const auto& v : all->tensors()) REQUIRE(again.add(v));
    again.set_metadata("written_by", "tests/test_byte_order.cpp");
    auto bytes = again.serialize();
    REQUIRE(bytes);
    CHECK(*bytes == test_support::read_bytes(reference_path()));
    // So does a lazy view (the file's bytes, unswapped).
    sw::writer lazy;
    std::vector<sw::tensor_view> views;  // the writer reads their bytes (owned by them in pread mode) when it writes
    for (const auto& info : r->tensors()) {
      auto v = r->tensor(info.name);
      REQUIRE(v);
      views.push_back(*v);
    }
    for (const auto& v : views) REQUIRE(lazy.add(v));
    lazy.set_metadata("written_by", "tests/test_byte_order.cpp");
    auto lazy_bytes = lazy.serialize();
    REQUIRE(lazy_bytes);
    CHECK(*lazy_bytes == test_support::read_bytes(reference_path()));
  }
}
