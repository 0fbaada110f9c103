// One TEST_CASE per validation rule of spec/FORMAT.md, named with the rule id.
// Every case is a hand-made header: codes are compared, not message text,
// except that a message must name the tensor it is about.
//
// Rejections are checked twice: on the header as written and on the same
// header with a leading space, which the canonical fast path never takes, so
// both parsers are held to each verdict. Acceptances compare the two results
// field by field.
#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "errc_printer.hpp"
#include "safeweights/safeweights.hpp"
#include "support.hpp"

namespace sw = safeweights;
using sw::errc;

namespace {

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

// A file image and the reader over it; the reader borrows the bytes.
struct image {
  explicit image(std::vector<std::byte> b, const sw::read_options& o = {})
      : bytes(std::move(b)), r(sw::reader::from_buffer(bytes, o)) {}
  image(image&&) = default;  // the vector's buffer moves with it, so the reader's span stays valid
  image(const image&) = delete;

  std::vector<std::byte> bytes;
  sw::result<sw::reader> r;

  errc code() const { return r.code(); }
  std::string message() const { return r ? std::string() : r.error_value().message; }
  const sw::reader& operator*() const { return *r; }
  const sw::reader* operator->() const { return &*r; }
};

image parse(std::string_view json, std::size_t data = 0, const sw::read_options& o = {}) {
  return image(test_support::make_file(json, data), o);
}

// "name":{"dtype":...,"shape":...,"data_offsets":...}
std::string entry(std::string_view name, std::string_view dtype, std::string_view shape, std::string_view offsets) {
  std::string s = "\"";
  s += name;
  s += "\":{\"dtype\":\"";
  s += dtype;
  s += "\",\"shape\":";
  s += shape;
  s += ",\"data_offsets\":";
  s += offsets;
  s += "}";
  return s;
}

// A header holding one tensor "a".
std::string one(std::string_view dtype, std::string_view shape, std::string_view offsets) {
  return "{" + entry("a", dtype, shape, offsets) + "}";
}

std::string excerpt(std::string_view json) {
  return std::string(json.substr(0, 160)) + (json.size() > 160 ? "..." : "");
}

std::string quoted(std::string_view name) { return "`" + std::string(name) + "`"; }

std::vector<std::uint64_t> shape_of(const sw::tensor_info& t) { return {t.shape.begin(), t.shape.end()}; }

std::vector<std::string> names_of(const sw::reader& r) {
  std::vector<std::string> out;
  for (const auto& t : r.tensors()) out.emplace_back(t.name);
  return out;
}

// The header rejected with `want`, as written and behind a leading space; the
// message names `tensor` when one is given.
void check_reject(std::string_view json, std::size_t data, errc want, std::string_view tensor = {},
                  const sw::read_options& o = {}) {
  INFO("header: ", excerpt(json));
  auto a = parse(json, data, o);
  CHECK_MESSAGE(a.code() == want, a.message());
  auto b = parse(" " + std::string(json), data, o);
  CHECK_MESSAGE(b.code() == want, "general parser: ", b.message());
  if (!tensor.empty()) CHECK_MESSAGE(a.message().find(quoted(tensor)) != std::string::npos, a.message());
}

// Two readers of the same header agree on every field.
void check_same(const sw::reader& x, const sw::reader& y) {
  REQUIRE(x.tensors().size() == y.tensors().size());
  for (std::size_t i = 0; i < x.tensors().size(); ++i) {
    const auto& a = x.tensors()[i];
    const auto& b = y.tensors()[i];
    CHECK(a.name == b.name);
    CHECK(a.type == b.type);
    CHECK(shape_of(a) == shape_of(b));
    CHECK(a.begin == b.begin);
    CHECK(a.end == b.end);
    CHECK(a.elements == b.elements);
  }
  CHECK(x.has_metadata() == y.has_metadata());
  REQUIRE(x.metadata().size() == y.metadata().size());
  for (std::size_t i = 0; i < x.metadata().size(); ++i) {
    CHECK(x.metadata()[i].key == y.metadata()[i].key);
    CHECK(x.metadata()[i].value == y.metadata()[i].value);
  }
}

// The header accepted as written and behind a leading space, with equal results.
image check_accept(std::string_view json, std::size_t data = 0, const sw::read_options& o = {}) {
  INFO("header: ", excerpt(json));
  auto a = parse(json, data, o);
  REQUIRE_MESSAGE(a.r, a.message());
  auto b = parse(" " + std::string(json), data, o);
  REQUIRE_MESSAGE(b.r, "general parser: ", b.message());
  check_same(*a, *b);
  CHECK(a->index().header_size() == json.size());
  CHECK(a->index().data_offset() == 8 + json.size());
  return a;
}

// Opens the image as a real file, in both io modes; returns the verdict.
errc open_file_code(const std::vector<std::byte>& bytes, sw::read_options o = {}) {
  test_support::scratch_dir dir;
  std::string path = (dir / "t.safetensors").string();
  test_support::write_bytes(path, bytes);
  o.mode = sw::io_mode::mmap;
  auto a = sw::reader::open(path, o);
  o.mode = sw::io_mode::pread;
  auto b = sw::reader::open(path, o);
  CHECK(a.code() == b.code());
  if (!a) CHECK_MESSAGE(a.error_value().message.rfind(path + ": ", 0) == 0, a.error_value().message);
  return a.code();
}

// A length prefix of `n` followed by `rest`, whatever n says.
std::vector<std::byte> with_prefix(std::uint64_t n, std::string_view rest) {
  std::vector<std::byte> out(8 + rest.size());
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>(n >> (8 * i));
  std::memcpy(out.data() + 8, rest.data(), rest.size());
  return out;
}

// Runs `f` in a child process so that a crash (a stack overflow, say) fails
// the check instead of killing the test binary. nullopt means it crashed.
std::optional<errc> in_child(const std::function<errc()>& f) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Die of the signal itself: doctest's crash handler must not report
    // from the child.
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE}) ::signal(sig, SIG_DFL);
    ::_exit(static_cast<int>(f()));
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  if (WIFEXITED(status)) return static_cast<errc>(WEXITSTATUS(status));
  return std::nullopt;
}

errc parse_code(const std::string& json, std::size_t data = 0) { return parse(json, data).code(); }

}  // namespace

// ---------------------------------------------------------------------------
// The length prefix

TEST_CASE("R1: a file shorter than the 8-byte length prefix is rejected") {
  for (std::size_t n = 0; n < 8; ++n) {
    INFO("size ", n);
    std::vector<std::byte> bytes(n, std::byte{'{'});
    CHECK(sw::reader::from_buffer(bytes).code() == errc::header_too_small);
  }
  CHECK(open_file_code({}) == errc::header_too_small);
  CHECK(open_file_code(std::vector<std::byte>(7, std::byte{0})) == errc::header_too_small);
  // Eight bytes are a whole prefix: an empty header is the next problem, not this one.
  std::vector<std::byte> eight(8, std::byte{0});
  CHECK(sw::reader::from_buffer(eight).code() == errc::header_invalid_json);
  CHECK(open_file_code(eight) == errc::header_invalid_json);
}

