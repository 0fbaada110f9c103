// load_state_dict / save_state_dict / check_state_dict (nn/state_dict.hpp):
// strict and non-strict, prefixes, renames, ignored keys, dtype policies,
// every problem reported at once, nothing half-loaded, progress and
// cancelling, zero copy where possible, save then load bit for bit.
#include <cstring>
#include <memory>
#include <vector>

#include "safeweights/nn/layers/embedding.hpp"
#include "safeweights/nn/layers/linear.hpp"
#include "safeweights/nn/state_dict.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace nn = safeweights::nn;
using sw::dtype;
using sw::errc;

namespace {

// encoder.fc [3 -> 4], encoder.scale (buffer), head [4 -> 2] without bias, steps (I64 buffer).
struct small_model : nn::module {
  struct encoder_t : nn::module {
    nn::linear fc{3, 4};
    nn::tensor scale;
    encoder_t() {
      register_module("fc", fc);
      register_buffer("scale", scale, nn::tensor::zeros(dtype::F32, {4}));
    }
  } encoder;
  nn::linear head{4, 2, false};
  nn::tensor steps, scratch;
  small_model() {
    register_module("encoder", encoder);
    register_module("head", head);
    register_buffer("steps", steps, nn::tensor::zeros(dtype::I64, {1}));
    register_buffer("scratch", scratch, nn::tensor::zeros(dtype::F32, {2}), false);  // not persistent
  }
};

std::vector<float> iota(std::size_t n, float start) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

// A file with the tensors small_model wants (optionally under a prefix, in another dtype).
struct file_maker {
  sw::writer w;
  std::vector<std::vector<std::byte>> keep;
  template <class T>
  void add(const std::string& name, std::vector<std::uint64_t> shape, const std::vector<T>& values) {
    keep.emplace_back(values.size() * sizeof(T));
    std::memcpy(keep.back().data(), values.data(), keep.back().size());
    REQUIRE(w.add(name, sw::dtype_of_v<T>, std::move(shape), keep.back()));
  }
  void add_bf16(const std::string& name, std::vector<std::uint64_t> shape, const std::vector<float>& values) {
    keep.emplace_back(values.size() * 2);
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::uint16_t b = sw::float_to_bf16(values[i]);
      std::memcpy(keep.back().data() + 2 * i, &b, 2);
    }
    REQUIRE(w.add(name, dtype::BF16, std::move(shape), keep.back()));
  }
  void full(const std::string& prefix = "") {
    add(prefix + "encoder.fc.weight", {4, 3}, iota(12, 1));
    add(prefix + "encoder.fc.bias", {4}, iota(4, 100));
    add(prefix + "encoder.scale", {4}, iota(4, 200));
    add(prefix + "head.weight", {2, 4}, iota(8, 300));
    add(prefix + "steps", {1}, std::vector<std::int64_t>{7});
  }
  std::string write(const test_support::scratch_dir& dir, const std::string& name) {
    std::string path = (dir / name).string();
    REQUIRE(w.write_file(path));
    return path;
  }
};

bool untouched(small_model& m) {
  for (const auto& t : m.state())
    for (std::byte b : t.value->bytes())
      if (b != std::byte{0}) return false;
  return true;
}

}  // namespace

TEST_CASE("module: dotted names depth first; buffers persistent or not; bad names refused") {
  small_model m;
  std::vector<std::string> names;
  for (const auto& t : m.state()) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"steps", "encoder.scale", "encoder.fc.weight", "encoder.fc.bias", "head.weight"});
  CHECK(m.named_parameters().size() == 3);
  CHECK(m.named_buffers().size() == 3);  // scratch too
  CHECK(m.parameter_count() == 12 + 4 + 8);
  CHECK(m.named_modules().size() == 4);
  CHECK(m.named_modules()[2].first == "encoder.fc");
  struct bad : nn::module {
    nn::tensor a;
    explicit bad(const char* name) { register_buffer(name, a, nn::tensor::zeros(dtype::F32, {1})); }
  };
  CHECK_THROWS_AS(bad("a.b"), sw::exception);
  CHECK_THROWS_AS(bad(""), sw::exception);
  struct twice : nn::module {
    nn::tensor a, b;
    twice() {
      register_buffer("a", a, nn::tensor::zeros(dtype::F32, {1}));
      register_buffer("a", b, nn::tensor::zeros(dtype::F32, {1}));
    }
  };
  CHECK_THROWS_AS(twice(), sw::exception);
}

