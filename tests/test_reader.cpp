// The reader: zero-copy views, typed access and misalignment, eager loading,
// pread mode, lifetime, the cost of opening, and the fast header path agreeing
// with the general one.
#ifndef _WIN32
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

#include <cmath>
#include <cstring>
#include <complex>
#include <fstream>
#include <random>
#include <xtensor/xview.hpp>

#include "safeweights/safeweights.hpp"
#include "safeweights/xtensor.hpp"
#include "support.hpp"

namespace sw = safeweights;
using test_support::scratch_dir;

namespace {

std::vector<std::byte> sample_file() {
  std::vector<float> w = {1, 2, 3, 4, 5, 6};
  std::vector<std::int64_t> ids = {7, -8};
  std::vector<std::uint16_t> h = {0x3c00, 0x4000, 0x4200};
  const auto h_bytes = test_support::le_bytes(h);  // the F16 codes as the file's bytes
  sw::writer wr;
  REQUIRE(wr.add<float>("layer.weight", {2, 3}, w));
  REQUIRE(wr.add<std::int64_t>("ids", {2}, ids));
  REQUIRE(wr.add("half", sw::dtype::F16, {3}, h_bytes));
  wr.set_metadata("format", "pt");
  return wr.serialize().value();
}

#ifndef _WIN32
// Resident memory of this process, in bytes (from /proc/self/statm).
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}
#endif

}  // namespace

TEST_CASE("typed views point into the mapping; the wrong type is refused") {
  scratch_dir dir;
  auto path = (dir / "s.safetensors").string();
  test_support::write_bytes(path, sample_file());
  auto rd = sw::open(path);
  auto t = rd.tensor("layer.weight").value();
  if constexpr (sw::host_is_big_endian) {
    // The file's little-endian floats are no host floats: no view (test_byte_order.cpp).
    CHECK(t.as<float>().code() == sw::errc::byte_order);
  } else {
    auto values = t.as<float>().value();
    CHECK(values.size() == 6);
    CHECK(values[5] == 6.0f);
    CHECK(static_cast<const void*>(values.data()) == static_cast<const void*>(t.bytes().data()));
  }
  CHECK(t.as<double>().code() == sw::errc::dtype_mismatch);
  CHECK(t.as<std::int32_t>().code() == sw::errc::dtype_mismatch);
  auto ids = rd.tensor("ids").value().typed<std::int64_t>().value();
  CHECK(ids.is_copy() == sw::host_is_big_endian);  // a swapped copy on a big-endian host
  CHECK(ids[1] == -8);
  CHECK(rd.metadata_value("format") == std::optional<std::string_view>("pt"));
  CHECK(rd.tensor("nope").code() == sw::errc::tensor_not_found);
}

TEST_CASE("a misaligned tensor is offered as an aligned copy, never a misaligned pointer") {
  // Hand-made: a U8 tensor of 1 byte first, so the F32 tensor after it sits at data byte 1.
  std::string json = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                     R"("f":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  auto bytes = test_support::make_file(json, 9);
  float two[2] = {sw::to_little(3.5f), sw::to_little(-1.25f)};
  std::memcpy(bytes.data() + 8 + json.size() + 1, two, 8);
  // Copy into 64-aligned storage so the misalignment comes from the file alone.
  sw::aligned_buffer storage(bytes.size());
  std::memcpy(storage.data(), bytes.data(), bytes.size());
  auto rd = sw::reader::from_buffer(storage.bytes()).value();
  auto f = rd.tensor("f").value();
  REQUIRE(reinterpret_cast<std::uintptr_t>(f.bytes().data()) % alignof(float) != 0);
  CHECK(f.as<float>().code() == (sw::host_is_big_endian ? sw::errc::byte_order : sw::errc::misaligned_view));
  auto copy = f.typed<float>().value();
  CHECK(copy.is_copy());
  CHECK(reinterpret_cast<std::uintptr_t>(copy.data()) % alignof(float) == 0);
  CHECK(copy[0] == 3.5f);
  CHECK(copy[1] == -1.25f);
}

TEST_CASE("views and loaded tensors outlive the reader that made them") {
  auto bytes = sample_file();
  scratch_dir dir;
  auto path = (dir / "s.safetensors").string();
  test_support::write_bytes(path, bytes);
  sw::tensor_view view;
  std::optional<sw::loaded_tensors> loaded;
  {
    auto rd = sw::open(path);
    view = rd.tensor("layer.weight").value();
    loaded = rd.load().value();
  }
  CHECK(view.name() == "layer.weight");
  CHECK(view.typed<float>().value()[2] == 3.0f);
  CHECK(loaded->find("ids")->as<std::int64_t>().value()[0] == 7);
}