TEST_CASE("R2: a length prefix over max_header_bytes is rejected") {
  CHECK(sw::read_options{}.max_header_bytes == 100'000'000);
  // Over the default limit: rejected before the file size is even considered.
  auto over = with_prefix(100'000'001, "{}");
  CHECK(sw::reader::from_buffer(over).code() == errc::header_too_large);
  CHECK(open_file_code(over) == errc::header_too_large);
  // At the limit the prefix is allowed; that this file is too short is R3's business.
  CHECK(sw::reader::from_buffer(with_prefix(100'000'000, "{}")).code() == errc::header_length_exceeds_file);

  // A lowered limit, on a header that is otherwise valid.
  std::string json = one("F32", "[1]", "[0,4]");
  auto bytes = test_support::make_file(json, 4);
  sw::read_options o;
  o.max_header_bytes = json.size() - 1;
  auto r = sw::reader::from_buffer(bytes, o);
  CHECK(r.code() == errc::header_too_large);
  CHECK(open_file_code(bytes, o) == errc::header_too_large);
  o.max_header_bytes = json.size();
  CHECK(sw::reader::from_buffer(bytes, o).code() == errc::ok);
  CHECK(open_file_code(bytes, o) == errc::ok);
  o.max_header_bytes = 0;
  CHECK(sw::reader::from_buffer(bytes, o).code() == errc::header_too_large);

  // A CSV file: its first 8 bytes read as a length mean nothing, so the
  // message says what the file is not instead of printing that number.
  const std::string csv = "name,age\nalice,30\nbob,40\n";
  auto not_ours = sw::reader::from_buffer(std::as_bytes(std::span(csv.data(), csv.size())));
  REQUIRE(not_ours.code() == errc::header_too_large);
  std::uint64_t as_number = 0;
  std::memcpy(&as_number, csv.data(), 8);
  CHECK(not_ours.error_value().message.find("not a safetensors file") != std::string::npos);
  CHECK(not_ours.error_value().message.find(std::to_string(as_number)) == std::string::npos);
  // A plausible length over a lowered limit still shows its value.
  CHECK(sw::reader::from_buffer(bytes, o).error_value().message.find(std::to_string(json.size())) != std::string::npos);
}

TEST_CASE("R3: a length prefix past the end of the file is rejected, without overflow near 2^64") {
  auto past = with_prefix(3, "{}");
  CHECK(sw::reader::from_buffer(past).code() == errc::header_length_exceeds_file);
  CHECK(open_file_code(past) == errc::header_length_exceeds_file);
  // A prefix that ends exactly at the end of the file is fine.
  CHECK(sw::reader::from_buffer(with_prefix(2, "{}")).code() == errc::ok);

  // With the size limit lifted, 8 + N wraps around to 0..7 for these N: a
  // reader that adds before comparing would take them for tiny headers.
  sw::read_options lifted;
  lifted.max_header_bytes = u64_max;
  for (std::uint64_t n : {u64_max - 7, u64_max - 6, u64_max - 1, u64_max, std::uint64_t{1} << 63}) {
    INFO("prefix ", n);
    auto bytes = with_prefix(n, "{}");
    CHECK(sw::reader::from_buffer(bytes, lifted).code() == errc::header_length_exceeds_file);
    CHECK(open_file_code(bytes, lifted) == errc::header_length_exceeds_file);
    // Under the default limit the same prefixes are simply too large.
    CHECK(sw::reader::from_buffer(bytes).code() == errc::header_too_large);
  }
}

// ---------------------------------------------------------------------------
// The header as text

TEST_CASE("R4: a header that is not UTF-8 is rejected") {
  const std::string tail = "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}";
  for (std::string bad : {std::string("\xff"),              // never valid
                          std::string("\xc0\xaf"),          // overlong '/'
                          std::string("\xed\xa0\x80"),      // a UTF-16 surrogate, encoded
                          std::string("\xf4\x90\x80\x80"),  // past U+10FFFF
                          std::string("\xe2\x82"),          // truncated sequence
                          std::string("\x80")}) {           // lone continuation byte
    check_reject("{\"a" + bad + tail, 0, errc::header_invalid_utf8);
  }
  // Anywhere in the header: an unknown field, a metadata value, the padding.
  check_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0],\"x\":\"\xff\"}}", 0,
               errc::header_invalid_utf8);
  check_reject("{\"__metadata__\":{\"k\":\"\xc3\"}}", 0, errc::header_invalid_utf8);
  check_reject("{}   \xff", 0, errc::header_invalid_utf8);
  CHECK(open_file_code(test_support::make_file("{\"\xff\":1}")) == errc::header_invalid_utf8);

  // Multi-byte UTF-8 is fine, and the name comes back byte for byte.
  const std::string name = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // é € 😀
  auto r = check_accept("{" + entry(name, "U8", "[1]", "[0,1]") + "}", 1);
  REQUIRE(r->tensors().size() == 1);
  CHECK(r->tensors()[0].name == name);
}

TEST_CASE("R4: the writer never writes a header that is not UTF-8") {
  std::vector<std::byte> one_byte(1);
  SUBCASE("a tensor name") {
    sw::writer w;
    CHECK(w.add("\xff", sw::dtype::U8, {1}, one_byte).code() == errc::invalid_argument);
    CHECK(w.add("ok\xc0\xaf", sw::dtype::U8, {1}, one_byte).code() == errc::invalid_argument);  // overlong '/'
    CHECK(w.add("\xed\xa0\x80", sw::dtype::U8, {1}, one_byte).code() == errc::invalid_argument);  // surrogate
    CHECK(w.size() == 0);
    CHECK(w.add("caf\xc3\xa9", sw::dtype::U8, {1}, one_byte).code() == errc::ok);
    auto bytes = w.serialize();
    REQUIRE(bytes);
    CHECK(sw::reader::from_buffer(*bytes).code() == errc::ok);
  }
  SUBCASE("a metadata key or value") {
    for (auto [key, value] : {std::pair<std::string, std::string>{"k\xed\xa0\x80", "v"}, {"k", "\xe2\x82"}}) {
      sw::writer w;
      w.set_metadata(key, value);
      CHECK(w.serialize().code() == errc::invalid_argument);
      CHECK(w.header().code() == errc::invalid_argument);
    }
  }
}

