// Hostile files beyond the conformance set: each case gets its error code,
// or is accepted within bounded time and memory, and never crashes. Cases
// that could crash (a stack overflow, a SIGBUS) run in a child process, so a
// crash is a failed check rather than a dead test binary.
// spec/FORMAT.md §9 lists these cases; the time and memory figures for the
// largest ones are there too (measured outside the tests: tests never time).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <limits>
#include <map>
#include <optional>

#include "errc_printer.hpp"
#include "safeweights/integrity/file_digest.hpp"
#include "safeweights/safeweights.hpp"
#include "support.hpp"

namespace sw = safeweights;
using sw::errc;
using test_support::make_file;
using test_support::scratch_dir;
using test_support::write_bytes;

namespace {

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

std::vector<std::byte> with_prefix(std::uint64_t n, std::string_view rest) {
  std::vector<std::byte> out(8 + rest.size());
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>(n >> (8 * i));
  std::memcpy(out.data() + 8, rest.data(), rest.size());
  return out;
}

errc buffer_code(const std::vector<std::byte>& bytes, const sw::read_options& o = {}) {
  return sw::reader::from_buffer(bytes, o).code();
}

// The verdict on a real file, the same in both io modes (checked).
errc file_code(const std::vector<std::byte>& bytes, sw::read_options o = {}) {
  scratch_dir dir;
  std::string path = (dir / "hostile.safetensors").string();
  write_bytes(path, bytes);
  o.mode = sw::io_mode::mmap;
  auto a = sw::reader::open(path, o);
  o.mode = sw::io_mode::pread;
  auto b = sw::reader::open(path, o);
  CHECK(a.code() == b.code());
  return a.code();
}

// The code, from a child process; nullopt when the child crashed.
std::optional<int> in_child(const std::function<int()>& f) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE}) ::signal(sig, SIG_DFL);
    ::_exit(f());
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return std::nullopt;
}

std::optional<errc> code_in_child(const std::vector<std::byte>& bytes) {
  auto c = in_child([&] { return static_cast<int>(buffer_code(bytes)); });
  if (!c) return std::nullopt;
  return static_cast<errc>(*c);
}

// A header of exactly `size` bytes: one metadata value padded to fit.
std::string header_of_size(std::size_t size) {
  const std::string head = "{\"__metadata__\":{\"pad\":\"", tail = "\"}}";
  REQUIRE(size >= head.size() + tail.size());
  return head + std::string(size - head.size() - tail.size(), 'x') + tail;
}

}  // namespace

TEST_CASE("hostile: a length prefix past the end of the file, by one byte or near 2^64") {
  const std::string json = "{}";
  // Exactly the rest of the file: fine. One more: past the end.
  CHECK(file_code(with_prefix(json.size(), json)) == errc::ok);
  CHECK(file_code(with_prefix(json.size() + 1, json)) == errc::header_length_exceeds_file);
  CHECK(file_code(with_prefix(100'000'000, json)) == errc::header_length_exceeds_file);
  // Near 2^64 8 + N wraps; under the default limit it is simply too large,
  // with the limit lifted it is still past the end, never a tiny header.
  sw::read_options lifted;
  lifted.max_header_bytes = u64_max;
  for (std::uint64_t n : {u64_max, u64_max - 7, u64_max - 8, std::uint64_t{1} << 63, std::uint64_t{1} << 32}) {
    INFO("prefix ", n);
    CHECK(file_code(with_prefix(n, json)) == errc::header_too_large);
    CHECK(file_code(with_prefix(n, json), lifted) == errc::header_length_exceeds_file);
  }
}

TEST_CASE("hostile: a header of exactly the 100,000,000-byte limit is read; one byte more is refused before it is read") {
  const std::size_t limit = sw::read_options{}.max_header_bytes;
  REQUIRE(limit == 100'000'000);
  {
    std::string json = header_of_size(limit);
    auto bytes = make_file(json);
    json = {};
    scratch_dir dir;
    std::string path = (dir / "big.safetensors").string();
    write_bytes(path, bytes);
    for (sw::io_mode mode : {sw::io_mode::mmap, sw::io_mode::pread}) {
      sw::read_options o;
      o.mode = mode;
      auto r = sw::reader::open(path, o);
      REQUIRE_MESSAGE(r.has_value(), r.error_value().message);
      CHECK(r->index().header_size() == limit);
      CHECK(r->metadata_value("pad")->size() == limit - 27);
    }
    // One byte more than the limit, present in full: header_too_large.
    bytes.insert(bytes.begin() + 8 + 24, std::byte{'x'});
    std::uint64_t n = limit + 1;
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::byte>(n >> (8 * i));
    write_bytes(path, bytes);
    sw::read_options o;
    CHECK(sw::reader::open(path, o).code() == errc::header_too_large);
    o.max_header_bytes = limit + 1;  // raised, it reads
    CHECK(sw::reader::open(path, o).code() == errc::ok);
  }
  // The writer refuses to write what readers would refuse.
  sw::writer w;
  w.set_metadata("pad", std::string(limit, 'x'));
  CHECK(w.header().code() == errc::header_too_large);
}