TEST_CASE("load_state_dict: strict load of a matching file; F32 tensors borrow the mapping, I64 too") {
  test_support::scratch_dir dir;
  file_maker f;
  f.full();
  std::string path = f.write(dir, "m.safetensors");
  small_model m;
  auto report = nn::load_state_dict(m, path);
  REQUIRE(report);
  CHECK(report->loaded == 5);
  CHECK(report->zero_copy == 5);
  CHECK(report->missing_keys.empty());
  CHECK(report->unexpected_keys.empty());
  CHECK(m.encoder.fc.weight.is_borrowed());
  CHECK(m.encoder.fc.weight.f32()[11] == 12.0f);
  CHECK(m.head.weight.f32()[0] == 300.0f);
  std::int64_t steps;
  std::memcpy(&steps, m.steps.data(), 8);
  CHECK(steps == 7);
  // The module's tensors keep the mapping alive after the checkpoint is gone;
  // writing to one copies it first (the file is mapped read-only).
  m.encoder.fc.weight.mutable_f32()[0] = -1.0f;
  CHECK_FALSE(m.encoder.fc.weight.is_borrowed());
  auto again = sw::open(path);
  CHECK(again.tensor("encoder.fc.weight").value().typed<float>().value()[0] == 1.0f);
}

TEST_CASE("load_state_dict: strict mode lists every missing, unexpected and mismatched key at once; the module is unchanged") {
  test_support::scratch_dir dir;
  file_maker f;
  f.add("encoder.fc.weight", {3, 4}, iota(12, 1));  // transposed: a shape mismatch
  f.add("encoder.fc.bias", {4}, iota(4, 100));
  f.add("extra.thing", {1}, iota(1, 0));
  f.add("another", {1}, iota(1, 0));
  std::string path = f.write(dir, "bad.safetensors");
  small_model m;
  auto r = nn::load_state_dict(m, path);
  REQUIRE(r.code() == errc::state_dict_mismatch);
  const std::string& msg = r.error_value().message;
  INFO(msg);
  CHECK(msg.find(path) == 0);
  CHECK(msg.find("missing key(s): `steps`, `encoder.scale`, `head.weight`") != std::string::npos);
  CHECK(msg.find("unexpected key(s): `another`, `extra.thing`") != std::string::npos);
  CHECK(msg.find("size mismatch for `encoder.fc.weight`: the file has [3, 4], the module has [4, 3]") != std::string::npos);
  CHECK(untouched(m));  // encoder.fc.bias fitted, but nothing was poured
  // The report without loading.
  auto file = nn::checkpoint::open(path).value();
  nn::load_report report = nn::check_state_dict(m, file);
  CHECK(report.missing_keys.size() == 3);
  CHECK(report.unexpected_keys.size() == 2);
  CHECK(report.shape_mismatches.size() == 1);
  CHECK(report.loaded == 1);
  CHECK_FALSE(report.fits(true));
  CHECK_FALSE(report.fits(false));  // a shape mismatch fails in either mode
}

TEST_CASE("load_state_dict: non-strict loads what fits and reports the rest") {
  test_support::scratch_dir dir;
  file_maker f;
  f.add("encoder.fc.bias", {4}, iota(4, 100));
  f.add("unused", {2}, iota(2, 0));
  std::string path = f.write(dir, "part.safetensors");
  small_model m;
  nn::load_options o;
  o.strict = false;
  auto r = nn::load_state_dict(m, path, o);
  REQUIRE(r);
  CHECK(r->loaded == 1);
  CHECK(r->missing_keys.size() == 4);
  CHECK(r->unexpected_keys == std::vector<std::string>{"unused"});
  CHECK(m.encoder.fc.bias.f32()[3] == 103.0f);
  CHECK(m.encoder.fc.weight.f32()[0] == 0.0f);  // missing: left as it was
}

