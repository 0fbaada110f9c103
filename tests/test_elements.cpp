// Element conversions (format/elements.hpp): F16 and BF16 both ways with
// round-to-nearest-even, the five 8-bit float encodings, and scalar_as_double
// for every byte-aligned dtype. GCC's _Float16 is the independent oracle for F16.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "safeweights/format/elements.hpp"
#include "support.hpp"

namespace sw = safeweights;
using sw::dtype;

// GCC has _Float16 on x86-64 and AArch64, not on s390x: there (the big-endian
// cross build, scripts/test-s390x) the two oracle tests are left out.
#ifdef __FLT16_MAX__
namespace {
std::uint16_t oracle_f16(float f) {
  _Float16 h = static_cast<_Float16>(f);
  std::uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}
std::uint32_t bits_of(float f) { return std::bit_cast<std::uint32_t>(f); }
}  // namespace

TEST_CASE("f16: every one of the 65536 codes converts to float as _Float16 does and back unchanged") {
  for (std::uint32_t c = 0; c < 65536; ++c) {
    auto h = static_cast<std::uint16_t>(c);
    _Float16 ref;
    std::memcpy(&ref, &h, 2);
    float f = sw::f16_to_float(h);
    INFO("code ", c);
    if (std::isnan(static_cast<float>(ref))) {
      CHECK(std::isnan(f));
      CHECK(sw::float_to_f16(f) == (h | 0x0200u));  // quiet NaN, payload and sign kept
      continue;
    }
    CHECK(bits_of(f) == bits_of(static_cast<float>(ref)));
    CHECK(sw::float_to_f16(f) == h);
  }
}

TEST_CASE("f16: float to f16 rounds to nearest even, like _Float16, over random and edge values") {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<std::uint32_t> any;
  std::vector<float> values = {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e9f, -1e9f,
                               std::numeric_limits<float>::infinity(), 0x1p-14f, 0x1p-24f, 0x1p-25f,
                               0x1.8p-25f, 0x1p-26f, 1.0f + 0x1p-11f, 1.0f + 0x1p-11f + 0x1p-20f,
                               1.0f + 3 * 0x1p-11f, std::numeric_limits<float>::denorm_min()};
  for (int i = 0; i < 200000; ++i) {
    float f = std::bit_cast<float>(any(rng));
    if (!std::isnan(f)) values.push_back(f);
    // Concentrate on f16's range too, where the rounding bits matter.
    values.push_back(std::ldexp(std::uniform_real_distribution<float>(-1, 1)(rng), i % 40 - 26));
  }
  for (float f : values) {
    INFO("float bits ", bits_of(f));
    CHECK(sw::float_to_f16(f) == oracle_f16(f));
  }
}
#endif  // __FLT16_MAX__

TEST_CASE("bf16: the high half of a float; float to bf16 rounds to nearest even, NaN stays NaN") {
  CHECK(sw::bf16_to_float(0x3f80) == 1.0f);
  CHECK(sw::bf16_to_float(0xc000) == -2.0f);
  CHECK(sw::float_to_bf16(1.0f) == 0x3f80);
  // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties go to the even one (1).
  CHECK(sw::float_to_bf16(1.0f + 0x1p-8f) == 0x3f80);
  // 1 + 3 x 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: ties go up to even.
  CHECK(sw::float_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82);
  CHECK(sw::float_to_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81);  // just above half: up
  CHECK(sw::float_to_bf16(3.4e38f) == 0x7f80);                      // rounds past the largest: infinity
  CHECK(sw::float_to_bf16(-std::numeric_limits<float>::infinity()) == 0xff80);
  std::uint16_t nan = sw::float_to_bf16(std::bit_cast<float>(0x7f800001u));  // payload only in the low bits
  CHECK(std::isnan(sw::bf16_to_float(nan)));
  for (std::uint32_t c = 0; c < 65536; ++c) {
    auto b = static_cast<std::uint16_t>(c);
    float f = sw::bf16_to_float(b);
    if (!std::isnan(f)) CHECK(sw::float_to_bf16(f) == b);
  }
}