TEST_CASE("hostile: 1,000,000 tiny tensors are indexed (both parsers), and max_tensors caps them early") {
  constexpr std::size_t count = 1'000'000;
  std::string json = "{";
  json.reserve(count * 64);
  char buf[128];
  for (std::size_t i = 0; i < count; ++i) {
    int n = std::snprintf(buf, sizeof buf, "%s\"t%zu\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}",
                          i ? "," : "", i, i, i + 1);
    json.append(buf, static_cast<std::size_t>(n));
  }
  json += "}";
  for (bool general : {false, true}) {
    const std::string path = general ? "general parser" : "canonical fast path";
    INFO(path);
    auto bytes = make_file(general ? " " + json : json, count, std::byte{7});
    auto r = sw::reader::from_buffer(bytes);
    REQUIRE_MESSAGE(r.has_value(), r.error_value().message);
    REQUIRE(r->tensors().size() == count);
    CHECK(r->tensors()[count - 1].name == "t999999");
    CHECK(r->find("t123456")->begin == 123456);
    CHECK(r->find("t1000000") == nullptr);
    // The cap stops the parse where it is passed, not after the whole header.
    sw::read_options capped;
    capped.max_tensors = 1000;
    CHECK(sw::reader::from_buffer(bytes, capped).code() == errc::too_many_tensors);
  }
}

// A header over 1 MiB gets a name table over 256 KiB, where names enter a few
// tensors after they are read (their slots prefetched). A repeat must still be
// found wherever it falls: inside that lag, exactly at it, or among the last
// names, which enter only when the header ends.
TEST_CASE("hostile: a repeated name in a header over 1 MiB is found wherever it falls (both parsers)") {
  constexpr int count = 25'000;
  auto entry = [](int i, const std::string& name) {
    return "\"" + name + "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[" + std::to_string(i) + "," +
           std::to_string(i + 1) + "]}";
  };
  auto name_of = [](int i) { return "layers." + std::to_string(i) + ".attn.weight"; };
  // Tensor `at` is renamed to repeat tensor `first`.
  auto header = [&](int first, int at) {
    std::string json = "{";
    for (int i = 0; i < count; ++i) json += (i ? "," : "") + entry(i, name_of(i == at ? first : i));
    return json + "}";
  };
  REQUIRE(header(0, 0).size() > (std::size_t{1} << 20));
  const std::pair<int, int> repeats[] = {{100, 101}, {100, 108}, {100, 109}, {0, count - 1}, {count - 9, count - 2}};
  for (auto [first, at] : repeats) {
    for (bool general : {false, true}) {
      INFO("tensor ", at, " repeats tensor ", first, general ? " (general parser)" : " (canonical fast path)");
      auto bytes = make_file((general ? " " : "") + header(first, at), count);
      auto r = sw::reader::from_buffer(bytes);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.code() == errc::duplicate_key);
      CHECK(r.error_value().message.find("`" + name_of(first) + "` appears twice") != std::string::npos);
    }
  }
  const auto unique_bytes = make_file(header(0, 0), count);  // `at` 0 renames nothing
  auto unique = sw::reader::from_buffer(unique_bytes);
  REQUIRE_MESSAGE(unique.has_value(), unique.error_value().message);
  CHECK(unique->find(name_of(count - 1))->begin == static_cast<std::uint64_t>(count - 1));
}

// Names chosen to share one probe chain are chosen for one seed only: every
// process draws its own, so a file cannot be built against all of them.
TEST_CASE("hostile: the name hash is keyed by a seed drawn per process, so colliding names are no use to a file") {
  CHECK(sw::detail::make_hash_seed() != sw::detail::make_hash_seed());
  const std::uint64_t seed_a = 0x0123456789abcdefull, seed_b = 0xfedcba9876543210ull;
  auto slot = [](std::uint64_t h) { return h >> 58; };  // the home slot in a 64-slot table
  std::vector<std::string> chain;  // 8 names that collide under seed_a
  for (int i = 0; chain.size() < 8; ++i) {
    std::string name = "layers." + std::to_string(i) + ".weight";
    if (slot(sw::detail::hash_name(name, seed_a)) == 0) chain.push_back(name);
  }
  std::map<std::uint64_t, int> under_b;
  for (const std::string& name : chain) ++under_b[slot(sw::detail::hash_name(name, seed_b))];
  int most = 0;
  for (auto& [s, count] : under_b) most = std::max(most, count);
  CHECK(most < 8);
  CHECK(under_b.size() >= 4);
}