TEST_CASE("load_state_dict: prefix strip and add, rename hook, ignored patterns") {
  test_support::scratch_dir dir;
  file_maker f;
  f.full("model.");
  f.add("model.h.0.attn.bias", {1}, iota(1, 0));
  f.add("model.h.12.attn.bias", {1}, iota(1, 0));
  f.add("model.h.x.y.attn.bias", {1}, iota(1, 0));  // '*' is one segment: not ignored
  std::string path = f.write(dir, "prefixed.safetensors");
  small_model m;
  nn::load_options o;
  o.strip_prefix = "model.";
  o.ignore_unexpected = {"h.*.attn.bias"};
  auto strict = nn::load_state_dict(m, path, o);
  REQUIRE(strict.code() == errc::state_dict_mismatch);
  CHECK(strict.error_value().message.find("unexpected key(s): `h.x.y.attn.bias`") != std::string::npos);
  o.ignore_unexpected.push_back("h.*.*.attn.bias");
  auto ok = nn::load_state_dict(m, path, o);
  REQUIRE(ok);
  CHECK(ok->ignored_keys.size() == 3);
  CHECK(ok->loaded == 5);

  // Add a prefix: the file's names gain "encoder.", then a rename maps and drops.
  file_maker g;
  g.add("fc.weight", {4, 3}, iota(12, 1));
  g.add("fc.b", {4}, iota(4, 100));
  g.add("drop.me", {1}, iota(1, 0));
  std::string other = g.write(dir, "renamed.safetensors");
  small_model n;
  nn::load_options p;
  p.strict = false;
  p.add_prefix = "encoder.";
  p.rename = [](std::string_view name) -> std::optional<std::string> {
    if (name == "encoder.drop.me") return std::nullopt;
    if (name == "encoder.fc.b") return std::string("encoder.fc.bias");
    return std::string(name);
  };
  auto r = nn::load_state_dict(n, other, p);
  REQUIRE(r);
  CHECK(r->loaded == 2);
  CHECK(r->ignored_keys == std::vector<std::string>{"encoder.drop.me"});
  CHECK(n.encoder.fc.bias.f32()[0] == 100.0f);
  // Two file names mapped to one module name: always an error.
  p.rename = [](std::string_view) -> std::optional<std::string> { return std::string("encoder.scale"); };
  p.add_prefix.clear();
  auto dup = nn::load_state_dict(n, other, p);
  CHECK(dup.code() == errc::state_dict_mismatch);
  CHECK(dup.error_value().message.find("more than one file tensor maps") != std::string::npos);
}

TEST_CASE("load_state_dict: dtype policies convert (BF16 -> F32, F32 -> BF16) or keep; impossible conversions fail") {
  test_support::scratch_dir dir;
  file_maker f;
  f.add_bf16("encoder.fc.weight", {4, 3}, iota(12, 1));
  f.add("encoder.fc.bias", {4}, iota(4, 100));
  f.add("encoder.scale", {4}, iota(4, 200));
  f.add("head.weight", {2, 4}, iota(8, 300));
  f.add("steps", {1}, std::vector<std::int64_t>{7});
  std::string path = f.write(dir, "mixed.safetensors");
  {
    small_model m;  // as declared: F32 everywhere, so the BF16 weight is converted
    auto r = nn::load_state_dict(m, path);
    REQUIRE(r);
    CHECK(r->conversions.size() == 1);
    CHECK(r->conversions[0].from == dtype::BF16);
    CHECK(m.encoder.fc.weight.type() == dtype::F32);
    CHECK(m.encoder.fc.weight.f32()[5] == 6.0f);
    CHECK(r->zero_copy == 4);
  }
  {
    small_model m;
    nn::load_options o;
    o.dtypes = nn::dtype_policy::keep;
    auto r = nn::load_state_dict(m, path, o);
    REQUIRE(r);
    CHECK(r->conversions.empty());
    CHECK(m.encoder.fc.weight.type() == dtype::BF16);
    CHECK(m.encoder.fc.weight.is_borrowed());
    CHECK(m.steps.type() == dtype::I64);  // integers keep their declared type
  }
  {
    small_model m;
    nn::load_options o;
    o.dtypes = nn::dtype_policy::bf16;
    auto r = nn::load_state_dict(m, path, o);
    REQUIRE(r);
    CHECK(r->conversions.size() == 3);  // the F32 ones
    CHECK(m.head.weight.type() == dtype::BF16);
    CHECK(sw::bf16_to_float(static_cast<std::uint16_t>(std::to_integer<unsigned>(m.head.weight.data()[0]) |
                                                       std::to_integer<unsigned>(m.head.weight.data()[1]) << 8)) == 300.0f);
  }
  {
    file_maker g;
    g.full();
    g.keep.emplace_back(8 * 2);
    REQUIRE(g.w.add("extra", dtype::C64, {2}, g.keep.back()));
    std::string c64 = g.write(dir, "c64.safetensors");
    struct with_extra : small_model {
      nn::tensor extra;
      with_extra() { register_buffer("extra", extra, nn::tensor::zeros(dtype::F32, {2})); }
    } m;
    auto r = nn::load_state_dict(m, c64);
    CHECK(r.code() == errc::state_dict_mismatch);
    CHECK(r.error_value().message.find("`extra`: cannot convert C64 to F32") != std::string::npos);
    nn::load_options o;
    o.strict = false;
    CHECK(nn::load_state_dict(m, c64, o).code() == errc::state_dict_mismatch);  // in either mode
  }
}