TEST_CASE("R5: a header that is not JSON is rejected") {
  for (std::string bad : {
           std::string(""),
           std::string("   "),
           std::string("not json"),
           std::string("{"),
           std::string("}"),
           std::string("{'a':1}"),
           std::string("{a:1}"),
           std::string("{,}"),
           std::string("{\"a\" \"b\"}"),
           std::string("{\"__metadata__\":{\"k\":\"v\",}}"),
           std::string("{\"__metadata__\":{\"k\":\"v\"}"),                // object never closed
           std::string("{\"__metadata__\":{\"k\":\"v\\q\"}}"),            // bad escape
           std::string("{\"__metadata__\":{\"k\":\"v\\u12\"}}"),          // short \u escape
           std::string("{\"__metadata__\":{\"k\":\"unterminated}}"),
           std::string("{\"\\ud800\":{}}"),                                // lone surrogate escape
           std::string("{\"\\udc00\\ud800\":{}}"),                         // surrogates reversed
           std::string("{\"a\x01\":{}}"),                                  // raw control character
           std::string("{\"a\tb\":{}}"),                                   // raw tab inside a string
       }) {
    check_reject(bad, 0, errc::header_invalid_json);
  }
  CHECK(open_file_code(test_support::make_file("{\"a\" \"b\"}")) == errc::header_invalid_json);
}

// A value missing after a colon is a syntax error, but the parser asks for the
// expected type first and reports the schema code of whatever it expected. The
// file is rejected either way; only the code is wrong. See the report.
TEST_CASE("R5: a value missing after a colon is a JSON error, not a schema error") {
  check_reject("{\"a\":}", 0, errc::header_invalid_json);
  check_reject("{\"a\":,\"b\":{}}", 0, errc::header_invalid_json);
  check_reject("{\"__metadata__\":}", 0, errc::header_invalid_json);
  check_reject("{\"a\":{\"dtype\":}}", 0, errc::header_invalid_json);
  check_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":,\"data_offsets\":[0,4]}}", 4, errc::header_invalid_json);
  check_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":}}", 4, errc::header_invalid_json);
}

TEST_CASE("R5: text after the object is rejected, white space around it is accepted") {
  const std::string t = one("F32", "[1]", "[0,4]");
  for (std::string after : {std::string("{}"), std::string(" x"), std::string(","), std::string("}"),
                            std::string("\0", 1), std::string(" \0", 2), std::string("\v"), std::string("\f"),
                            std::string("\xc2\xa0"), std::string(" //"), std::string("[]"), std::string("0")}) {
    INFO("after: ", excerpt(after));
    check_reject("{}" + after, 0, errc::header_invalid_json);
    check_reject(t + after, 4, errc::header_invalid_json);
  }
  // Only the four JSON white space characters are white space.
  check_reject("\v{}", 0, errc::header_invalid_json);
  check_reject("\f{}", 0, errc::header_invalid_json);
  check_reject("\xc2\xa0{}", 0, errc::header_invalid_json);

  for (std::string before : {std::string(""), std::string(" "), std::string(" \t\r\n"), std::string(1000, ' ')}) {
    for (std::string after : {std::string(""), std::string("   "), std::string("\n"), std::string("\r\n\t ")}) {
      auto r = check_accept(before + t + after, 4);
      REQUIRE(r->tensors().size() == 1);
      CHECK(r->tensors()[0].name == "a");
      CHECK(r->tensors()[0].end == 4);
    }
  }
  // White space between tokens, too.
  auto r = check_accept("{ \"a\" :\n{ \"dtype\" : \"F32\" ,\t\"shape\" : [ 1 ] , \"data_offsets\" : [ 0 , 4 ] } }", 4);
  REQUIRE(r->tensors().size() == 1);
  CHECK(shape_of(r->tensors()[0]) == std::vector<std::uint64_t>{1});
}

// On Demand does not bound nesting and the walk over unknown values recurses
// once per level; run in a child process so a crash is reported as a failure.
TEST_CASE("R5: nesting 100,000 deep in an unknown field or at the root is rejected without a crash") {
  const std::string open(100'000, '['), close(100'000, ']');
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += "{\"k\":";
  const std::string head = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":";
  const struct {
    const char* what;
    std::string json;
  } cases[] = {
      {"unknown field, arrays, unclosed", head + open + "}}"},
      {"unknown field, arrays, closed", head + open + close + "}}"},
      {"unknown field, objects, unclosed", head + objects + "}}"},
      {"root array, closed", open + close},
      {"root array, unclosed", open},
  };
  for (const auto& c : cases) {
    INFO(std::string(c.what));
    auto code = in_child([&] { return parse_code(c.json, 4); });
    CHECK_MESSAGE(code.has_value(), "the reader crashed");
    if (code) CHECK(*code == errc::header_invalid_json);
  }
}

TEST_CASE("R5: up to 127 nested arrays or objects are accepted, as by the reference; 128 are not") {
  const std::string head = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":";
  auto arrays = [](int n) { return std::string(static_cast<std::size_t>(n), '[') + std::string(static_cast<std::size_t>(n), ']'); };
  auto objects = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "{\"k\":";
    s += "1";
    return s + std::string(static_cast<std::size_t>(n), '}');
  };
  // The root object and the entry are two levels: 125 more make 127.
  check_accept(head + arrays(125) + "}}", 4);
  check_accept(head + objects(125) + "}}", 4);
  check_reject(head + arrays(126) + "}}", 4, errc::header_invalid_json);
  check_reject(head + objects(126) + "}}", 4, errc::header_invalid_json);
  // A root that is not an object: 127 levels are JSON (R6), 128 are not (R5).
  check_reject(arrays(127), 0, errc::header_not_object);
  check_reject(arrays(128), 0, errc::header_invalid_json);
}

TEST_CASE("R6: a header that is JSON but not an object is rejected") {
  for (std::string bad : {std::string("[]"), std::string("[1,2]"), std::string("[{}]"), std::string("\"abc\""),
                          std::string("\"{}\""), std::string("12"), std::string("-1.5e3"), std::string("0"),
                          std::string("null"), std::string("true"), std::string("false"), std::string(" [] ")}) {
    check_reject(bad, 0, errc::header_not_object);
  }
  CHECK(open_file_code(test_support::make_file("[]")) == errc::header_not_object);
  // Not JSON at all stays R5, even when it starts like a value.
  check_reject("nul", 0, errc::header_invalid_json);
  check_reject("[1,", 0, errc::header_invalid_json);
  check_reject("[] x", 0, errc::header_invalid_json);
}

// ---------------------------------------------------------------------------
// Tensor entries