TEST_CASE("eager load copies all or some tensors into 64-byte aligned owned memory") {
  scratch_dir dir;
  auto path = (dir / "s.safetensors").string();
  test_support::write_bytes(path, sample_file());
  for (auto mode : {sw::io_mode::mmap, sw::io_mode::pread}) {
    sw::read_options o;
    o.mode = mode;
    auto rd = sw::reader::open(path, o).value();
    auto all = rd.load().value();
    CHECK(all.size() == 3);
    for (auto& t : all.tensors()) {
      auto original = rd.tensor(t.name()).value();
      // The file's bytes, or on a big-endian host the same elements swapped to host order.
      std::vector<std::byte> want(original.bytes().begin(), original.bytes().end());
      sw::swap_elements(t.type(), want);
      CHECK(t.byte_order() == std::endian::native);
      CHECK(std::equal(t.bytes().begin(), t.bytes().end(), want.begin(), want.end()));
      if (mode == sw::io_mode::mmap) CHECK(t.bytes().data() != original.bytes().data());
    }
    std::vector<std::string_view> names = {"half", "layer.weight"};
    auto some = rd.load(names).value();
    REQUIRE(some.size() == 2);
    for (auto& t : some.tensors()) CHECK(reinterpret_cast<std::uintptr_t>(t.bytes().data()) % 64 == 0);
    CHECK(some.find("ids") == nullptr);
    CHECK(some.find("half")->bytes().size() == 6);
    std::vector<std::string_view> missing = {"half", "ghost"};
    auto r = rd.load(missing);
    CHECK(r.code() == sw::errc::tensor_not_found);
    CHECK(r.error_value().message.find("ghost") != std::string::npos);
  }
}

TEST_CASE("read_into copies exactly one tensor into the caller's buffer") {
  auto bytes = sample_file();
  auto rd = sw::reader::from_buffer(bytes).value();
  const sw::tensor_info* info = rd.find("layer.weight");
  REQUIRE(info);
  std::vector<float> out(6);
  REQUIRE(rd.read_into(*info, std::as_writable_bytes(std::span(out))));
  CHECK(sw::from_little(out[3]) == 4.0f);  // the file's bytes, little-endian
  std::vector<float> small(5);
  CHECK(rd.read_into(*info, std::as_writable_bytes(std::span(small))).code() == sw::errc::invalid_argument);
}

TEST_CASE("pread mode never maps and gives the same tensors") {
  scratch_dir dir;
  auto path = (dir / "s.safetensors").string();
  test_support::write_bytes(path, sample_file());
  sw::read_options o;
  o.mode = sw::io_mode::pread;
  auto rd = sw::reader::open(path, o).value();
  CHECK(rd.mode() == sw::io_mode::pread);
  auto t = rd.tensor("layer.weight").value();
  CHECK(t.typed<float>().value()[4] == 5.0f);
#ifdef _WIN32
  // Windows: the reader's handle lets no one shrink the file under it.
  std::error_code ec;
  std::filesystem::resize_file(path, 40, ec);
  CHECK(ec);
  CHECK(rd.tensor("half"));
#else
  // Shrinking the file after opening gives an error, not a crash.
  REQUIRE(::truncate(path.c_str(), 40) == 0);
  auto gone = rd.tensor("half");
  CHECK(gone.code() == sw::errc::file_changed);
  CHECK(gone.error_value().message.find(path) == 0);
#endif
}

TEST_CASE("copy_on_write: tensors are writable in place, and no write reaches the file") {
  scratch_dir dir;
  auto path = (dir / "s.safetensors").string();
  const auto original = sample_file();
  test_support::write_bytes(path, original);
  sw::read_options o;
  o.copy_on_write = true;
  auto rd = sw::reader::open(path, o).value();
  const sw::tensor_info* info = rd.find("layer.weight");
  REQUIRE(info);
  auto w = rd.writable_bytes(*info).value();
  REQUIRE(w.size() == 24);
  float x = 0;
  std::memcpy(&x, w.data() + 8, 4);
  CHECK(sw::from_little(x) == 3.0f);  // the file's bytes
  x = sw::to_little(-7.0f);
  std::memcpy(w.data() + 8, &x, 4);
  // This reader's views see the write (one private copy) ...
  CHECK(rd.tensor("layer.weight").value().typed<float>().value()[2] == -7.0f);
  // ... and the file, and every other reader of it, do not.
  CHECK(test_support::read_bytes(path) == original);
  CHECK(sw::reader::open(path).value().tensor("layer.weight").value().typed<float>().value()[2] == 3.0f);

  // Only a copy-on-write mapping hands out writable bytes.
  auto shared = sw::reader::open(path).value();
  CHECK(shared.writable_bytes(*shared.find("layer.weight")).code() == sw::errc::invalid_argument);
  o.mode = sw::io_mode::pread;
  auto by_pread = sw::reader::open(path, o).value();
  CHECK(by_pread.writable_bytes(*by_pread.find("layer.weight")).code() == sw::errc::invalid_argument);
  // A tensor_info of another file is refused when it lies outside this one.
  sw::tensor_info foreign = *info;
  foreign.end = rd.data_size() + 8;
  CHECK(rd.writable_bytes(foreign).code() == sw::errc::invalid_argument);
}