TEST_CASE("load_state_dict: progress reaches the total; cancelling at any step leaves the module unchanged") {
  test_support::scratch_dir dir;
  file_maker f;
  f.add_bf16("encoder.fc.weight", {4, 3}, iota(12, 1));  // converted: a copy
  f.add("encoder.fc.bias", {4}, iota(4, 100));
  f.add("encoder.scale", {4}, iota(4, 200));
  f.add("head.weight", {2, 4}, iota(8, 300));
  f.add("steps", {1}, std::vector<std::int64_t>{7});
  std::string path = f.write(dir, "p.safetensors");
  std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
  small_model m;
  nn::load_options o;
  o.progress = [&](std::uint64_t done, std::uint64_t total) {
    calls.emplace_back(done, total);
    return true;
  };
  REQUIRE(nn::load_state_dict(m, path, o));
  REQUIRE(calls.size() == 6);  // the start and one per tensor
  const std::uint64_t total = 24 + 16 + 16 + 32 + 8;
  CHECK(calls.front() == std::pair<std::uint64_t, std::uint64_t>{0, total});
  CHECK(calls.back() == std::pair<std::uint64_t, std::uint64_t>{total, total});
  for (std::size_t i = 1; i < calls.size(); ++i) CHECK(calls[i].first >= calls[i - 1].first);
  for (std::size_t stop = 0; stop < calls.size(); ++stop) {
    INFO("cancel at call ", stop);
    small_model fresh;
    std::size_t seen = 0;
    o.progress = [&](std::uint64_t, std::uint64_t) { return seen++ < stop; };
    auto r = nn::load_state_dict(fresh, path, o);
    CHECK(r.code() == errc::load_cancelled);
    CHECK(untouched(fresh));
  }
}

TEST_CASE("load_state_dict: misaligned tensors are copied, pread mode copies, buffers are borrowed") {
  test_support::scratch_dir dir;
  // An odd header length leaves the F32 data on an odd address: typed views are impossible.
  std::string json = R"({"encoder.scale":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  json += "  ";  // 8 + 70 bytes: odd
  std::vector<std::byte> image = test_support::make_file(json, 16);
  float values[4] = {1, 2, 3, 4};
  std::memcpy(image.data() + 8 + json.size(), values, 16);
  auto rd = sw::reader::from_buffer(image);
  REQUIRE(rd);
  std::vector<sw::reader> files;
  files.push_back(*rd);
  auto file = nn::checkpoint::from_files(std::move(files), "<buffer>").value();
  small_model m;
  nn::load_options o;
  o.strict = false;
  auto r = nn::load_state_dict(m, file, o);
  REQUIRE(r);
  CHECK(r->zero_copy == 0);
  CHECK_FALSE(m.encoder.scale.is_borrowed());
  CHECK(m.encoder.scale.f32()[3] == 4.0f);

  file_maker f;
  f.full();
  std::string path = f.write(dir, "full.safetensors");
  sw::read_options pread;
  pread.mode = sw::io_mode::pread;
  small_model p;
  auto pr = nn::load_state_dict(p, path, {}, pread);
  REQUIRE(pr);
  CHECK(pr->zero_copy == 0);
  CHECK(pr->bytes_copied == 48 + 16 + 16 + 32 + 8);
  CHECK(p.head.weight.f32()[7] == 307.0f);
}