TEST_CASE("R7: a tensor entry is an object with dtype, shape and data_offsets exactly once") {
  SUBCASE("entry not an object") {
    for (std::string v : {"[]", "\"x\"", "1", "null", "true", "[{\"dtype\":\"F32\"}]"})
      check_reject("{\"a\":" + v + "}", 0, errc::invalid_tensor_entry, "a");
  }
  SUBCASE("a field missing") {
    check_reject("{\"a\":{}}", 0, errc::invalid_tensor_entry, "a");
    check_reject("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, errc::invalid_tensor_entry, "a");
    check_reject("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, errc::invalid_tensor_entry, "a");
    check_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, errc::invalid_tensor_entry, "a");
    // A field name must match exactly.
    check_reject("{\"a\":{\"Dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, errc::invalid_tensor_entry, "a");
  }
  SUBCASE("a field repeated, even with the same value") {
    check_reject("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                 errc::invalid_tensor_entry, "a");
    check_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                 errc::invalid_tensor_entry, "a");
    check_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"data_offsets\":[0,4]}}", 4,
                 errc::invalid_tensor_entry, "a");
    // Spelled with an escape, it is the same field.
    check_reject("{\"a\":{\"dtype\":\"F32\",\"\\u0064type\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                 errc::invalid_tensor_entry, "a");
  }
  SUBCASE("dtype not a string") {
    for (std::string v : {"1", "null", "[\"F32\"]", "{}", "true"})
      check_reject("{\"a\":{\"dtype\":" + v + ",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                   errc::invalid_tensor_entry, "a");
  }
  SUBCASE("the message names the entry at fault, not the first one") {
    check_reject("{" + entry("a", "F32", "[1]", "[0,4]") + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1]}}", 8,
                 errc::invalid_tensor_entry, "b");
  }
  SUBCASE("fields in any order") {
    auto r = check_accept("{\"a\":{\"data_offsets\":[0,6],\"shape\":[3],\"dtype\":\"I16\"}}", 6);
    REQUIRE(r->tensors().size() == 1);
    CHECK(r->tensors()[0].type == sw::dtype::I16);
    CHECK(shape_of(r->tensors()[0]) == std::vector<std::uint64_t>{3});
    CHECK(r->tensors()[0].end == 6);
  }
}

TEST_CASE("R8: unknown fields are accepted but must be valid JSON") {
  SUBCASE("accepted, and ignored") {
    auto r = check_accept(
        "{\"a\":{\"x\":{\"y\":[1,-2.5e3,null,true,false,\"s\\n\",{}],\"z\":[[[[[[[[[[0]]]]]]]]]]},"
        "\"dtype\":\"U16\",\"\":0,\"x\":\"again\",\"DTYPE\":\"F64\",\"shape\":[2],\"offsets\":[9,9],"
        "\"data_offsets\":[0,4],\"__metadata__\":null}}",
        4);
    REQUIRE(r->tensors().size() == 1);
    CHECK(r->tensors()[0].type == sw::dtype::U16);
    CHECK(shape_of(r->tensors()[0]) == std::vector<std::uint64_t>{2});
    CHECK(r->tensors()[0].begin == 0);
    CHECK(r->tensors()[0].end == 4);
    CHECK_FALSE(r->has_metadata());
  }
  SUBCASE("invalid JSON inside an unknown field") {
    const std::string head = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":";
    for (std::string bad : {"[1,}", "[1", "tru", "nul", "nulll", "01", "-", "1.", ".5", "1e", "+1", "NaN",
                            "Infinity", "\"\\q\"", "\"\\u00\"", "\"\\ud800\"", "{\"k\"}", "{\"k\":}", "{1:2}",
                            "'s'", "[1 2]"}) {
      INFO("value: ", bad);
      check_reject(head + bad + "}}", 4, errc::header_invalid_json);
    }
    // Before the known fields, too.
    check_reject("{\"a\":{\"x\":[1,],\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                 errc::header_invalid_json);
  }
}

TEST_CASE("R9: the dtype is one of the 22 names, exactly") {
  struct row {
    const char* name;
    sw::dtype type;
    unsigned bits;
  };
  // The reference's rank order (the writer sorts by it), with bit widths.
  const row rows[] = {
      {"BOOL", sw::dtype::BOOL, 8},          {"F4", sw::dtype::F4, 4},
      {"F6_E2M3", sw::dtype::F6_E2M3, 6},    {"F6_E3M2", sw::dtype::F6_E3M2, 6},
      {"U8", sw::dtype::U8, 8},              {"I8", sw::dtype::I8, 8},
      {"F8_E5M2", sw::dtype::F8_E5M2, 8},    {"F8_E4M3", sw::dtype::F8_E4M3, 8},
      {"F8_E8M0", sw::dtype::F8_E8M0, 8},    {"F8_E4M3FNUZ", sw::dtype::F8_E4M3FNUZ, 8},
      {"F8_E5M2FNUZ", sw::dtype::F8_E5M2FNUZ, 8}, {"I16", sw::dtype::I16, 16},
      {"U16", sw::dtype::U16, 16},           {"F16", sw::dtype::F16, 16},
      {"BF16", sw::dtype::BF16, 16},         {"I32", sw::dtype::I32, 32},
      {"U32", sw::dtype::U32, 32},           {"F32", sw::dtype::F32, 32},
      {"C64", sw::dtype::C64, 64},           {"F64", sw::dtype::F64, 64},
      {"I64", sw::dtype::I64, 64},           {"U64", sw::dtype::U64, 64},
  };
  REQUIRE(std::size(rows) == sw::dtype_count);
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    const row& w = rows[i];
    INFO("dtype ", w.name);
    CHECK(static_cast<std::size_t>(w.type) == i);
    CHECK(sw::rank_of(w.type) == i);
    CHECK(sw::dtype_name(w.type) == w.name);
    CHECK(sw::bit_width(w.type) == w.bits);
    // 8 elements of any dtype take `bits` bytes.
    auto r = check_accept(one(w.name, "[8]", "[0," + std::to_string(w.bits) + "]"), w.bits);
    REQUIRE(r->tensors().size() == 1);
    CHECK(r->tensors()[0].type == w.type);
    CHECK(r->tensors()[0].elements == 8);
  }
  SUBCASE("unknown names") {
    for (std::string bad : {"F128", "f32", "bf16", "Bool", "Float32", "float", "F32 ", " F32", "F8", "F6", "U4",
                            "C128", "F32\\u0000", "BOOL\\n", "I8_", "\\u0066\\u0033\\u0032"}) {
      INFO("dtype: ", bad);
      check_reject(one(bad, "[1]", "[0,4]"), 4, errc::unknown_dtype, "a");
    }
  }
  SUBCASE("escapes are resolved before the name is looked up") {
    auto r = check_accept(one("\\u0046\\u0033\\u0032", "[1]", "[0,4]"), 4);
    CHECK(r->tensors()[0].type == sw::dtype::F32);
    auto s = check_accept(one("B\\u00461\\u0036", "[2]", "[0,4]"), 4);
    CHECK(s->tensors()[0].type == sw::dtype::BF16);
  }
  SUBCASE("a run of one dtype, then another") {
    auto r = check_accept("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[4,8]") + "," +
                              entry("c", "I8", "[1]", "[8,9]") + "," + entry("d", "F32", "[1]", "[9,13]") + "}",
                          13);
    REQUIRE(r->tensors().size() == 4);
    CHECK(r->tensors()[1].type == sw::dtype::F32);
    CHECK(r->tensors()[2].type == sw::dtype::I8);
    CHECK(r->tensors()[3].type == sw::dtype::F32);
    check_reject("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F3", "[1]", "[4,8]") + "}", 8,
                 errc::unknown_dtype, "b");
  }
}

