// Vectorised element conversions (kernels/convert.hpp) against the scalar
// definitions in format/elements.hpp, bit for bit, on every instruction set
// this CPU has: all 65536 F16 and BF16 codes, all 256 codes of each F8
// encoding, every rounding boundary of float -> F16/BF16, integers and F64.
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "isa_support.hpp"
#include "safeweights/kernels/convert.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace kn = safeweights::kernels;
using sw::dtype;
using test_support::for_each_isa;

namespace {

std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

// Converts `values` (raw little-endian elements) at a deliberately odd byte
// offset, so unaligned sources are exercised too.
std::vector<float> to_f32_unaligned(dtype t, const std::vector<std::byte>& values, std::size_t n) {
  std::vector<std::byte> shifted(values.size() + 1);
  std::memcpy(shifted.data() + 1, values.data(), values.size());
  std::vector<float> out(n);
  kn::to_f32(t, shifted.data() + 1, out.data(), n);
  return out;
}

std::vector<std::byte> all_16bit_codes() {
  std::vector<std::byte> codes(65536 * 2);
  for (std::uint32_t c = 0; c < 65536; ++c) {
    auto h = static_cast<std::uint16_t>(c);
    std::memcpy(codes.data() + 2 * c, &h, 2);
  }
  return codes;
}

std::uint16_t u16_at(const std::vector<std::byte>& v, std::size_t i) {
  std::uint16_t h;
  std::memcpy(&h, v.data() + 2 * i, 2);
  return h;
}

// Floats at and around every rounding boundary of a 16-bit format whose
// codes decode with `decode`: each value, the halfway point to the next
// code, and the floats one ulp either side of that halfway point.
std::vector<float> boundary_floats(float (*decode)(std::uint16_t)) {
  std::vector<float> out;
  for (std::uint32_t c = 0; c < 0x7c00 || (decode == sw::bf16_to_float && c < 0x7f80); ++c) {
    float lo = decode(static_cast<std::uint16_t>(c)), hi = decode(static_cast<std::uint16_t>(c + 1));
    if (!std::isfinite(hi)) hi = lo * 2;  // past the largest finite code: overflow boundaries
    double mid = (static_cast<double>(lo) + hi) / 2;
    auto m = static_cast<float>(mid);
    for (float f : {lo, m, std::nextafter(m, 0.0f), std::nextafter(m, 1e30f)}) {
      out.push_back(f);
      out.push_back(-f);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("convert: every F16 and BF16 code to float equals the scalar conversion, NaN payloads included") {
  auto codes = all_16bit_codes();
  for_each_isa([&](kn::isa) {
    auto h = to_f32_unaligned(dtype::F16, codes, 65536);
    auto b = to_f32_unaligned(dtype::BF16, codes, 65536);
    std::size_t bad_f16 = 0, bad_bf16 = 0;
    for (std::size_t c = 0; c < 65536; ++c) {
      bad_f16 += bits(h[c]) != bits(sw::f16_to_float(u16_at(codes, c)));
      bad_bf16 += bits(b[c]) != bits(sw::bf16_to_float(u16_at(codes, c)));
    }
    CHECK(bad_f16 == 0);
    CHECK(bad_bf16 == 0);
  });
}

TEST_CASE("convert: float to F16 and BF16 rounds as the scalar conversion at every rounding boundary") {
  std::vector<float> values = boundary_floats(sw::f16_to_float);
  auto more = boundary_floats(sw::bf16_to_float);
  values.insert(values.end(), more.begin(), more.end());
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::uint32_t> any;
  for (int i = 0; i < 200000; ++i) values.push_back(std::bit_cast<float>(any(rng)));  // NaNs with payloads too
  for (std::uint32_t nan : {0x7f800001u, 0x7fc00000u, 0xffbfffffu, 0x7f802000u, 0x7fffffffu})
    values.push_back(std::bit_cast<float>(nan));
  values.push_back(std::numeric_limits<float>::infinity());
  values.push_back(-std::numeric_limits<float>::infinity());
  const std::size_t n = values.size();
  for_each_isa([&](kn::isa) {
    std::vector<std::byte> f16(2 * n + 1), bf16(2 * n + 1);
    kn::f32_to_f16(values.data(), f16.data() + 1, n);  // odd destination address too
    kn::f32_to_bf16(values.data(), bf16.data(), n);
    std::size_t bad_f16 = 0, bad_bf16 = 0;
    for (std::size_t i = 0; i < n; ++i) {
      std::uint16_t h, b;
      std::memcpy(&h, f16.data() + 1 + 2 * i, 2);
      std::memcpy(&b, bf16.data() + 2 * i, 2);
      if (h != sw::float_to_f16(values[i]) && bad_f16++ < 5) INFO("f16 of ", bits(values[i]));
      if (b != sw::float_to_bf16(values[i]) && bad_bf16++ < 5) INFO("bf16 of ", bits(values[i]));
    }
    CHECK(bad_f16 == 0);
    CHECK(bad_bf16 == 0);
  });
}

TEST_CASE("convert: all 256 codes of each F8 encoding equal the scalar conversion") {
  std::vector<std::byte> codes(256);
  for (unsigned v = 0; v < 256; ++v) codes[v] = static_cast<std::byte>(v);
  for_each_isa([&](kn::isa) {
    for (dtype t : {dtype::F8_E4M3, dtype::F8_E5M2, dtype::F8_E4M3FNUZ, dtype::F8_E5M2FNUZ, dtype::F8_E8M0}) {
      INFO(sw::dtype_name(t));
      auto out = to_f32_unaligned(t, codes, 256);
      std::size_t bad = 0;
      for (unsigned v = 0; v < 256; ++v) bad += bits(out[v]) != bits(sw::f8_to_float(t, static_cast<std::uint8_t>(v)));
      CHECK(bad == 0);
    }
  });
}

TEST_CASE("convert: integers, BOOL and F64 to float round as static_cast does, every length's tail included") {
  std::mt19937_64 rng(11);
  std::vector<std::byte> raw(8 * 67);
  for (auto& b : raw) b = static_cast<std::byte>(rng());
  // Edge values at the start of the buffer, as each width reads them.
  std::uint32_t u32_edges[] = {0xffffffffu, 0x80000000u, 16777217u, 0x7fffff80u};
  std::memcpy(raw.data(), u32_edges, sizeof u32_edges);
  for_each_isa([&](kn::isa) {
    for (dtype t : {dtype::U8, dtype::I8, dtype::U16, dtype::I16, dtype::I32, dtype::U32, dtype::I64, dtype::U64,
                    dtype::F64, dtype::BOOL, dtype::F32}) {
      INFO(sw::dtype_name(t));
      for (std::size_t n : {1u, 7u, 8u, 9u, 16u, 67u}) {
        if (n * sw::byte_width(t) > raw.size()) continue;
        auto out = to_f32_unaligned(t, raw, n);
        std::size_t bad = 0;
        for (std::size_t i = 0; i < n; ++i) {
          double want = *sw::scalar_as_double(t, raw.data(), i);
          float expect = static_cast<float>(want);
          if (t == dtype::F32) expect = static_cast<float>(want);
          bad += bits(out[i]) != bits(expect) && !(std::isnan(out[i]) && std::isnan(expect));
        }
        CHECK(bad == 0);
      }
    }
  });
}

TEST_CASE("convert: convert() goes through float for F16 <-> BF16 and copies equal dtypes") {
  std::vector<float> values = {1.0f, -2.5f, 0x1p-20f, 65504.0f, 3.14159f, 1e-8f, -0.0f, 100.25f, 7.0f};
  std::vector<std::byte> f16(values.size() * 2), bf16(values.size() * 2), back(values.size() * 2);
  kn::f32_to_f16(values.data(), f16.data(), values.size());
  kn::convert(dtype::F16, f16.data(), dtype::BF16, bf16.data(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint16_t h, b;
    std::memcpy(&h, f16.data() + 2 * i, 2);
    std::memcpy(&b, bf16.data() + 2 * i, 2);
    CHECK(b == sw::float_to_bf16(sw::f16_to_float(h)));
  }
  kn::convert(dtype::BF16, bf16.data(), dtype::BF16, back.data(), values.size());
  CHECK(back == bf16);
  CHECK(kn::converts_to_f32(dtype::F8_E4M3));
  CHECK_FALSE(kn::converts_to_f32(dtype::C64));
  CHECK_FALSE(kn::converts_to_f32(dtype::F4));
}

TEST_CASE("isa: the detected path can be forced down to the baseline and back, never above the CPU") {
  kn::isa best = kn::detected_isa();
  CHECK(kn::force_isa(kn::isa::baseline));
  CHECK(kn::active_isa() == kn::isa::baseline);
  CHECK(kn::force_isa(best));
  CHECK(kn::active_isa() == best);
  if (best == kn::isa::baseline) CHECK_FALSE(kn::force_isa(kn::isa::avx2));
  CHECK(kn::parse_isa("avx2") == kn::isa::avx2);
  CHECK_FALSE(kn::parse_isa("avx512").has_value());
}
