// The writer: canonical bytes, every dtype round trip, random tensor sets read
// back identically, streaming, aligned mode, and atomic replace under failure.
#ifndef _WIN32
#include <sys/stat.h>
#endif

#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "safeweights/safeweights.hpp"
#include "support.hpp"

namespace sw = safeweights;
using test_support::scratch_dir;

namespace {

std::vector<std::byte> random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

// An element count that makes whole bytes for every dtype (F6 needs 4 | n, F4 2 | n).
std::uint64_t whole_byte_count(std::mt19937_64& rng) { return 4 * (rng() % 6); }

std::string json_of(const sw::writer& w) { return w.header().value(); }

}  // namespace

TEST_CASE("W1: every dtype round-trips through a file with its bytes, dtype and shape") {
  scratch_dir dir;
  std::mt19937_64 rng(1);
  for (std::size_t i = 0; i < sw::dtype_count; ++i) {
    auto type = static_cast<sw::dtype>(i);
    CAPTURE(std::string(sw::dtype_name(type)));
    std::vector<std::uint64_t> shape = {2, 4};
    auto bytes = random_bytes(rng, 8 * sw::bit_width(type) / 8);
    std::vector<std::byte> scalar_bytes(sw::bit_width(type) % 8 == 0 ? sw::bit_width(type) / 8 : 0);
    sw::writer w;
    REQUIRE(w.add("t", type, shape, bytes));
    REQUIRE(w.add("empty", type, {0, 3}, {}));
    if (!scalar_bytes.empty()) REQUIRE(w.add("scalar", type, {}, scalar_bytes));
    auto path = (dir / ("dtype_" + std::string(sw::dtype_name(type)) + ".safetensors")).string();
    REQUIRE(w.write_file(path));
    auto rd = sw::open(path);
    auto t = rd.tensor("t").value();
    CHECK(t.type() == type);
    CHECK(std::vector<std::uint64_t>(t.shape().begin(), t.shape().end()) == shape);
    CHECK(std::equal(t.bytes().begin(), t.bytes().end(), bytes.begin(), bytes.end()));
    CHECK(rd.tensor("empty").value().elements() == 0);
    CHECK((rd.find("scalar") != nullptr) == !scalar_bytes.empty());
  }
}

TEST_CASE("W2: canonical order is dtype rank descending, then name bytewise") {
  std::vector<std::byte> four(4), two(2), one(1);
  sw::writer w;
  REQUIRE(w.add("b", sw::dtype::U8, {1}, one));
  REQUIRE(w.add("a", sw::dtype::U8, {1}, one));
  REQUIRE(w.add("z", sw::dtype::F32, {1}, four));
  REQUIRE(w.add("\xc3\xa9", sw::dtype::F16, {1}, two));  // 0xC3 sorts after ASCII
  REQUIRE(w.add("e", sw::dtype::F16, {1}, two));
  std::string expect =
      "{\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"e\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6]},"
      "\"\xc3\xa9\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[6,8]},"
      "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[8,9]},"
      "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9,10]}}";
  expect.append((8 - expect.size() % 8) % 8, ' ');
  CHECK(json_of(w) == expect);
}

TEST_CASE("W3: names and metadata are escaped exactly as serde_json escapes them") {
  sw::writer w;
  std::string name = std::string("q\"b\\s\b\f\n\r\t") + '\x01' + '\x1f' + '\x7f' + "\xe2\x98\x83";
  REQUIRE(w.add(name, sw::dtype::U8, {0}, {}));
  w.set_metadata("k\x02", "v\"");
  std::string expect = "{\"__metadata__\":{\"k\\u0002\":\"v\\\"\"},"
                       "\"q\\\"b\\\\s\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xe2\x98\x83\":"
                       "{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}";
  expect.append((8 - expect.size() % 8) % 8, ' ');
  CHECK(json_of(w) == expect);
  // And it reads back to the same strings.
  auto bytes = w.serialize().value();
  auto rd = sw::reader::from_buffer(bytes).value();
  CHECK(rd.tensors()[0].name == name);
  CHECK(rd.metadata_value("k\x02") == std::optional<std::string_view>("v\""));
}