TEST_CASE("hostile: names, metadata keys and values of 1 MB") {
  const std::string big(1 << 20, 'n');
  std::string json = "{\"__metadata__\":{\"" + big + "\":\"" + std::string(1 << 20, 'v') + "\"},\"" + big +
                     "\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},\"" + big +
                     "b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]}}";
  auto bytes = make_file(json, 3);
  CHECK(file_code(bytes) == errc::ok);
  auto r = sw::reader::from_buffer(bytes).value();
  CHECK(r.find(big)->byte_size() == 2);
  CHECK(r.find(big + "b")->begin == 2);
  CHECK(r.metadata_value(big)->size() == (1u << 20));
  // The same 1 MB name twice.
  auto twice = make_file("{\"" + big + "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"" + big +
                             "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                         2);
  CHECK(buffer_code(twice) == errc::duplicate_key);
  // Messages cut such names short.
  auto r2 = sw::reader::from_buffer(twice);
  CHECK(r2.error_value().message.size() < 1000);
}

TEST_CASE("hostile: metadata of 100,000 keys keeps its order and finds every key; a repeat is refused") {
  constexpr int keys = 100'000;
  std::string meta;
  for (int i = 0; i < keys; ++i) meta += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"" + std::to_string(i * 7) + "\"";
  for (bool general : {false, true}) {
    auto bytes = make_file(std::string(general ? " " : "") + "{\"__metadata__\":{" + meta + "}}");
    auto r = sw::reader::from_buffer(bytes);
    REQUIRE(r.has_value());
    REQUIRE(r->metadata().size() == keys);
    CHECK(r->metadata()[54321].key == "k54321");
    bool all_found = true;
    for (int i = 0; i < keys; i += 97)
      all_found = all_found && r->metadata_value("k" + std::to_string(i)) == std::optional<std::string_view>(std::to_string(i * 7));
    CHECK(all_found);
    auto repeated = make_file(std::string(general ? " " : "") + "{\"__metadata__\":{" + meta + ",\"k0\":\"again\"}}");
    CHECK(buffer_code(repeated) == errc::duplicate_key);
  }
}

TEST_CASE("hostile: 100,000 levels of nesting anywhere get a code, never a crash") {
  constexpr int depth = 100'000;
  const std::string arrays = std::string(depth, '[') + std::string(depth, ']');
  std::string objects;
  for (int i = 0; i < depth; ++i) objects += "{\"k\":";
  objects += "1" + std::string(depth, '}');
  const struct {
    const char* where;
    std::string json;
    errc want;
  } cases[] = {
      {"root", arrays, errc::header_invalid_json},
      {"root, unclosed", std::string(depth, '['), errc::header_invalid_json},
      {"tensor entry", "{\"a\":" + arrays + "}", errc::invalid_tensor_entry},
      {"dtype", "{\"a\":{\"dtype\":" + arrays + "}}", errc::invalid_tensor_entry},
      {"shape", "{\"a\":{\"dtype\":\"U8\",\"shape\":" + arrays + "}}", errc::invalid_shape},
      {"data_offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":" + arrays + "}}",
       errc::invalid_data_offsets},
      {"unknown field, arrays", "{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],\"x\":" + arrays + "}}",
       errc::header_invalid_json},
      {"unknown field, objects", "{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],\"x\":" + objects + "}}",
       errc::header_invalid_json},
      {"__metadata__", "{\"__metadata__\":" + objects + "}", errc::invalid_metadata},
      {"metadata value", "{\"__metadata__\":{\"k\":" + arrays + "}}", errc::invalid_metadata},
  };
  for (const auto& c : cases) {
    for (bool general : {false, true}) {
      const std::string where = std::string(c.where) + (general ? ", general parser" : "");
      INFO(where);
      auto code = code_in_child(make_file((general ? " " : "") + c.json, 1));
      REQUIRE_MESSAGE(code.has_value(), "the reader crashed");
      CHECK(*code == c.want);
    }
  }
}