// The canonical fast path caches the last dtype name it looked up and starts
// with an empty cached name mapped to F32, so "" as the first dtype is taken
// for F32. The general parser rejects it. See the report for this library bug.
TEST_CASE("R9: an empty dtype is rejected on the canonical fast path too") {
  check_reject(one("", "[1]", "[0,4]"), 4, errc::unknown_dtype, "a");
  check_reject(one("", "[]", "[0,4]"), 4, errc::unknown_dtype, "a");
}

TEST_CASE("R10: shape is an array of integers in [0, 2^64)") {
  SUBCASE("not an array") {
    for (std::string bad : {"\"x\"", "{}", "1", "null", "true", "\"[1]\""})
      check_reject(one("F32", bad, "[0,4]"), 4, errc::invalid_shape, "a");
  }
  SUBCASE("elements that are not such integers") {
    for (std::string bad : {"-1", "-0", "1.0", "1.5", "1e3", "1E0", "0e0", "01", "00", "18446744073709551616",
                            "100000000000000000000000000000", "\"1\"", "true", "null", "[1]", "{}"}) {
      INFO("dimension: ", bad);
      check_reject(one("F32", "[" + bad + "]", "[0,4]"), 4, errc::invalid_shape, "a");
      check_reject(one("F32", "[1," + bad + "]", "[0,4]"), 4, errc::invalid_shape, "a");
    }
  }
  SUBCASE("2^64 - 1 is an integer in range: it fails later, on size") {
    check_reject(one("U8", "[18446744073709551615]", "[0,0]"), 0, errc::size_overflow, "a");
  }
  SUBCASE("accepted shapes") {
    auto scalar = check_accept(one("F32", "[]", "[0,4]"), 4);
    CHECK(scalar->tensors()[0].shape.empty());
    CHECK(scalar->tensors()[0].elements == 1);
    auto empty = check_accept(one("F32", "[0]", "[0,0]"));
    CHECK(shape_of(empty->tensors()[0]) == std::vector<std::uint64_t>{0});
    CHECK(empty->tensors()[0].elements == 0);
    auto m = check_accept(one("I8", "[2,3,1]", "[0,6]"), 6);
    CHECK(shape_of(m->tensors()[0]) == std::vector<std::uint64_t>{2, 3, 1});
    CHECK(m->tensors()[0].elements == 6);
  }
}