TEST_CASE("save_state_dict then load_state_dict is the identity, bit for bit, in every dtype") {
  test_support::scratch_dir dir;
  struct typed_model : nn::module {
    nn::linear a{5, 3, true, dtype::BF16}, b{3, 2, true, dtype::F16};
    nn::embedding e{7, 3};
    nn::tensor counts;
    typed_model() {
      register_module("a", a);
      register_module("b", b);
      register_module("e", e);
      register_buffer("counts", counts, nn::tensor::zeros(dtype::U8, {3}));
    }
  } m;
  std::uint32_t seed = 1;
  for (const auto& t : m.state()) {
    std::byte* p = t.value->mutable_data();
    for (std::size_t i = 0; i < t.value->nbytes(); ++i) p[i] = static_cast<std::byte>((seed = seed * 1103515245u + 12345u) >> 24);
  }
  std::string path = (dir / "saved.safetensors").string();
  REQUIRE(nn::save_state_dict(m, path, {{"format", "pt"}, {"note", "round trip"}}));
  typed_model back;
  auto r = nn::load_state_dict(back, path);
  REQUIRE(r);
  CHECK(r->zero_copy == r->loaded);
  auto a = m.state(), b = back.state();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].name);
    CHECK(a[i].value->type() == b[i].value->type());
    CHECK(std::memcmp(a[i].value->data(), b[i].value->data(), a[i].value->nbytes()) == 0);
  }
  sw::reader saved = sw::open(path);
  CHECK(saved.metadata_value("note") == "round trip");
#ifdef _WIN32
  // Windows does not replace a mapped file: saving over the file a module
  // borrows from fails cleanly, and the old file and mapping stay whole.
  auto over = nn::save_state_dict(back, path);
  REQUIRE(!over);
  CHECK(over.code() == sw::errc::write_failed);
  CHECK(over.error_value().message.find("open or mapped") != std::string::npos);
#else
  // Saving over the file a module borrows from is safe: the old mapping stays valid.
  REQUIRE(nn::save_state_dict(back, path));
#endif
  CHECK(std::memcmp(a[0].value->data(), b[0].value->data(), a[0].value->nbytes()) == 0);
}

TEST_CASE("load_state_dict: U16 for a float parameter is refused (BF16 bits written as uint16), unless asked") {
  test_support::scratch_dir dir;
  file_maker f;
  f.full();
  // What writer::add<std::uint16_t> makes of BF16 weights 1.5 and -3.0: U16 numbers 16320 and 49216.
  std::vector<std::uint16_t> bits(12);
  for (std::size_t i = 0; i < bits.size(); ++i) bits[i] = sw::float_to_bf16(i % 2 ? -3.0f : 1.5f);
  f.w = sw::writer{};
  f.keep.clear();
  f.add("encoder.fc.weight", {4, 3}, bits);
  f.add("encoder.fc.bias", {4}, iota(4, 100));
  f.add("encoder.scale", {4}, iota(4, 200));
  f.add("head.weight", {2, 4}, iota(8, 300));
  f.add("steps", {1}, std::vector<std::int64_t>{7});
  std::string path = f.write(dir, "u16.safetensors");

  small_model m;
  auto refused = nn::load_state_dict(m, path);
  REQUIRE_FALSE(refused);
  CHECK(refused.code() == sw::errc::state_dict_mismatch);
  CHECK(refused.error_value().message.find("`encoder.fc.weight`: U16 in the file for a float parameter") !=
        std::string::npos);
  CHECK(untouched(m));
  nn::load_report report = nn::check_state_dict(m, nn::checkpoint::open(path).value());
  CHECK(report.u16_into_float == std::vector<std::string>{"encoder.fc.weight"});

  // The opt-in loads the numbers as they are; an I64 buffer is not a float parameter.
  nn::load_options as_numbers;
  as_numbers.u16_as_numbers = true;
  auto numbers = nn::load_state_dict(m, path, as_numbers);
  REQUIRE(numbers);
  CHECK(m.encoder.fc.weight.f32()[0] == 16320.0f);
  CHECK(m.encoder.fc.weight.f32()[1] == 49216.0f);
}