TEST_CASE("W4: metadata keeps the order given; setting a key again keeps its place") {
  sw::writer w;
  w.set_metadata("zeta", "1");
  w.set_metadata("alpha", "2");
  w.set_metadata("mid", "3");
  w.set_metadata("zeta", "4");
  auto bytes = w.serialize().value();
  auto rd = sw::reader::from_buffer(bytes).value();
  REQUIRE(rd.metadata().size() == 3);
  CHECK(rd.metadata()[0].key == "zeta");
  CHECK(rd.metadata()[0].value == "4");
  CHECK(rd.metadata()[1].key == "alpha");
  CHECK(rd.metadata()[2].key == "mid");
}

TEST_CASE("W5: no metadata, empty metadata and no tensors are told apart") {
  sw::writer none;
  CHECK(json_of(none) == "{}      ");
  sw::writer empty;
  empty.enable_metadata();
  CHECK(json_of(empty) == "{\"__metadata__\":{}}     ");
  auto a = sw::reader::from_buffer(none.serialize().value());
  REQUIRE(a);
  CHECK_FALSE(a->has_metadata());
  auto bytes = empty.serialize().value();
  auto b = sw::reader::from_buffer(bytes);
  REQUIRE(b);
  CHECK(b->has_metadata());
  CHECK(b->metadata().empty());
}

TEST_CASE("W6: random tensor sets are read back identically and re-serialize to the same bytes") {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    CAPTURE(round);
    std::map<std::string, std::tuple<sw::dtype, std::vector<std::uint64_t>, std::vector<std::byte>>> want;
    sw::writer w;
    int count = static_cast<int>(rng() % 20);
    for (int i = 0; i < count; ++i) {
      std::string name;
      int len = static_cast<int>(rng() % 12);
      for (int c = 0; c < len; ++c) {
        // ASCII including control characters, quotes and backslashes, plus some UTF-8.
        if (rng() % 10 == 0) name += "\xc3\xbc";
        else name += static_cast<char>(rng() % 0x80);
      }
      name += std::to_string(i);  // unique
      auto type = static_cast<sw::dtype>(rng() % sw::dtype_count);
      std::vector<std::uint64_t> shape;
      int rank = static_cast<int>(rng() % 4);
      std::uint64_t elements = 1;
      for (int d = 0; d < rank; ++d) {
        shape.push_back(rng() % 4);
        elements *= shape.back();
      }
      if (elements * sw::bit_width(type) % 8 != 0) {  // make sub-byte types whole
        shape = {whole_byte_count(rng)};
        elements = shape[0];
      }
      auto bytes = random_bytes(rng, elements * sw::bit_width(type) / 8);
      want[name] = {type, shape, bytes};
    }
    for (auto& [name, t] : want) REQUIRE(w.add(name, std::get<0>(t), std::get<1>(t), std::get<2>(t)));
    int meta = static_cast<int>(rng() % 4);
    for (int m = 0; m < meta; ++m) w.set_metadata("key" + std::to_string(m) + "\n\"", std::string(m, '\\'));

    auto bytes = w.serialize().value();
    auto rd = sw::reader::from_buffer(bytes).value();
    CHECK(rd.index().header_size() % 8 == 0);
    REQUIRE(rd.tensors().size() == want.size());
    for (auto& info : rd.tensors()) {
      auto it = want.find(std::string(info.name));
      REQUIRE(it != want.end());
      auto& [type, shape, data] = it->second;
      CHECK(info.type == type);
      CHECK(std::vector<std::uint64_t>(info.shape.begin(), info.shape.end()) == shape);
      auto view = rd.tensor(info).value();
      CHECK(std::equal(view.bytes().begin(), view.bytes().end(), data.begin(), data.end()));
    }
    CHECK(rd.metadata().size() == static_cast<std::size_t>(meta));
    // File order is canonical order.
    for (std::size_t i = 1; i < rd.tensors().size(); ++i) {
      auto& a = rd.tensors()[i - 1];
      auto& b = rd.tensors()[i];
      CHECK((sw::rank_of(a.type) > sw::rank_of(b.type) || (a.type == b.type && a.name < b.name)));
    }
    // Reading and writing again is the identity on bytes.
    sw::writer again;
    for (auto& info : rd.tensors()) REQUIRE(again.add(rd.tensor(info).value()));
    if (rd.has_metadata()) again.enable_metadata();
    for (auto& m : rd.metadata()) again.set_metadata(std::string(m.key), std::string(m.value));
    CHECK(again.serialize().value() == bytes);
  }
}