TEST_CASE("read_data copies the whole data section in every mode; adopt takes an open descriptor") {
  scratch_dir dir;
  auto path = (dir / "s.safetensors").string();
  const auto original = sample_file();
  test_support::write_bytes(path, original);
  for (sw::io_mode mode : {sw::io_mode::mmap, sw::io_mode::pread}) {
    sw::read_options o;
    o.mode = mode;
    auto rd = sw::reader::open(path, o).value();
    std::vector<std::byte> data(rd.data_size());
    REQUIRE(rd.read_data(data));
    const auto offset = static_cast<std::ptrdiff_t>(rd.index().data_offset());
    CHECK(std::equal(data.begin(), data.end(), original.begin() + offset, original.end()));
    std::vector<std::byte> small(data.size() - 1);
    CHECK(rd.read_data(small).code() == sw::errc::invalid_argument);
  }
#ifdef _WIN32
  HANDLE fd = ::CreateFileW(sw::platform::utf8_path(path).c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING,
                            FILE_ATTRIBUTE_NORMAL, nullptr);
  REQUIRE(fd != INVALID_HANDLE_VALUE);
#else
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
#endif
  auto file = sw::file_handle::adopt(fd).value();
  CHECK(file.size() == original.size());
  auto rd = sw::reader::open(std::move(file), path).value();
  CHECK(rd.tensor("layer.weight").value().typed<float>().value()[4] == 5.0f);
#ifdef _WIN32
  HANDLE dir_fd = ::CreateFileW(dir.path().c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                                OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr);
  REQUIRE(dir_fd != INVALID_HANDLE_VALUE);
#else
  int dir_fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(dir_fd >= 0);
#endif
  auto not_file = sw::file_handle::adopt(dir_fd);
  CHECK(not_file.code() == sw::errc::io_error);
  CHECK(not_file.error_value().message.find("not a regular file") != std::string::npos);
}

TEST_CASE("opening reports missing files and directories by path") {
  scratch_dir dir;
  auto missing = (dir / "nope.safetensors").string();
  auto r = sw::reader::open(missing);
  CHECK(r.code() == sw::errc::io_error);
  CHECK(r.error_value().message.find(missing) == 0);
  CHECK(sw::reader::open(dir.path().string()).code() == sw::errc::io_error);
  CHECK_THROWS_AS(sw::open(missing), sw::exception);
  try {
    sw::open(missing);
  } catch (const sw::exception& e) {
    CHECK(e.code() == sw::errc::io_error);
  }
}

#ifndef _WIN32  // /proc/self/statm and a sparse file
TEST_CASE("opening a 1 GiB file reads no tensor data: resident memory does not grow") {
  scratch_dir dir;
  auto path = (dir / "big.safetensors").string();
  // A sparse 1 GiB tensor: the header is real, the data is a hole.
  std::string json = R"({"big":{"dtype":"U8","shape":[1073741824],"data_offsets":[0,1073741824]}})";
  json.append((8 - json.size() % 8) % 8, ' ');
  auto head = test_support::make_file(json);
  test_support::write_bytes(path, head);
  REQUIRE(::truncate(path.c_str(), static_cast<off_t>(head.size() + (std::size_t{1} << 30))) == 0);
  std::size_t before = resident_bytes();
  auto rd = sw::open(path);
  auto view = rd.tensor("big").value();
  std::size_t after = resident_bytes();
  CHECK(view.bytes().size() == (std::size_t{1} << 30));
  if (test_support::under_qemu())
    MESSAGE("SKIPPED: resident memory under qemu-user is the emulator's, not the kernel's page accounting");
  else
    CHECK(after - std::min(after, before) < (std::size_t{4} << 20));
}
#endif

TEST_CASE("xtensor adaptor sees the tensor's shape and elements without copying") {
  auto bytes = sample_file();
  auto rd = sw::reader::from_buffer(bytes).value();
  auto view = rd.tensor("layer.weight").value();
  auto typed = view.typed<float>().value();
  auto x = sw::adapt(typed, sw::shape_of(view));
  CHECK(x.dimension() == 2);
  CHECK(x.shape()[0] == 2);
  CHECK(x.shape()[1] == 3);
  CHECK(x(1, 2) == 6.0f);
  CHECK(&x(0, 0) == typed.data());
  auto row = xt::view(x, 1, xt::all());
  CHECK(row(0) == 4.0f);
}