TEST_CASE("R11: more dimensions than max_rank are rejected") {
  CHECK(sw::read_options{}.max_rank == 64);
  auto ones = [](std::size_t n) {
    std::string s = "[";
    for (std::size_t i = 0; i < n; ++i) s += i ? ",1" : "1";
    return s + "]";
  };
  auto r = check_accept(one("F32", ones(64), "[0,4]"), 4);
  CHECK(r->tensors()[0].shape.size() == 64);
  check_reject(one("F32", ones(65), "[0,4]"), 4, errc::rank_too_large, "a");
  check_reject(one("F32", ones(100'000), "[0,4]"), 4, errc::rank_too_large, "a");

  sw::read_options o;
  o.max_rank = 2;
  check_accept(one("F32", "[1,1]", "[0,4]"), 4, o);
  check_reject(one("F32", "[1,1,1]", "[0,4]"), 4, errc::rank_too_large, "a", o);
  o.max_rank = 0;
  check_accept(one("F32", "[]", "[0,4]"), 4, o);
  check_reject(one("F32", "[1]", "[0,4]"), 4, errc::rank_too_large, "a", o);
}

TEST_CASE("R12: data_offsets is an array of exactly two integers in [0, 2^64)") {
  SUBCASE("not two values") {
    for (std::string bad : {"[]", "[0]", "[0,4,4]", "[0,0,0,0]"})
      check_reject(one("F32", "[1]", bad), 4, errc::invalid_data_offsets, "a");
  }
  SUBCASE("not an array") {
    for (std::string bad : {"\"0,4\"", "{\"0\":4}", "4", "null"})
      check_reject(one("F32", "[1]", bad), 4, errc::invalid_data_offsets, "a");
  }
  SUBCASE("values that are not such integers") {
    for (std::string bad : {"[-1,4]", "[-0,4]", "[0,4.0]", "[0,4e0]", "[0,04]", "[0,\"4\"]", "[0,null]", "[0,[4]]",
                            "[0,18446744073709551616]", "[0.0,4]"}) {
      INFO("data_offsets: ", bad);
      check_reject(one("F32", "[1]", bad), 4, errc::invalid_data_offsets, "a");
    }
  }
  SUBCASE("2^64 - 1 is in range: it fails later, on contiguity") {
    check_reject(one("F32", "[0]", "[18446744073709551615,18446744073709551615]"), 0, errc::offsets_not_contiguous,
                 "a");
  }
  SUBCASE("accepted") {
    auto r = check_accept(one("F32", "[1]", "[0,4]"), 4);
    CHECK(r->tensors()[0].begin == 0);
    CHECK(r->tensors()[0].end == 4);
    CHECK(r->tensors()[0].byte_size() == 4);
  }
}

// ---------------------------------------------------------------------------
// Keys

TEST_CASE("R13: a repeated key is rejected: tensor name, __metadata__, metadata key") {
  const std::string a0 = entry("a", "U8", "[0]", "[0,0]");
  SUBCASE("a tensor name twice, identical entries (the reference keeps the last)") {
    check_reject("{" + a0 + "," + a0 + "}", 0, errc::duplicate_key, "a");
  }
  SUBCASE("a tensor name twice, different spans") {
    check_reject("{" + entry("a", "U8", "[4]", "[0,4]") + "," + entry("a", "U8", "[4]", "[4,8]") + "}", 8,
                 errc::duplicate_key, "a");
  }
  SUBCASE("a tensor name twice, once escaped") {
    check_reject("{" + a0 + "," + entry("\\u0061", "U8", "[0]", "[0,0]") + "}", 0, errc::duplicate_key, "a");
  }
  SUBCASE("a tensor name twice, far apart") {
    std::string json = "{" + entry("dup", "U8", "[1]", "[0,1]");
    for (int i = 0; i < 100; ++i)
      json += "," + entry("t" + std::to_string(i), "U8", "[1]", "[" + std::to_string(i + 1) + "," + std::to_string(i + 2) + "]");
    json += "," + entry("dup", "U8", "[0]", "[101,101]") + "}";
    check_reject(json, 101, errc::duplicate_key, "dup");
  }
  SUBCASE("__metadata__ twice") {
    check_reject("{\"__metadata__\":{},\"__metadata__\":{}}", 0, errc::duplicate_key);
    check_reject("{\"__metadata__\":null,\"__metadata__\":null}", 0, errc::duplicate_key);
    check_reject("{\"__metadata__\":null,\"__metadata__\":{\"k\":\"v\"}}", 0, errc::duplicate_key);
    check_reject("{\"__metadata__\":{\"k\":\"v\"}," + a0 + ",\"__metadata__\":{\"k\":\"w\"}}", 0, errc::duplicate_key);
    check_reject("{\"__metadata__\":{},\"__metadata\\u005f_\":{}}", 0, errc::duplicate_key);
  }
  SUBCASE("a metadata key twice") {
    check_reject("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, errc::duplicate_key, "k");
    check_reject("{\"__metadata__\":{\"k\":\"1\",\"k\":\"1\"}}", 0, errc::duplicate_key, "k");
    check_reject("{\"__metadata__\":{\"k\":\"1\",\"x\":\"2\",\"\\u006b\":\"3\"}}", 0, errc::duplicate_key, "k");
  }
  SUBCASE("not repeats") {
    // Names differ by case; a tensor and a metadata key share a name; a repeated
    // unknown field inside an entry is ignored like any unknown field.
    auto r = check_accept("{\"__metadata__\":{\"a\":\"x\",\"A\":\"y\"}," + entry("a", "U8", "[1]", "[0,1]") + "," +
                              entry("A", "U8", "[1]", "[1,2]") +
                              ",\"b\":{\"x\":1,\"x\":2,\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,2]}}",
                          2);
    CHECK(names_of(*r) == std::vector<std::string>{"a", "A", "b"});
    CHECK(r->metadata().size() == 2);
  }
}

TEST_CASE("R14: __metadata__ is null or an object of string values") {
  const std::string t = entry("a", "F32", "[1]", "[0,4]");
  SUBCASE("not an object") {
    for (std::string bad : {"[]", "[\"k\",\"v\"]", "\"x\"", "1", "true", "false"})
      check_reject("{\"__metadata__\":" + bad + "," + t + "}", 4, errc::invalid_metadata);
  }
  SUBCASE("a value that is not a string") {
    for (std::string bad : {"1", "1.5", "null", "true", "[]", "[\"v\"]", "{}", "{\"v\":\"w\"}"}) {
      INFO("value: ", bad);
      check_reject("{\"__metadata__\":{\"ok\":\"v\",\"key\":" + bad + "}," + t + "}", 4, errc::invalid_metadata,
                   "key");
    }
  }
  SUBCASE("null: no metadata") {
    auto r = check_accept("{\"__metadata__\":null," + t + "}", 4);
    CHECK_FALSE(r->has_metadata());
    CHECK(r->metadata().empty());
    CHECK_FALSE(r->metadata_value("k").has_value());
    CHECK(names_of(*r) == std::vector<std::string>{"a"});
  }
  SUBCASE("absent: no metadata") {
    auto r = check_accept("{" + t + "}", 4);
    CHECK_FALSE(r->has_metadata());
  }
  SUBCASE("empty object: metadata with no keys") {
    auto r = check_accept("{\"__metadata__\":{}," + t + "}", 4);
    CHECK(r->has_metadata());
    CHECK(r->metadata().empty());
    auto s = check_accept("{\"__metadata__\":{}}");
    CHECK(s->has_metadata());
    CHECK(s->tensors().empty());
  }
  SUBCASE("keys in file order, values unescaped, anywhere in the header") {
    for (bool first : {true, false}) {
      const std::string meta =
          "\"__metadata__\":{\"z\":\"1\",\"a\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\",\"m\":\"\",\"\":\"empty key\"}";
      auto r = check_accept(first ? "{" + meta + "," + t + "}" : "{" + t + "," + meta + "}", 4);
      REQUIRE(r->metadata().size() == 4);
      CHECK(r->metadata()[0].key == "z");
      CHECK(r->metadata()[1].key == "a");
      CHECK(r->metadata()[2].key == "m");
      CHECK(r->metadata()[3].key == "");
      CHECK(r->metadata()[0].value == "1");
      CHECK(r->metadata()[1].value == "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
      CHECK(r->metadata()[2].value == "");
      CHECK(r->metadata_value("") == std::optional<std::string_view>("empty key"));
      CHECK(r->metadata_value("a") == r->metadata()[1].value);
      CHECK_FALSE(r->metadata_value("Z").has_value());
    }
  }
  SUBCASE("a value nested 100,000 deep is rejected without a crash") {
    const std::string open(100'000, '['), close(100'000, ']');
    for (const std::string& json : {"{\"__metadata__\":{\"k\":" + open + close + "}}",
                                    "{\"__metadata__\":{\"k\":" + open + "}}",
                                    "{\"__metadata__\":" + open + close + "}"}) {
      auto code = in_child([&] { return parse_code(json); });
      CHECK_MESSAGE(code.has_value(), "the reader crashed");
      if (code) CHECK(*code == errc::invalid_metadata);
    }
  }
}

TEST_CASE("R15: more tensors than max_tensors are rejected") {
  CHECK(sw::read_options{}.max_tensors == 10'000'000);
  const std::string three = "{" + entry("a", "U8", "[1]", "[0,1]") + "," + entry("b", "U8", "[1]", "[1,2]") + "," +
                            entry("c", "U8", "[1]", "[2,3]") + "}";
  sw::read_options o;
  o.max_tensors = 3;
  check_accept(three, 3, o);
  o.max_tensors = 2;
  check_reject(three, 3, errc::too_many_tensors, {}, o);
  o.max_tensors = 0;
  check_accept("{}", 0, o);
  check_reject(one("U8", "[1]", "[0,1]"), 1, errc::too_many_tensors, {}, o);
  // __metadata__ is not a tensor.
  o.max_tensors = 1;
  auto r = check_accept("{\"__metadata__\":{\"k\":\"v\"}," + entry("a", "U8", "[1]", "[0,1]") + "}", 1, o);
  CHECK(r->tensors().size() == 1);
}

// ---------------------------------------------------------------------------
// The validation walk, in offset order

TEST_CASE("R16: data_offsets end before begin is rejected") {
  check_reject(one("F32", "[0]", "[8,4]"), 8, errc::offsets_end_before_begin, "a");
  check_reject(one("F32", "[0]", "[1,0]"), 1, errc::offsets_end_before_begin, "a");
  check_reject("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,4]") + "}", 8,
               errc::offsets_end_before_begin, "b");
  CHECK(open_file_code(test_support::make_file(one("F32", "[0]", "[8,4]"), 8)) == errc::offsets_end_before_begin);
}

TEST_CASE("R17: tensors tile the data section from 0 without gap or overlap") {
  SUBCASE("a gap between tensors") {
    check_reject("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,12]") + "}", 12,
                 errc::offsets_not_contiguous, "b");
  }
  SUBCASE("a gap before the first tensor") {
    check_reject(one("F32", "[1]", "[4,8]"), 8, errc::offsets_not_contiguous, "a");
  }
  SUBCASE("a zero-size tensor in a gap of its own") {
    check_reject("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("z", "F32", "[0]", "[6,6]") + "}", 6,
                 errc::offsets_not_contiguous, "z");
  }
  SUBCASE("overlap: same end") {
    check_reject("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[1]", "[4,8]") + "}", 8,
                 errc::offsets_not_contiguous, "b");
  }
  SUBCASE("overlap: partial") {
    check_reject("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[4,12]") + "}", 12,
                 errc::offsets_not_contiguous, "b");
  }
  SUBCASE("overlap: the same span twice") {
    check_reject("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[0,4]") + "}", 4,
                 errc::offsets_not_contiguous, "b");
  }
  SUBCASE("a zero-size tensor inside another") {
    check_reject("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("z", "F32", "[0]", "[4,4]") + "}", 8,
                 errc::offsets_not_contiguous, "z");
  }
  SUBCASE("a gap through a real file") {
    auto bytes = test_support::make_file(
        "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,12]") + "}", 12);
    CHECK(open_file_code(bytes) == errc::offsets_not_contiguous);
  }
}