TEST_CASE("hostile: numbers with leading zeros, signs, fractions, exponents or past 2^64 are refused") {
  // Malformed numbers get the field's code; tokens that cannot start any
  // JSON value are JSON errors. The same verdicts from both parsers.
  const struct {
    const char* number;
    errc shape, offsets;
  } cases[] = {
      {"01", errc::invalid_shape, errc::invalid_data_offsets},
      {"00", errc::invalid_shape, errc::invalid_data_offsets},
      {"-0", errc::invalid_shape, errc::invalid_data_offsets},
      {"-1", errc::invalid_shape, errc::invalid_data_offsets},
      {"1e0", errc::invalid_shape, errc::invalid_data_offsets},
      {"1E3", errc::invalid_shape, errc::invalid_data_offsets},
      {"1e-3", errc::invalid_shape, errc::invalid_data_offsets},
      {"1.0", errc::invalid_shape, errc::invalid_data_offsets},
      {"1.", errc::invalid_shape, errc::invalid_data_offsets},
      {"0x10", errc::invalid_shape, errc::invalid_data_offsets},
      {"-", errc::invalid_shape, errc::invalid_data_offsets},
      {"18446744073709551616", errc::invalid_shape, errc::invalid_data_offsets},  // 2^64
      {"100000000000000000000000000000", errc::invalid_shape, errc::invalid_data_offsets},
      {"\"1\"", errc::invalid_shape, errc::invalid_data_offsets},
      {"true", errc::invalid_shape, errc::invalid_data_offsets},
      {"null", errc::invalid_shape, errc::invalid_data_offsets},
      {"+1", errc::header_invalid_json, errc::header_invalid_json},
      {".5", errc::header_invalid_json, errc::header_invalid_json},
      {"Infinity", errc::header_invalid_json, errc::header_invalid_json},
      {"NaN", errc::header_invalid_json, errc::header_invalid_json},
  };
  const std::string thousand_digits(1000, '9');
  for (const auto& c : cases) {
    for (const char* lead : {"", " "}) {
      const std::string what = std::string(c.number) + (lead[0] ? " (general parser)" : "");
      INFO(what);
      std::string shape = std::string(lead) + "{\"a\":{\"dtype\":\"U8\",\"shape\":[" + c.number + "],\"data_offsets\":[0,1]}}";
      std::string offsets = std::string(lead) + "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0," + c.number + "]}}";
      CHECK(buffer_code(make_file(shape, 1)) == c.shape);
      CHECK(buffer_code(make_file(offsets, 1)) == c.offsets);
    }
  }
  CHECK(buffer_code(make_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[" + thousand_digits + "],\"data_offsets\":[0,1]}}", 1)) ==
        errc::invalid_shape);
  // 2^64 - 1 is an integer: it fails on size, as a number in range should.
  CHECK(buffer_code(make_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[18446744073709551615],\"data_offsets\":[0,1]}}", 1)) ==
        errc::size_overflow);
  CHECK(buffer_code(make_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}", 1)) ==
        errc::size_mismatch);
}

TEST_CASE("hostile: a file that shrinks after it was opened: pread mode reports it, a mapping raises SIGBUS") {
  scratch_dir dir;
  std::string path = (dir / "shrinks.safetensors").string();
  const std::size_t n = 1 << 20;  // many pages, so the lost ones are not the header's
  std::vector<float> w(n / 4, 1.5f);
  sw::writer wr;
  REQUIRE(wr.add<float>("w", {n / 4}, w).has_value());
  auto original = wr.serialize().value();

  SUBCASE("pread: file_changed from tensor(), read_into(), load() and digest_file(), never a signal") {
    write_bytes(path, original);
    sw::read_options o;
    o.mode = sw::io_mode::pread;
    auto r = sw::reader::open(path, o).value();
    auto file = sw::file_handle::open_read(path).value();
    REQUIRE(::truncate(path.c_str(), 4096) == 0);
    const sw::tensor_info& t = r.tensors()[0];
    CHECK(r.tensor(t).code() == errc::file_changed);
    std::vector<std::byte> dst(t.byte_size());
    CHECK(r.read_into(t, dst).code() == errc::file_changed);
    CHECK(r.load().code() == errc::file_changed);
    CHECK(sw::digest_file(file).code() == errc::file_changed);
  }
  SUBCASE("mmap: touching a lost page through a view kills the process with SIGBUS (documented, spec §8)") {
    int status = 0;
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::signal(SIGBUS, SIG_DFL);
      write_bytes(path, original);
      auto r = sw::reader::open(path).value();
      auto v = r.tensor("w").value();
      if (::truncate(path.c_str(), 4096) != 0) ::_exit(100);
      volatile std::uint8_t x = 0;
      for (std::byte b : v.bytes()) x = x ^ static_cast<std::uint8_t>(b);
      ::_exit(0);
    }
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGBUS);
  }
}