namespace {

// Both parsers on one header: the general parser must agree with every
// verdict the fast path gives, and with the index it builds.
// The one door in place, as in a mapping: the header followed by exactly the
// bytes the fast path may overread, or as many as simdjson's padding,
// holding digits, quotes or text that continues the JSON, never zeros. It must agree with the
// general parser on a copy, whatever follows.
void check_in_place_agrees(std::string_view json, std::uint64_t data_bytes, const sw::result<sw::header_index>& general) {
  for (std::size_t after : {sw::detail::canonical_scanner::max_overread, sw::detail::header_parser::max_overread})
  for (std::string_view filler : {"7777777777777777", "\"\"\"\"\"\"\"\"", ",\"shape\":[1],\"data_o", "]}}  ,{\"a\":{\"dtype\""}) {
    std::string image(json);
    while (image.size() < json.size() + after) image += filler;
    image.resize(json.size() + after);
    auto in_place = sw::parse_header(std::string_view(image).substr(0, json.size()), after, data_bytes,
                                     sw::read_options{}, sw::caller_keeps_alive(image.data()));
    INFO("followed by ", after, " bytes of ", filler);
    REQUIRE(in_place.code() == general.code());
    if (!general) continue;
    REQUIRE(in_place->size() == general->size());
    for (std::size_t i = 0; i < general->size(); ++i) {
      CHECK(in_place->tensors()[i].name == general->tensors()[i].name);
      CHECK(in_place->tensors()[i].end == general->tensors()[i].end);
      CHECK(in_place->tensors()[i].elements == general->tensors()[i].elements);
    }
  }
}

void check_paths_agree(std::string_view json, std::uint64_t data_bytes, std::size_t& fast_hits) {
  sw::detail::header_copy a(json), b(json);
  sw::read_options o;
  auto fast = sw::detail::parse_canonical(a.text, data_bytes, o, a.owner);
  auto general = sw::detail::parse_general(b.text, b.readable_after, data_bytes, o, b.owner);
  if (!fast) {
    check_in_place_agrees(json, data_bytes, general);
    return;
  }
  ++fast_hits;
  REQUIRE(fast->code() == general.code());
  check_in_place_agrees(json, data_bytes, general);
  if (!general) return;
  const sw::header_index& x = **fast;
  const sw::header_index& y = *general;
  REQUIRE(x.size() == y.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const auto& s = x.tensors()[i];
    const auto& t = y.tensors()[i];
    CHECK(s.name == t.name);
    CHECK(s.type == t.type);
    CHECK(std::equal(s.shape.begin(), s.shape.end(), t.shape.begin(), t.shape.end()));
    CHECK(s.begin == t.begin);
    CHECK(s.end == t.end);
  }
  REQUIRE(x.has_metadata() == y.has_metadata());
  REQUIRE(x.metadata().size() == y.metadata().size());
  for (std::size_t i = 0; i < x.metadata().size(); ++i) {
    CHECK(x.metadata()[i].key == y.metadata()[i].key);
    CHECK(x.metadata()[i].value == y.metadata()[i].value);
  }
}

std::string header_of(std::span<const std::byte> file) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(file[i]);
  return std::string(reinterpret_cast<const char*>(file.data()) + 8, n);
}

}  // namespace

TEST_CASE("the canonical fast path agrees with simdjson On Demand on every file and on mutants") {
  std::size_t fast_hits = 0;
  std::vector<std::pair<std::string, std::uint64_t>> seeds;
  for (auto& e : std::filesystem::directory_iterator(test_support::conformance_dir() / "valid")) {
    if (e.path().extension() != ".safetensors") continue;
    auto bytes = test_support::read_bytes(e.path());
    auto json = header_of(bytes);
    seeds.emplace_back(json, bytes.size() - 8 - json.size());
  }
  REQUIRE(seeds.size() > 20);
  std::size_t without_escapes = 0;
  for (auto& [json, data] : seeds) {
    without_escapes += json.find('\\') == std::string::npos;
    check_paths_agree(json, data, fast_hits);
  }
  // Every reference-written header without escapes takes the fast path.
  CHECK(fast_hits == without_escapes);
  CHECK(without_escapes + 2 >= seeds.size());

  // Mutants: bytes replaced with characters that matter to JSON, deleted or duplicated.
  std::mt19937_64 rng(7);
  const std::string alphabet = "{}[]\":,0123456789-.eE \\uU\x01\x7f\xc3\xa9" "abFIU_";
  std::size_t mutants = 0;
  for (int round = 0; round < 20000; ++round) {
    auto& [seed, data] = seeds[rng() % seeds.size()];
    if (seed.size() > 4096) continue;
    std::string json = seed;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits && !json.empty(); ++k) {
      std::size_t at = rng() % json.size();
      switch (rng() % 3) {
        case 0: json[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: json.erase(at, 1); break;
        default: json.insert(at, 1, json[at]); break;
      }
    }
    ++mutants;
    check_paths_agree(json, data, fast_hits);
  }
  MESSAGE("mutants: ", mutants, ", taken by the fast path in all: ", fast_hits);
  CHECK(fast_hits > seeds.size() + 100);  // the mutants really exercise the fast path
}