TEST_CASE("R17: entries in any header order are accepted and returned in offset order") {
  const std::string json = "{" + entry("c", "F32", "[1]", "[8,12]") + "," + entry("a", "F32", "[1]", "[0,4]") + "," +
                           entry("b", "I16", "[2]", "[4,8]") + "}";
  auto bytes = test_support::make_file(json, 12);
  for (std::size_t i = 0; i < 12; ++i) bytes[8 + json.size() + i] = static_cast<std::byte>(i);
  image im(std::move(bytes));
  REQUIRE_MESSAGE(im.r, im.message());
  CHECK(names_of(*im) == std::vector<std::string>{"a", "b", "c"});
  check_same(*im, *check_accept(json, 12));
  for (const auto& t : im->tensors()) {
    INFO("tensor ", std::string(t.name));
    CHECK(im->find(t.name) == &t);
    auto view = im->tensor(t.name);
    REQUIRE(view);
    REQUIRE(view->bytes().size() == t.byte_size());
    CHECK(view->bytes()[0] == static_cast<std::byte>(t.begin));
  }
  CHECK(im->find("b")->type == sw::dtype::I16);
  CHECK(im->find("c")->begin == 8);
  CHECK(im->index().data_size() == 12);
}

TEST_CASE("R17: zero-size tensors may share an offset, and keep header order among themselves") {
  const std::string json = "{" + entry("y", "U8", "[0]", "[0,0]") + "," + entry("c", "F32", "[1]", "[0,4]") + "," +
                           entry("z", "F64", "[0,3]", "[0,0]") + "," + entry("v", "I64", "[2,0]", "[4,4]") + "," +
                           entry("w", "F4", "[0]", "[4,4]") + "}";
  auto r = check_accept(json, 4);
  CHECK(names_of(*r) == std::vector<std::string>{"y", "z", "c", "v", "w"});
  for (const auto& t : r->tensors()) CHECK(r->find(t.name) == &t);
  auto v = r->tensor("v");
  REQUIRE(v);
  CHECK(v->bytes().empty());
  // Only zero-size tensors, and none at all.
  auto z = check_accept("{" + entry("p", "U8", "[0]", "[0,0]") + "," + entry("q", "U8", "[0]", "[0,0]") + "}");
  CHECK(names_of(*z) == std::vector<std::string>{"p", "q"});
  CHECK(check_accept("{}")->tensors().empty());
}

TEST_CASE("R18: the element count and elements x bits fit in 64 bits") {
  check_reject(one("F32", "[4294967296,4294967296]", "[0,0]"), 0, errc::size_overflow, "a");
  // Checked left to right, as the reference does: a later zero does not save it...
  check_reject(one("U8", "[4294967296,4294967296,0]", "[0,0]"), 0, errc::size_overflow, "a");
  // ...but an earlier one does.
  auto z = check_accept(one("U8", "[0,4294967296,4294967296]", "[0,0]"));
  CHECK(z->tensors()[0].elements == 0);
  // Elements fit, bits do not: 2^61 x 64 and 2^58 x 64, and 2^61 x 8 = 2^64.
  check_reject(one("U64", "[2305843009213693952]", "[0,0]"), 0, errc::size_overflow, "a");
  check_reject(one("U64", "[288230376151711744]", "[0,0]"), 0, errc::size_overflow, "a");
  check_reject(one("U8", "[2305843009213693952]", "[0,0]"), 0, errc::size_overflow, "a");
  check_reject(one("F4", "[4611686018427387904]", "[0,0]"), 0, errc::size_overflow, "a");  // 2^62 x 4
  // One step below, the bits fit and the next rule (the span) decides.
  check_reject(one("U64", "[144115188075855872]", "[0,0]"), 0, errc::size_mismatch, "a");  // 2^57 x 64 = 2^63
  check_reject(one("U8", "[2305843009213693951]", "[0,0]"), 0, errc::size_mismatch, "a");
  check_reject(one("F4", "[4611686018427387902]", "[0,0]"), 0, errc::size_mismatch, "a");
  // The second tensor's overflow is named.
  check_reject("{" + entry("a", "U8", "[1]", "[0,1]") + "," + entry("b", "I32", "[65536,65536,65536,65536]", "[1,1]") + "}",
               1, errc::size_overflow, "b");
}

TEST_CASE("R19: sub-byte tensors fill whole bytes") {
  SUBCASE("F4: an even count is whole bytes, an odd one is not") {
    for (std::string bad : {"[1]", "[3]", "[3,3]", "[1,1,1]"}) {
      INFO("shape ", bad);
      check_reject(one("F4", bad, "[0,2]"), 2, errc::subbyte_misaligned, "a");
    }
    auto r = check_accept(one("F4", "[4]", "[0,2]"), 2);
    CHECK(r->tensors()[0].elements == 4);
    check_accept(one("F4", "[2]", "[0,1]"), 1);
    check_accept(one("F4", "[3,2]", "[0,3]"), 3);
    check_accept(one("F4", "[0]", "[0,0]"));
  }
  SUBCASE("F6: the count must be a multiple of 4") {
    for (const char* type : {"F6_E2M3", "F6_E3M2"}) {
      INFO("dtype ", type);
      for (std::string bad : {"[1]", "[2]", "[3]", "[5]", "[6]", "[2,3]"})
        check_reject(one(type, bad, "[0,3]"), 3, errc::subbyte_misaligned, "a");
      check_accept(one(type, "[4]", "[0,3]"), 3);
      check_accept(one(type, "[8]", "[0,6]"), 6);
      check_accept(one(type, "[2,2]", "[0,3]"), 3);
    }
  }
  SUBCASE("whole-byte dtypes are never misaligned") {
    check_accept(one("BOOL", "[3]", "[0,3]"), 3);
    check_accept(one("F8_E4M3", "[3]", "[0,3]"), 3);
  }
}