TEST_CASE("W7: the writer refuses what no reader would accept") {
  sw::writer w;
  std::vector<std::byte> four(4);
  REQUIRE(w.add("x", sw::dtype::F32, {1}, four));
  CHECK(w.add("x", sw::dtype::F32, {1}, four).code() == sw::errc::duplicate_key);
  CHECK(w.add("y", sw::dtype::F32, {2}, four).code() == sw::errc::size_mismatch);
  CHECK(w.add("f4", sw::dtype::F4, {3}, four).code() == sw::errc::subbyte_misaligned);
  CHECK(w.add("__metadata__", sw::dtype::U8, {4}, four).code() == sw::errc::invalid_argument);
  CHECK(w.add("big", sw::dtype::U8, {1ull << 40, 1ull << 40}, four).code() == sw::errc::size_overflow);
  CHECK(w.add_stream("nosrc", sw::dtype::U8, {4}, nullptr).code() == sw::errc::invalid_argument);
  CHECK(w.size() == 1);  // failed adds leave nothing behind
}

TEST_CASE("W8: streamed tensors arrive in chunks no larger than asked and land intact") {
  scratch_dir dir;
  const std::size_t n = (std::size_t{8} << 20) + 12345;
  std::size_t produced = 0, largest = 0, calls = 0;
  sw::writer w;
  REQUIRE(w.add_stream("stream", sw::dtype::U8, {n}, [&](std::span<std::byte> dst) {
    largest = std::max(largest, dst.size());
    ++calls;
    for (std::size_t i = 0; i < dst.size(); ++i) dst[i] = static_cast<std::byte>((produced + i) * 31 % 251);
    produced += dst.size();
    return dst.size();
  }));
  std::vector<std::byte> small(16, std::byte{7});
  REQUIRE(w.add("small", sw::dtype::U8, {16}, small));
  sw::write_options o;
  o.chunk_bytes = 1 << 20;
  auto path = (dir / "stream.safetensors").string();
  REQUIRE(w.write_file(path, o));
  CHECK(largest <= o.chunk_bytes);
  CHECK(calls >= 9);
  auto rd = sw::open(path);
  auto t = rd.tensor("stream").value();
  REQUIRE(t.bytes().size() == n);
  bool same = true;
  for (std::size_t i = 0; i < n; ++i) same &= t.bytes()[i] == static_cast<std::byte>(i * 31 % 251);
  CHECK(same);
}

TEST_CASE("W9: aligned mode starts the data on a 64-byte boundary and stays valid") {
  std::vector<float> values(10, 1.5f);
  sw::writer w;
  REQUIRE(w.add<float>("w", {10}, values));
  w.set_metadata("a", "b");
  sw::write_options o;
  o.align_data = true;
  auto bytes = w.serialize(o).value();
  auto rd = sw::reader::from_buffer(bytes).value();
  CHECK(rd.index().data_offset() % 64 == 0);
  CHECK(rd.index().header_size() % 8 == 0);
  CHECK(rd.tensor("w").value().typed<float>().value()[9] == 1.5f);
  // Without the option the canonical header is shorter.
  CHECK(w.serialize().value().size() < bytes.size());
}