// The fast path converts up to 8 digits at once and scans strings 8 bytes at
// a time: every number length and every place a quote, an escape or a control
// byte can fall within a word, and the header's last bytes, against On Demand.
TEST_CASE("the canonical fast path agrees on numbers of every length and on names of every length") {
  std::size_t fast_hits = 0;
  auto one = [](std::string_view name, std::string_view type, std::string_view shape, std::string_view offsets) {
    return "{\"" + std::string(name) + "\":{\"dtype\":\"" + std::string(type) + "\",\"shape\":[" +
           std::string(shape) + "],\"data_offsets\":[" + std::string(offsets) + "]}}";
  };
  std::vector<std::string> numbers = {"0", "00", "01", "10", "18446744073709551615", "18446744073709551616",
                                      "99999999999999999999", "184467440737095516150"};
  const std::string digits = "123456789012345678901";
  for (std::size_t n = 1; n <= digits.size(); ++n) {
    numbers.push_back(digits.substr(0, n));
    numbers.push_back(std::string(n, '9'));
    numbers.push_back("1" + std::string(n - 1, '0'));
  }
  for (const std::string& n : numbers) {
    INFO("number ", n);
    check_paths_agree(one("a", "U8", "0," + n, "0,0"), 0, fast_hits);   // a dimension
    check_paths_agree(one("a", "U8", n, "0," + n), 0, fast_hits);       // an offset
    check_paths_agree(one("a", "U8", "0", n + ",0"), 0, fast_hits);
    check_paths_agree(one("a", "U8", "0", "0," + n + "x"), 0, fast_hits);  // a number not followed by `,` or `]`
  }
  for (std::size_t len = 0; len <= 24; ++len) {
    std::string name(len, 'n');
    check_paths_agree(one(name, "F32", "1", "0,4"), 4, fast_hits);
    for (std::size_t at = 0; at < len; ++at) {
      for (char c : {'\\', '\x01', '\x1f', '\x7f', '\xc3'}) {
        std::string odd = name;
        odd[at] = c;
        INFO("length ", len, " byte ", static_cast<int>(static_cast<unsigned char>(c)), " at ", at);
        check_paths_agree(one(odd, "F32", "1", "0,4"), 4, fast_hits);
      }
    }
    // The header ends inside the name, at every length: nothing past the JSON is read as part of it.
    std::string cut = "{\"" + name;
    check_paths_agree(cut, 0, fast_hits);
  }
  // Every dtype, twice in a row (the second time compared as one word run), and mixed.
  std::string json = "{";
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < sw::dtype_count; ++i) {
    auto t = static_cast<sw::dtype>(i);
    for (int k = 0; k < 2; ++k) {
      std::uint64_t bytes = sw::bit_width(t);  // 8 elements: whole bytes for every width
      if (json.size() > 1) json += ',';
      json += "\"t" + std::to_string(i) + "_" + std::to_string(k) + "\":{\"dtype\":\"" +
              std::string(sw::dtype_name(t)) + "\",\"shape\":[8],\"data_offsets\":[" + std::to_string(at) + "," +
              std::to_string(at + bytes) + "]}";
      at += bytes;
    }
  }
  json += "}";
  std::size_t before = fast_hits;
  check_paths_agree(json, at, fast_hits);
  CHECK(fast_hits == before + 1);
  // A dtype that is a prefix or an extension of the last one is not mistaken for it.
  for (std::string second : {"F3", "F32 ", "F322", "F8_E4M3FNUZ", "F8_E4M3", "BF16"}) {
    std::string two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"" + second +
                      "\",\"shape\":[0],\"data_offsets\":[4,4]}}";
    check_paths_agree(two, 4, fast_hits);
  }
  CHECK(fast_hits > 300);
}