TEST_CASE("R20: the span equals elements x bits / 8") {
  check_reject(one("F32", "[2]", "[0,4]"), 4, errc::size_mismatch, "a");
  check_reject(one("F32", "[1]", "[0,8]"), 8, errc::size_mismatch, "a");
  check_reject(one("F32", "[]", "[0,0]"), 0, errc::size_mismatch, "a");
  check_reject(one("F32", "[0]", "[0,4]"), 4, errc::size_mismatch, "a");
  check_reject(one("F4", "[4]", "[0,4]"), 4, errc::size_mismatch, "a");
  check_reject(one("C64", "[1]", "[0,4]"), 4, errc::size_mismatch, "a");
  check_reject("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "BF16", "[3]", "[4,8]") + "}", 8,
               errc::size_mismatch, "b");
  auto r = check_accept("{" + entry("a", "BF16", "[3]", "[0,6]") + "," + entry("b", "C64", "[1]", "[6,14]") + "}", 14);
  CHECK(r->tensors()[0].elements == 3);
  CHECK(r->tensors()[1].byte_size() == 8);
  CHECK(open_file_code(test_support::make_file(one("F32", "[2]", "[0,4]"), 4)) == errc::size_mismatch);
}

TEST_CASE("R21: a file that ends inside a tensor is rejected") {
  check_reject(one("F32", "[2]", "[0,8]"), 4, errc::data_truncated);
  check_reject(one("F32", "[2]", "[0,8]"), 7, errc::data_truncated);
  check_reject(one("F32", "[1]", "[0,4]"), 0, errc::data_truncated);
  check_reject("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[4,8]") + "}", 4,
               errc::data_truncated);
  // A real file, both io modes.
  CHECK(open_file_code(test_support::make_file(one("F32", "[2]", "[0,8]"), 4)) == errc::data_truncated);
  // allow_trailing_bytes does not excuse missing bytes.
  sw::read_options o;
  o.allow_trailing_bytes = true;
  check_reject(one("F32", "[2]", "[0,8]"), 4, errc::data_truncated, {}, o);
}

TEST_CASE("R22: bytes after the last tensor are rejected unless allow_trailing_bytes") {
  CHECK_FALSE(sw::read_options{}.allow_trailing_bytes);
  const std::string json = one("F32", "[1]", "[0,4]");
  check_reject(json, 5, errc::trailing_bytes);
  check_reject(json, 4096, errc::trailing_bytes);
  check_reject("{}", 1, errc::trailing_bytes);
  check_reject("{\"__metadata__\":{}}", 8, errc::trailing_bytes);
  CHECK(open_file_code(test_support::make_file(json, 5)) == errc::trailing_bytes);

  sw::read_options o;
  o.allow_trailing_bytes = true;
  auto r = check_accept(json, 5, o);
  CHECK(r->index().data_size() == 4);
  CHECK(r->file_size() == 8 + json.size() + 5);
  auto v = r->tensor("a");
  REQUIRE(v);
  CHECK(v->bytes().size() == 4);
  CHECK(check_accept("{}", 3, o)->index().data_size() == 0);
  CHECK(open_file_code(test_support::make_file(json, 5), o) == errc::ok);
  // The leniency covers the end only: a gap is still a gap.
  check_reject("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,12]") + "}", 16,
               errc::offsets_not_contiguous, "b", o);
}

// ---------------------------------------------------------------------------
// Names

TEST_CASE("R23: a tensor name is any string: empty, escaped, NUL, non-ASCII, 1 MB") {
  SUBCASE("odd names") {
    auto r = check_accept("{" + entry("", "U8", "[1]", "[0,1]") + "," + entry("a\\u0000b", "U8", "[1]", "[1,2]") + "," +
                              entry("q\\\"b\\\\s\\n\\t\\u001f", "U8", "[1]", "[2,3]") + "," +
                              entry("model/layers.0/w:0", "U8", "[1]", "[3,4]") + "," +
                              entry("\\u00e9\xe2\x82\xac", "U8", "[1]", "[4,5]") + "}",
                          5);
    const std::vector<std::string> want = {"", std::string("a\0b", 3), "q\"b\\s\n\t\x1f", "model/layers.0/w:0",
                                           "\xc3\xa9\xe2\x82\xac"};
    CHECK(names_of(*r) == want);
    for (const auto& n : want) {
      REQUIRE(r->find(n) != nullptr);
      CHECK(r->find(n)->name == n);
    }
    CHECK(r->find("a") == nullptr);  // "a\0b" is not "a"
  }
  SUBCASE("a 1 MB name") {
    const std::string name(1'000'000, 'n');
    const std::string json = "{" + entry(name, "F32", "[1]", "[0,4]") + "}";
    auto r = check_accept(json, 4);
    REQUIRE(r->tensors().size() == 1);
    CHECK(r->tensors()[0].name.size() == 1'000'000);
    CHECK(r->find(name) == &r->tensors()[0]);
    CHECK(open_file_code(test_support::make_file(json, 4)) == errc::ok);
    // The message about it is bounded, and still names it.
    check_reject("{" + entry(name, "F32", "[2]", "[0,4]") + "}", 4, errc::size_mismatch);
    auto bad = parse("{" + entry(name, "F32", "[2]", "[0,4]") + "}", 4);
    CHECK(bad.message().size() < 1000);
    CHECK(bad.message().find("`" + std::string(200, 'n') + "...`") != std::string::npos);
  }
  SUBCASE("a 1 MB name made of escapes") {
    std::string escaped;
    for (int i = 0; i < 500'000; ++i) escaped += "\\n\\u00e9";
    auto r = check_accept("{" + entry(escaped, "U8", "[1]", "[0,1]") + "}", 1);
    REQUIRE(r->tensors().size() == 1);
    CHECK(r->tensors()[0].name.size() == 1'500'000);
    CHECK(r->tensors()[0].name.substr(0, 4) == "\n\xc3\xa9\n");
  }
  SUBCASE("many escaped names keep their bytes") {
    std::string json = "{";
    for (int i = 0; i < 3000; ++i) {
      if (i) json += ",";
      json += entry("t\\u0041" + std::to_string(i), "U8", "[1]", "[" + std::to_string(i) + "," + std::to_string(i + 1) + "]");
    }
    json += "}";
    auto r = check_accept(json, 3000);
    REQUIRE(r->tensors().size() == 3000);
    for (int i = 0; i < 3000; ++i) {
      const std::string n = "tA" + std::to_string(i);
      const auto* t = r->find(n);
      REQUIRE_MESSAGE(t != nullptr, n);
      CHECK(t->name == n);
      CHECK(t->begin == static_cast<std::uint64_t>(i));
    }
  }
}