TEST_CASE("W10: atomic replace: a failing source leaves the old file whole and no temporary") {
  scratch_dir dir;
  auto path = (dir / "model.safetensors").string();
  std::vector<std::byte> old_bytes(100, std::byte{1});
  sw::writer first;
  REQUIRE(first.add("old", sw::dtype::U8, {100}, old_bytes));
  REQUIRE(first.write_file(path));
  auto before = test_support::read_bytes(path);

  SUBCASE("the source stops early") {
    sw::writer w;
    std::size_t given = 0;
    REQUIRE(w.add_stream("t", sw::dtype::U8, {std::uint64_t{4} << 20}, [&](std::span<std::byte> dst) -> std::size_t {
      if (given > (std::size_t{1} << 20)) return 0;
      std::fill(dst.begin(), dst.end(), std::byte{9});
      given += dst.size();
      return dst.size();
    }));
    sw::write_options o;
    o.chunk_bytes = 64 << 10;
    auto r = w.write_file(path, o);
    CHECK(r.code() == sw::errc::stream_failed);
    CHECK(r.error_value().message.find(path) != std::string::npos);
  }
  SUBCASE("the source throws") {
    sw::writer w;
    REQUIRE(w.add_stream("t", sw::dtype::U8, {1000}, [](std::span<std::byte>) -> std::size_t {
      throw std::runtime_error("disk of the producer failed");
    }));
    CHECK_THROWS_AS((void)w.write_file(path), std::runtime_error);
  }
  SUBCASE("the source overruns its buffer") {
    sw::writer w;
    REQUIRE(w.add_stream("t", sw::dtype::U8, {1000}, [](std::span<std::byte> dst) { return dst.size() + 1; }));
    CHECK(w.write_file(path).code() == sw::errc::stream_failed);
  }
  CHECK(test_support::read_bytes(path) == before);
  CHECK(dir.entries() == 1);  // only the target: no stray temporary
}

#ifndef _WIN32
// Windows refuses to replace a mapped file: test_platform.cpp checks that the
// write then fails cleanly and the old file stays whole.
TEST_CASE("W11: replacing a file never disturbs a reader that has it mapped") {
  scratch_dir dir;
  auto path = (dir / "model.safetensors").string();
  std::vector<float> a(1000, 1.0f), b(2000, 2.0f);
  sw::writer w1;
  REQUIRE(w1.add<float>("x", {1000}, a));
  REQUIRE(w1.write_file(path));
  auto old_reader = sw::open(path);
  auto old_view = old_reader.tensor("x").value();
  sw::writer w2;
  REQUIRE(w2.add<float>("x", {2000}, b));
  REQUIRE(w2.write_file(path));
  // The old mapping still shows the old, complete contents (no SIGBUS, no mix).
  auto old_values = old_view.typed<float>().value();  // in place (a swapped copy on a big-endian host)
  CHECK(old_values.size() == 1000);
  CHECK(old_values[999] == 1.0f);
  auto fresh = sw::open(path);
  CHECK(fresh.tensor("x").value().typed<float>().value().size() == 2000);
}
#endif

TEST_CASE("W12: writing where no file can be created fails cleanly") {
  scratch_dir dir;
  sw::writer w;
  auto r = w.write_file((dir / "missing-dir" / "x.safetensors").string());
  CHECK(r.code() == sw::errc::write_failed);
  CHECK(r.error_value().message.find("missing-dir") != std::string::npos);
  CHECK(dir.entries() == 0);
}

#ifndef _WIN32  // POSIX permission bits
TEST_CASE("W13: a new file gets the usual permissions, a replaced one keeps its own") {
  scratch_dir dir;
  auto path = (dir / "p.safetensors").string();
  sw::writer w;
  REQUIRE(w.write_file(path));
  mode_t mask = ::umask(0);
  ::umask(mask);
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == (0666 & ~mask));
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  REQUIRE(w.write_file(path));
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}
#endif