// The fast path takes a tensor's begin offset and its shape from remembered
// text (the last end offset, recent shapes) when the header repeats it. Only
// an exact repetition may count: text that starts like the remembered one, or
// extends it, is parsed, and every verdict and index matches On Demand's.
TEST_CASE("the canonical fast path takes remembered offsets and shapes only on an exact repeat") {
  struct entry {
    std::string shape, begin, end;
  };
  auto header = [](const std::vector<entry>& tensors) {
    std::string json = "{";
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      if (i) json += ',';
      json += "\"t" + std::to_string(i) + "\":{\"dtype\":\"U8\",\"shape\":[" + tensors[i].shape +
              "],\"data_offsets\":[" + tensors[i].begin + "," + tensors[i].end + "]}";
    }
    return json + "}";
  };
  std::size_t fast_hits = 0;
  // Repeats that count: three tensors of one shape, each beginning where the last ended.
  check_paths_agree(header({{"2,3", "0", "6"}, {"2,3", "6", "12"}, {"2,3", "12", "18"}}), 18, fast_hits);
  CHECK(fast_hits == 1);
  // Near misses of the remembered begin "6" and shape "2,3": all parsed, all judged alike.
  for (std::string begin : {"6", "60", "06", "7", "5", "", "6 ", "-6", "6.0", "61", "66"}) {
    INFO("begin ", begin);
    check_paths_agree(header({{"2,3", "0", "6"}, {"2,3", begin, "12"}}), 12, fast_hits);
  }
  for (std::string shape : {"2,3", "2,30", "2,3,1", "2", "2,4", "02,3", "2,3 ", "3,2", "2,31", "23", "2,,3"}) {
    INFO("shape ", shape);
    check_paths_agree(header({{"2,3", "0", "6"}, {shape, "6", "12"}}), 12, fast_hits);
    check_paths_agree(header({{shape, "0", "6"}, {"2,3", "6", "12"}}), 12, fast_hits);
  }
  // More distinct shapes than the memo holds, cycling, so entries are replaced
  // and slots collide; every shape must come back as written.
  std::vector<entry> many;
  std::uint64_t at = 0;
  for (int round = 0; round < 3; ++round) {
    for (std::uint64_t k = 1; k <= 40; ++k) {
      std::uint64_t rows = k % 7 + 1, cols = k;
      many.push_back({std::to_string(rows) + "," + std::to_string(cols), std::to_string(at),
                      std::to_string(at + rows * cols)});
      at += rows * cols;
    }
  }
  std::size_t before = fast_hits;
  check_paths_agree(header(many), at, fast_hits);
  CHECK(fast_hits == before + 1);
  // End offsets of 15 digits (the longest remembered) and 16 (not remembered).
  for (std::string big : {"100000000000000", "1000000000000000", "999999999999999", "9999999999999999"}) {
    INFO("end ", big);
    before = fast_hits;
    check_paths_agree(header({{big, "0", big}, {"0", big, big}, {"0", big, big}}), std::stoull(big), fast_hits);
    CHECK(fast_hits == before + 1);
  }
}

// From 64 MiB up load() reads with several threads, in 2 MiB-aligned pieces:
// every byte lands where it belongs, and a failure in any piece is reported.
TEST_CASE("eager load of a large file is whole and exact, and a file that shrank fails cleanly") {
  scratch_dir dir;
  auto path = (dir / "large.safetensors").string();
  const std::uint64_t big = (std::uint64_t{70} << 20) + 13, small = 4099;
  std::uint64_t counter = 0;
  auto pattern = [&counter](std::span<std::byte> chunk) {
    for (auto& b : chunk) b = static_cast<std::byte>((counter++ * 2654435761u) >> 13);
    return chunk.size();
  };
  sw::writer w;
  REQUIRE(w.add_stream("big", sw::dtype::U8, {big}, pattern).code() == sw::errc::ok);
  REQUIRE(w.add_stream("small", sw::dtype::I8, {small}, pattern).code() == sw::errc::ok);
  REQUIRE(w.write_file(path).code() == sw::errc::ok);
  auto image = test_support::read_bytes(path);
  for (auto mode : {sw::io_mode::mmap, sw::io_mode::pread}) {
    sw::read_options o;
    o.mode = mode;
    auto rd = sw::reader::open(path, o).value();
    auto all = rd.load().value();
    REQUIRE(all.size() == 2);
    for (const auto& t : all.tensors()) {
      INFO(std::string(t.name()));
      auto at = static_cast<std::ptrdiff_t>(rd.index().data_offset() + t.info().begin);
      CHECK(std::equal(t.bytes().begin(), t.bytes().end(), image.begin() + at,
                       image.begin() + at + static_cast<std::ptrdiff_t>(t.bytes().size())));
    }
    if (mode == sw::io_mode::pread) CHECK(rd.bytes_fetched() == big + small);
  }
  sw::read_options o;
  o.mode = sw::io_mode::pread;
  auto rd = sw::reader::open(path, o).value();
#ifdef _WIN32
  // Windows: no one may shrink a file while the reader's handle is open (it
  // shares reading and renaming, not writing); the load stays whole.
  std::error_code ec;
  std::filesystem::resize_file(path, image.size() / 2, ec);
  CHECK(ec);
  CHECK(rd.load());
#else
  std::filesystem::resize_file(path, image.size() / 2);
  auto r = rd.load();
  CHECK(r.code() == sw::errc::file_changed);
  CHECK(r.error_value().message.find(path) != std::string::npos);
#endif
}