TEST_CASE("f8: known values of each encoding (OCP 8-bit floats, PyTorch's float8 types)") {
  auto nan = [](dtype t, std::uint8_t v) { return std::isnan(sw::f8_to_float(t, v)); };
  // e4m3fn: bias 7, max 448, NaN only at S.1111.111, no infinity.
  CHECK(sw::f8_to_float(dtype::F8_E4M3, 0x38) == 1.0f);
  CHECK(sw::f8_to_float(dtype::F8_E4M3, 0x7e) == 448.0f);
  CHECK(sw::f8_to_float(dtype::F8_E4M3, 0xfe) == -448.0f);
  CHECK(sw::f8_to_float(dtype::F8_E4M3, 0x01) == 0x1p-9f);
  CHECK(sw::f8_to_float(dtype::F8_E4M3, 0x78) == 256.0f);  // exponent 15 is a number here
  CHECK(nan(dtype::F8_E4M3, 0x7f));
  CHECK(nan(dtype::F8_E4M3, 0xff));
  // e5m2: bias 15, infinity and NaN at exponent 31.
  CHECK(sw::f8_to_float(dtype::F8_E5M2, 0x3c) == 1.0f);
  CHECK(sw::f8_to_float(dtype::F8_E5M2, 0x7b) == 57344.0f);
  CHECK(sw::f8_to_float(dtype::F8_E5M2, 0x01) == 0x1p-16f);
  CHECK(sw::f8_to_float(dtype::F8_E5M2, 0x7c) == std::numeric_limits<float>::infinity());
  CHECK(sw::f8_to_float(dtype::F8_E5M2, 0xfc) == -std::numeric_limits<float>::infinity());
  CHECK(nan(dtype::F8_E5M2, 0x7d));
  // e4m3fnuz: bias 8, max 240, 0x80 is the only NaN.
  CHECK(sw::f8_to_float(dtype::F8_E4M3FNUZ, 0x40) == 1.0f);
  CHECK(sw::f8_to_float(dtype::F8_E4M3FNUZ, 0x7f) == 240.0f);
  CHECK(sw::f8_to_float(dtype::F8_E4M3FNUZ, 0x01) == 0x1p-10f);
  CHECK(nan(dtype::F8_E4M3FNUZ, 0x80));
  CHECK(sw::f8_to_float(dtype::F8_E4M3FNUZ, 0xff) == -240.0f);
  // e5m2fnuz: bias 16, max 57344, 0x80 is the only NaN.
  CHECK(sw::f8_to_float(dtype::F8_E5M2FNUZ, 0x40) == 1.0f);
  CHECK(sw::f8_to_float(dtype::F8_E5M2FNUZ, 0x7f) == 57344.0f);
  CHECK(sw::f8_to_float(dtype::F8_E5M2FNUZ, 0x01) == 0x1p-17f);
  CHECK(nan(dtype::F8_E5M2FNUZ, 0x80));
  // e8m0: a power of two, 0xff is NaN.
  CHECK(sw::f8_to_float(dtype::F8_E8M0, 127) == 1.0f);
  CHECK(sw::f8_to_float(dtype::F8_E8M0, 0) == 0x1p-127f);
  CHECK(sw::f8_to_float(dtype::F8_E8M0, 254) == 0x1p127f);
  CHECK(nan(dtype::F8_E8M0, 0xff));
}

TEST_CASE("f8: each encoding is monotonic over its positive codes and symmetric in sign") {
  for (dtype t : {dtype::F8_E4M3, dtype::F8_E5M2, dtype::F8_E4M3FNUZ, dtype::F8_E5M2FNUZ}) {
    INFO(sw::dtype_name(t));
    float prev = -1;
    for (unsigned v = 0; v < 0x80; ++v) {
      float f = sw::f8_to_float(t, static_cast<std::uint8_t>(v));
      if (std::isnan(f)) continue;
      CHECK(f > prev);
      prev = f;
      if (v != 0) CHECK(sw::f8_to_float(t, static_cast<std::uint8_t>(v | 0x80)) == -f);
    }
  }
}

TEST_CASE("scalar_as_double reads every byte-aligned dtype at any alignment; C64 is two scalars") {
  std::vector<std::byte> buf(1 + 16);
  // The file's bytes: each scalar little-endian, whatever the host.
  auto put = [&](const auto* p, std::size_t n) {
    std::memcpy(buf.data() + 1, p, n);
    sw::detail::swap_scalars(buf.data() + 1, sw::host_is_big_endian ? n : 0, sizeof(*p));
  };
  const std::byte* at = buf.data() + 1;  // deliberately misaligned
  std::int16_t i16 = -300; put(&i16, 2); CHECK(*sw::scalar_as_double(dtype::I16, at, 0) == -300.0);
  std::uint32_t u32 = 4000000000u; put(&u32, 4); CHECK(*sw::scalar_as_double(dtype::U32, at, 0) == 4e9);
  std::int64_t i64 = -(std::int64_t{1} << 40); put(&i64, 8); CHECK(*sw::scalar_as_double(dtype::I64, at, 0) == -0x1p40);
  std::uint64_t u64 = ~std::uint64_t{0}; put(&u64, 8); CHECK(*sw::scalar_as_double(dtype::U64, at, 0) == 0x1p64);
  double f64 = -2.5; put(&f64, 8); CHECK(*sw::scalar_as_double(dtype::F64, at, 0) == -2.5);
  float c64[2] = {1.5f, -4.0f}; put(c64, 8);
  CHECK(*sw::scalar_as_double(dtype::C64, at, 0) == 1.5);
  CHECK(*sw::scalar_as_double(dtype::C64, at, 1) == -4.0);
  std::uint16_t h = 0x3c00; put(&h, 2); CHECK(*sw::scalar_as_double(dtype::F16, at, 0) == 1.0);
  std::uint16_t b = 0xbf80; put(&b, 2); CHECK(*sw::scalar_as_double(dtype::BF16, at, 0) == -1.0);
  std::uint8_t bytes[2] = {7, 0xff}; put(bytes, 2);
  CHECK(*sw::scalar_as_double(dtype::BOOL, at, 0) == 1.0);
  CHECK(*sw::scalar_as_double(dtype::I8, at, 1) == -1.0);
  CHECK(*sw::scalar_as_double(dtype::U8, at, 1) == 255.0);
  CHECK(*sw::scalar_as_double(dtype::F8_E8M0, at, 0) == 0x1p-120);
  CHECK_FALSE(sw::scalar_as_double(dtype::F4, at, 0).has_value());
  CHECK_FALSE(sw::scalar_as_double(dtype::F6_E2M3, at, 0).has_value());
  CHECK(sw::components_of(dtype::C64) == 2);
  CHECK(sw::components_of(dtype::F4) == 0);
  CHECK(sw::components_of(dtype::BF16) == 1);
  CHECK(sw::is_float_type(dtype::F8_E4M3));
  CHECK_FALSE(sw::is_float_type(dtype::I8));
  CHECK(sw::is_integer_type(dtype::U64));
  CHECK_FALSE(sw::is_integer_type(dtype::BOOL));
}