TEST_CASE("W-floats: floats stored as BF16, F16 or F64 round to nearest even, as every write of the file") {
  // Values at and around the rounding points: ties go to even, NaN stays NaN, overflow is infinity in F16.
  const float tie_down = sw::bf16_to_float(0x3F80) + std::ldexp(1.0f, -8);   // halfway 1.0 .. next: to 1.0
  const float tie_up = sw::bf16_to_float(0x3F81) + std::ldexp(1.0f, -8);     // halfway, odd below: up
  std::vector<float> values{0.0f, -0.0f, 1.0f, tie_down, tie_up, 3.14159265f, -65504.0f, 1e6f,
                            std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::denorm_min(), 6.1e-5f};
  sw::writer w;
  const std::uint64_t n = values.size();
  REQUIRE(w.add("bf16", sw::dtype::BF16, {n}, values));
  REQUIRE(w.add("f16", sw::dtype::F16, {2, n / 2}, values));
  REQUIRE(w.add("f64", sw::dtype::F64, {n}, values));
  REQUIRE(w.add("f32", sw::dtype::F32, {n}, values));
  auto first = w.serialize().value();
  CHECK(w.serialize().value() == first);  // converted again, the same bytes
  auto r = sw::reader::from_buffer(first).value();
  auto bits16 = [&](const char* name) {
    auto v = r.tensor(name).value();
    std::vector<std::uint16_t> out(v.elements());
    std::memcpy(out.data(), v.bytes().data(), v.bytes().size());
    for (auto& x : out) x = sw::from_little(x);  // the file's bytes are little-endian
    return out;
  };
  std::vector<std::uint16_t> bf16 = bits16("bf16"), f16 = bits16("f16");
  for (std::size_t i = 0; i < values.size(); ++i) {
    CAPTURE(i);
    CHECK(bf16[i] == sw::float_to_bf16(values[i]));
    CHECK(f16[i] == sw::float_to_f16(values[i]));
  }
  CHECK(bf16[3] == 0x3F80);  // the tie rounds down to even
  CHECK(bf16[4] == 0x3F82);  // and up to even
  CHECK(f16[7] == 0x7C00);   // 1e6 is past F16's range: infinity
  std::vector<float> back = r.tensor("f64").value().to_floats().value();
  CHECK(std::memcmp(back.data(), values.data(), 9 * sizeof(float)) == 0);  // exact (NaN aside)
  CHECK(std::isnan(back[9]));

  // Only float dtypes, and the count the shape needs.
  auto wrong_type = w.add("ints", sw::dtype::I32, {n}, values);
  CHECK(wrong_type.code() == sw::errc::invalid_argument);
  CHECK(wrong_type.error_value().message == "tensor `ints`: floats are written as F32, F64, F16 or BF16, not I32");
  auto short_of = w.add("short", sw::dtype::BF16, {n + 1}, values);
  CHECK(short_of.code() == sw::errc::size_mismatch);
  CHECK(short_of.error_value().message == "tensor `short`: shape needs 13 values, 12 given");
  CHECK(w.size() == 4);
}

TEST_CASE("W-floats: a BF16 tensor of many chunks written from floats reads back as their rounding") {
  scratch_dir dir;
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> values(100'003);
  for (float& v : values) v = normal(rng);
  sw::writer w;
  REQUIRE(w.add("emb", sw::dtype::BF16, {values.size()}, values));
  const std::string path = (dir / "bf16.safetensors").string();
  REQUIRE(w.write_file(path));
  std::vector<float> back = sw::open(path).tensor("emb").value().to_floats().value();
  REQUIRE(back.size() == values.size());
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < values.size(); ++i) wrong += back[i] != sw::bf16_to_float(sw::float_to_bf16(values[i]));
  CHECK(wrong == 0);
}