// Headers over 64 KiB are scanned where they lie in the mapping. What follows
// them varies: tensor data, nothing but the zeros of the last page, or
// nothing at all when the header ends on a page boundary (then the reader
// copies it). Mapped and pread opens must give the same index every time,
// also when the header needs the general parser.
TEST_CASE("a header over 64 KiB is read in the mapping: the same index as pread, whatever follows it") {
  scratch_dir dir;
  const long page = static_cast<long>(sw::mapping::page_size());
  for (std::size_t data_bytes : {std::size_t{0}, std::size_t{1}, std::size_t{40}}) {
    for (bool canonical : {true, false}) {
      for (bool page_end : {true, false}) {
        std::string json = canonical ? "{" : " {";
        for (int i = 0; i < 2000; ++i) {
          if (json.size() > 2) json += ',';
          json += "\"layer." + std::to_string(i) + ".w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}";
        }
        json += ",\"last\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(data_bytes) + "],\"data_offsets\":[0," +
                std::to_string(data_bytes) + "]}}";
        // Pad so the file ends on a page boundary (nothing readable after
        // the data), or one byte short of it.
        std::size_t end = 8 + json.size() + data_bytes;
        std::size_t target = (end + page - 1) / page * page - (page_end ? 0 : 1);
        if (target < end) target += page;
        json.append(target - end, ' ');
        REQUIRE(json.size() > (std::size_t{64} << 10));
        INFO("data bytes ", data_bytes, canonical ? ", canonical" : ", leading space", page_end ? ", page end" : "");
        auto path = dir / "big_header.safetensors";
        test_support::write_bytes(path, test_support::make_file(json, data_bytes, std::byte{'7'}));
        sw::read_options pread_mode;
        pread_mode.mode = sw::io_mode::pread;
        auto mapped = sw::reader::open(path.string());
        auto read = sw::reader::open(path.string(), pread_mode);
        REQUIRE(mapped);
        REQUIRE(read);
        REQUIRE(mapped->tensors().size() == 2001);
        REQUIRE(read->tensors().size() == 2001);
        for (std::size_t i = 0; i < 2001; ++i) {
          const auto& a = mapped->tensors()[i];
          const auto& b = read->tensors()[i];
          CHECK(a.name == b.name);
          CHECK(a.end == b.end);
          CHECK(mapped->find(a.name) == &a);
        }
        auto last = mapped->tensor("last");
        REQUIRE(last);
        CHECK(last->bytes().size() == data_bytes);
      }
    }
  }
  // A broken large header is named the same way in both modes.
  std::string json = "{";
  for (int i = 0; i < 2000; ++i) {
    if (i) json += ',';
    json += "\"layer." + std::to_string(i) + ".w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[" +
            std::to_string(i) + "," + std::to_string(i + 1) + "]}";
  }
  json += ",\"layer.7.w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2000,2001]}}";
  auto path = dir / "repeat.safetensors";
  test_support::write_bytes(path, test_support::make_file(json, 2001));
  sw::read_options pread_mode;
  pread_mode.mode = sw::io_mode::pread;
  auto mapped = sw::reader::open(path.string());
  auto read = sw::reader::open(path.string(), pread_mode);
  REQUIRE_FALSE(mapped);
  CHECK(mapped.code() == sw::errc::duplicate_key);
  CHECK(mapped.error_value().message == read.error_value().message);
  CHECK(mapped.error_value().message.find("`layer.7.w` appears twice") != std::string::npos);
}

TEST_CASE("parse_header: the index keeps the text's owner alive while it may point into the text, else owns a copy") {
  const std::string json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  auto inside = [](std::string_view name, const std::string& text) {
    return name.data() >= text.data() && name.data() < text.data() + text.size();
  };
  // Whether the index keeps `owner` (given `room` readable bytes after the
  // header) once the caller has let go of it; the names stay readable either way.
  auto keeps_owner = [&](const std::string& header, std::size_t room) {
    auto owner = std::make_shared<std::string>(header + std::string(64, '7'));
    std::weak_ptr<std::string> watch = owner;
    auto index = sw::parse_header(std::string_view(*owner).substr(0, header.size()), room, 8, {}, owner);
    REQUIRE(index);
    const bool names_inside = inside(index->tensors()[0].name, *owner);
    owner.reset();
    CHECK(index->find("a") == &index->tensors()[0]);
    CHECK(index->tensors()[0].name == "a");
    const bool kept = !watch.expired();
    CHECK((kept || !names_inside));  // never a name into freed text
    { sw::header_index gone = std::move(*index); }
    CHECK(watch.expired());  // and nothing else holds it
    return kept;
  };
  const std::string canonical = json, general = " " + json;
  // The scanner needs 32 readable bytes after the text; the general parser
  // always reads a zero-padded copy (simdjson's numbers run on into digits).
  CHECK(keeps_owner(canonical, 64));
  CHECK(keeps_owner(canonical, 32));
  CHECK_FALSE(keeps_owner(canonical, 31));
  CHECK_FALSE(keeps_owner(general, 64));
  CHECK_FALSE(keeps_owner(general, 32));
  // The canonical scanner's names point into the text it was given.
  auto owner = std::make_shared<std::string>(canonical + std::string(64, '7'));
  auto in_place = sw::parse_header(std::string_view(*owner).substr(0, canonical.size()), 32, 8, {}, owner);
  REQUIRE(in_place);
  CHECK(inside(in_place->tensors()[0].name, *owner));
  // Without an owner: a copy, whatever the room.
  const std::string text = canonical + std::string(64, '7');
  for (std::size_t room : {std::size_t{0}, std::size_t{64}}) {
    auto copied = sw::parse_header(std::string_view(text).substr(0, canonical.size()), room, 8);
    REQUIRE(copied);
    CHECK_FALSE(inside(copied->tensors()[0].name, text));
  }
}

TEST_CASE("check_tensor: one rule check, the first fault in the order of R16-R20") {
  using sw::tensor_fault;
  const std::uint64_t two[] = {2}, three[] = {3}, huge[] = {std::uint64_t{1} << 62, 8};
  auto info = [](sw::dtype type, std::span<const std::uint64_t> shape, std::uint64_t begin, std::uint64_t end) {
    sw::tensor_info t;
    t.type = type;
    t.shape = shape;
    t.begin = begin;
    t.end = end;
    return t;
  };
  sw::tensor_size size;
  CHECK(sw::check_tensor(info(sw::dtype::F32, two, 0, 8), 0, size) == tensor_fault::none);
  CHECK(size.elements == 2);
  CHECK(size.bits == 64);
  CHECK(sw::check_tensor(info(sw::dtype::F32, two, 8, 4), 0, size) == tensor_fault::end_before_begin);  // not R17
  CHECK(sw::check_tensor(info(sw::dtype::F32, two, 4, 12), 0, size) == tensor_fault::not_contiguous);
  CHECK(sw::check_tensor(info(sw::dtype::F32, huge, 0, 8), 0, size) == tensor_fault::size_overflow);
  CHECK(sw::check_tensor(info(sw::dtype::F4, three, 0, 2), 0, size) == tensor_fault::subbyte_misaligned);
  CHECK(sw::check_tensor(info(sw::dtype::F32, two, 0, 12), 0, size) == tensor_fault::size_mismatch);
  CHECK(sw::error_code(tensor_fault::size_mismatch) == sw::errc::size_mismatch);
  CHECK(sw::error_code(tensor_fault::none) == sw::errc::ok);
}

TEST_CASE("to_floats: every float dtype a float holds, in every io_mode; integers and the rest refused") {
  test_support::scratch_dir dir;
  const std::vector<float> values{0.0f, -0.0f, 1.0f, -2.5f, 0.15625f, 448.0f};  // exact in every type below
  std::vector<std::uint8_t> e4m3(values.size()), e5m2(values.size());
  for (std::uint8_t code = 0;; ++code) {  // the codes whose value is each of `values`
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (sw::f8_to_float(sw::dtype::F8_E4M3, code) == values[i] && std::signbit(values[i]) ==
          std::signbit(sw::f8_to_float(sw::dtype::F8_E4M3, code))) e4m3[i] = code;
      if (sw::f8_to_float(sw::dtype::F8_E5M2, code) == values[i] && std::signbit(values[i]) ==
          std::signbit(sw::f8_to_float(sw::dtype::F8_E5M2, code))) e5m2[i] = code;
    }
    if (code == 255) break;
  }
  const std::uint64_t n = values.size();
  std::vector<std::int32_t> ints{1, 2, 3};
  std::vector<std::complex<float>> complex{{1.0f, 2.0f}};
  sw::writer w;
  REQUIRE(w.add("f32", sw::dtype::F32, {n}, values));
  REQUIRE(w.add("f64", sw::dtype::F64, {n}, values));
  REQUIRE(w.add("f16", sw::dtype::F16, {n}, values));
  REQUIRE(w.add("bf16", sw::dtype::BF16, {2, n / 2}, values));
  REQUIRE(w.add("e4m3", sw::dtype::F8_E4M3, {n}, std::as_bytes(std::span(e4m3))));
  REQUIRE(w.add("e5m2", sw::dtype::F8_E5M2, {n}, std::as_bytes(std::span(e5m2))));
  REQUIRE(w.add<std::int32_t>("i32", {3}, ints));
  REQUIRE(w.add<std::complex<float>>("c64", {1}, complex));
  REQUIRE(w.add("empty", sw::dtype::BF16, {0}, std::span<const float>{}));
  const std::string path = (dir / "floats.safetensors").string();
  REQUIRE(w.write_file(path));
  for (sw::io_mode mode : {sw::io_mode::mmap, sw::io_mode::pread}) {
    auto r = sw::reader::open(path, {.mode = mode}).value();
    for (const char* name : {"f32", "f64", "f16", "bf16", "e4m3", "e5m2"}) {
      CAPTURE(name);
      std::vector<float> got = r.tensor(name).value().to_floats().value();
      REQUIRE(got.size() == values.size());
      CHECK(std::memcmp(got.data(), values.data(), got.size() * sizeof(float)) == 0);  // -0 kept
    }
    CHECK(r.tensor("empty").value().to_floats().value().empty());
    auto refused = r.tensor("i32").value().to_floats();
    CHECK(refused.code() == sw::errc::dtype_mismatch);
    CHECK(refused.error_value().message ==
          "tensor `i32` is I32, not a float type to_floats() converts (F64, F32, F16, BF16, F8_*)");
    CHECK(r.tensor("c64").value().to_floats().code() == sw::errc::dtype_mismatch);
  }
}
