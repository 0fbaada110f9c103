// The error table: every errc has one unique snake_case name, to_string maps
// codes to names and anything else to "unknown_error", result<T> and
// result<void> carry a code that .value() turns into a safeweights::exception.
// Also: every errc outside the format rules is raised where spec/FORMAT.md
// says, and spec/FORMAT.md's tables list every errc and name only test cases
// that exist.
#include <cctype>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "errc_printer.hpp"
#include "safeweights/safeweights.hpp"
#include "support.hpp"

namespace sw = safeweights;
using sw::errc;

namespace {

// Written out by hand, in enum order: a code added, removed or moved in
// error.hpp without this table (and spec/FORMAT.md) following fails here.
const std::pair<errc, const char*> expected_names[] = {
    {errc::ok, "ok"},
    {errc::io_error, "io_error"},
    {errc::header_too_small, "header_too_small"},
    {errc::header_too_large, "header_too_large"},
    {errc::header_length_exceeds_file, "header_length_exceeds_file"},
    {errc::header_invalid_utf8, "header_invalid_utf8"},
    {errc::header_invalid_json, "header_invalid_json"},
    {errc::header_not_object, "header_not_object"},
    {errc::invalid_tensor_entry, "invalid_tensor_entry"},
    {errc::unknown_dtype, "unknown_dtype"},
    {errc::invalid_shape, "invalid_shape"},
    {errc::invalid_data_offsets, "invalid_data_offsets"},
    {errc::duplicate_key, "duplicate_key"},
    {errc::invalid_metadata, "invalid_metadata"},
    {errc::offsets_end_before_begin, "offsets_end_before_begin"},
    {errc::offsets_not_contiguous, "offsets_not_contiguous"},
    {errc::size_overflow, "size_overflow"},
    {errc::subbyte_misaligned, "subbyte_misaligned"},
    {errc::size_mismatch, "size_mismatch"},
    {errc::data_truncated, "data_truncated"},
    {errc::trailing_bytes, "trailing_bytes"},
    {errc::too_many_tensors, "too_many_tensors"},
    {errc::rank_too_large, "rank_too_large"},
    {errc::tensor_not_found, "tensor_not_found"},
    {errc::dtype_mismatch, "dtype_mismatch"},
    {errc::misaligned_view, "misaligned_view"},
    {errc::invalid_argument, "invalid_argument"},
    {errc::stream_failed, "stream_failed"},
    {errc::write_failed, "write_failed"},
    {errc::digest_mismatch, "digest_mismatch"},
    {errc::not_sealed, "not_sealed"},
    {errc::invalid_seal, "invalid_seal"},
    {errc::invalid_key, "invalid_key"},
    {errc::invalid_signature, "invalid_signature"},
    {errc::wrong_key, "wrong_key"},
    {errc::signature_mismatch, "signature_mismatch"},
    {errc::state_dict_mismatch, "state_dict_mismatch"},
    {errc::load_cancelled, "load_cancelled"},
    {errc::invalid_shard_index, "invalid_shard_index"},
    {errc::invalid_bool, "invalid_bool"},
    {errc::file_changed, "file_changed"},
    {errc::untrusted_signer, "untrusted_signer"},
    {errc::out_of_memory, "out_of_memory"},
    {errc::unexpected_exception, "unexpected_exception"},
    {errc::byte_order, "byte_order"},
    {errc::invalid_model, "invalid_model"},
    {errc::unsupported_model, "unsupported_model"},
    {errc::model_not_found, "model_not_found"},
    {errc::registry_failed, "registry_failed"},
};

bool is_snake_case(std::string_view s) {
  if (s.empty() || !std::islower(static_cast<unsigned char>(s.front())) || s.back() == '_') return false;
  char prev = 0;
  for (char c : s) {
    bool ok = std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
    if (!ok || (c == '_' && prev == '_')) return false;
    prev = c;
  }
  return true;
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path source_root() { return test_support::data_dir().parent_path().parent_path(); }

// The rows of the markdown table that follows `heading` in `text`.
std::vector<std::vector<std::string>> table_after(const std::string& text, const std::string& heading) {
  std::vector<std::vector<std::string>> rows;
  auto at = text.find(heading);
  if (at == std::string::npos) return rows;
  std::istringstream in(text.substr(at + heading.size()));
  std::string line;
  bool started = false;
  while (std::getline(in, line)) {
    if (line.rfind("|", 0) != 0) {
      if (started) break;
      continue;
    }
    started = true;
    if (line.find("---") != std::string::npos) continue;
    std::vector<std::string> cells;
    std::size_t pos = 1;
    while (pos < line.size()) {
      auto bar = line.find('|', pos);
      if (bar == std::string::npos) break;
      std::string cell = line.substr(pos, bar - pos);
      auto b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
      pos = bar + 1;
    }
    rows.push_back(std::move(cells));
  }
  if (!rows.empty()) rows.erase(rows.begin());  // the column titles
  return rows;
}

// Every `code` in backticks in `cell` that names an errc.
std::vector<std::string> codes_in(const std::string& cell) {
  std::vector<std::string> out;
  static const std::regex code("`([a-z0-9_]+)`");
  for (auto it = std::sregex_iterator(cell.begin(), cell.end(), code); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

}  // namespace

TEST_CASE("errc: every value has a unique snake_case name, in enum order") {
  REQUIRE(std::size(expected_names) == sw::errc_count);
  REQUIRE(sw::errc_names.size() == sw::errc_count);
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < sw::errc_count; ++i) {
    auto code = static_cast<errc>(i);
    INFO("errc ", i);
    CHECK(expected_names[i].first == code);
    CHECK(sw::errc_names[i] == expected_names[i].second);
    CHECK(sw::to_string(code) == expected_names[i].second);
    CHECK(is_snake_case(sw::errc_names[i]));
    CHECK(seen.insert(sw::errc_names[i]).second);
  }
  CHECK(seen.size() == sw::errc_count);
  CHECK(seen.count("unknown_error") == 0);
  CHECK(sw::errc::ok == errc{});
}

TEST_CASE("errc: to_string round-trips through errc_names, out of range is unknown_error") {
  for (std::size_t i = 0; i < sw::errc_count; ++i) {
    auto code = static_cast<errc>(i);
    std::string_view name = sw::to_string(code);
    std::size_t found = sw::errc_count;
    for (std::size_t k = 0; k < sw::errc_count; ++k)
      if (sw::errc_names[k] == name) found = k;
    CHECK(found == i);
  }
  CHECK(sw::to_string(static_cast<errc>(sw::errc_count)) == "unknown_error");
  CHECK(sw::to_string(static_cast<errc>(sw::errc_count + 1)) == "unknown_error");
  CHECK(sw::to_string(static_cast<errc>(255)) == "unknown_error");
  static_assert(sw::to_string(errc::write_failed) == "write_failed", "usable at compile time");
}

TEST_CASE("errc: error::in prefixes where it happened") {
  auto e = sw::make_error(errc::size_mismatch, "tensor `a`: bad");
  CHECK(e.code == errc::size_mismatch);
  e.in("m.safetensors");
  CHECK(e.message == "m.safetensors: tensor `a`: bad");
  e.in("");
  CHECK(e.message == "m.safetensors: tensor `a`: bad");
}

TEST_CASE("result<T>: value() returns the value or throws safeweights::exception with the code") {
  sw::result<int> good(42);
  CHECK(good.has_value());
  CHECK(static_cast<bool>(good));
  CHECK(good.code() == errc::ok);
  CHECK(good.value() == 42);
  CHECK(*good == 42);

  sw::result<int> bad(sw::make_error(errc::unknown_dtype, "tensor `x`: unknown dtype `F128`"));
  CHECK_FALSE(bad.has_value());
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(bad.code() == errc::unknown_dtype);
  CHECK(bad.error_value().code == errc::unknown_dtype);
  CHECK(bad.error_value().message == "tensor `x`: unknown dtype `F128`");
  CHECK_THROWS_AS((void)bad.value(), sw::exception);
  CHECK_THROWS_AS((void)bad.value(), std::runtime_error);
  try {
    (void)bad.value();
    FAIL("value() did not throw");
  } catch (const sw::exception& e) {
    CHECK(e.code() == errc::unknown_dtype);
    CHECK(std::string(e.what()) == "tensor `x`: unknown dtype `F128`");
  }
  const sw::result<int>& cbad = bad;
  CHECK_THROWS_AS((void)cbad.value(), sw::exception);
  CHECK_THROWS_AS((void)std::move(bad).value(), sw::exception);

  // A move-only value comes out of an rvalue result.
  sw::result<std::unique_ptr<int>> owned(std::make_unique<int>(7));
  std::unique_ptr<int> p = std::move(owned).value();
  REQUIRE(p);
  CHECK(*p == 7);

  // The error moves out of an rvalue result.
  sw::result<int> moved(sw::make_error(errc::io_error, "gone"));
  sw::error e = std::move(moved).error_value();
  CHECK(e.code == errc::io_error);
  CHECK(e.message == "gone");
}

TEST_CASE("result<void>: success by default, value() throws the carried code") {
  sw::result<void> ok;
  CHECK(ok.has_value());
  CHECK(static_cast<bool>(ok));
  CHECK(ok.code() == errc::ok);
  CHECK_NOTHROW(ok.value());

  sw::result<void> bad(sw::make_error(errc::write_failed, "out.safetensors: cannot rename into place"));
  CHECK_FALSE(bad.has_value());
  CHECK(bad.code() == errc::write_failed);
  CHECK(bad.error_value().message == "out.safetensors: cannot rename into place");
  try {
    bad.value();
    FAIL("value() did not throw");
  } catch (const sw::exception& e) {
    CHECK(e.code() == errc::write_failed);
    CHECK(std::string(e.what()) == "out.safetensors: cannot rename into place");
  }
}

TEST_CASE("errc: the codes outside the format rules are raised where FORMAT.md says") {
  test_support::scratch_dir dir;
  std::string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  while ((8 + json.size()) % 8 != 0) json += ' ';  // the tensor aligned for float
  auto image = test_support::make_file(json, 8);
  auto rd = sw::reader::from_buffer(image);
  REQUIRE(rd);

  SUBCASE("io_error: a missing file, a directory") {
    auto missing = sw::reader::open((dir / "missing.safetensors").string());
    CHECK(missing.code() == errc::io_error);
    CHECK(sw::reader::open(dir.path().string()).code() == errc::io_error);
    try {
      (void)sw::open((dir / "missing.safetensors").string());
      FAIL("sw::open did not throw");
    } catch (const sw::exception& e) {
      CHECK(e.code() == errc::io_error);
    }
  }
  SUBCASE("tensor_not_found") {
    CHECK(rd->tensor("b").code() == errc::tensor_not_found);
    std::string_view names[] = {"a", "b"};
    CHECK(rd->load(names).code() == errc::tensor_not_found);
    CHECK(rd->find("b") == nullptr);
  }
  SUBCASE("dtype_mismatch") {
    auto view = rd->tensor("a").value();
    CHECK(view.as<double>().code() == errc::dtype_mismatch);
    CHECK(view.typed<std::int32_t>().code() == errc::dtype_mismatch);
    CHECK(view.as<float>().code() == (sw::host_is_big_endian ? errc::byte_order : errc::ok));
  }
  SUBCASE("misaligned_view") {
    // An odd header length puts the tensor at an odd address in the buffer.
    std::string odd = json + " ";
    auto bytes = test_support::make_file(odd, 8);
    auto r = sw::reader::from_buffer(bytes);
    REQUIRE(r);
    auto view = r->tensor("a").value();
    REQUIRE(reinterpret_cast<std::uintptr_t>(view.bytes().data()) % alignof(float) != 0);
    CHECK(view.as<float>().code() == (sw::host_is_big_endian ? errc::byte_order : errc::misaligned_view));
    auto copy = view.typed<float>();
    REQUIRE(copy);
    CHECK(copy->is_copy());
    CHECK(copy->size() == 2);
  }
  SUBCASE("byte_order: a zero-copy view of multi-byte elements on a big-endian host") {
    auto view = rd->tensor("a").value();
    auto r = view.as<float>();
    if (sw::host_is_big_endian) {
      CHECK(r.code() == errc::byte_order);
      CHECK(r.error_value().message.find("use typed<T>() for a swapped copy") != std::string::npos);
    } else {
      CHECK(r);
    }
    CHECK(view.typed<float>());
    auto loaded = rd->load().value();  // host order on every host: views work
    CHECK(loaded.find("a")->as<float>());
  }
  SUBCASE("invalid_bool") {
    // The format leaves values unchecked: the file is valid, and its bytes
    // readable, but a byte other than 0 or 1 is no C++ bool.
    std::string mask = R"({"m":{"dtype":"BOOL","shape":[4],"data_offsets":[0,4]}})";
    for (unsigned bad : {2u, 255u}) {
      auto bytes = test_support::make_file(mask, 4);
      const std::size_t at = bytes.size() - 4;
      bytes[at] = std::byte{1};
      bytes[at + 2] = static_cast<std::byte>(bad);
      bytes[at + 3] = std::byte{1};
      auto r = sw::reader::from_buffer(bytes);
      REQUIRE(r);
      auto view = r->tensor("m").value();
      CHECK(view.bytes().size() == 4);
      CHECK(view.as<bool>().code() == errc::invalid_bool);
      CHECK(view.typed<bool>().code() == errc::invalid_bool);
      CHECK(view.as<bool>().error_value().message.find("element 2") != std::string::npos);
      CHECK(view.as<std::uint8_t>().code() == errc::dtype_mismatch);
    }
    auto good = test_support::make_file(mask, 4);
    good[good.size() - 4] = std::byte{1};
    auto r = sw::reader::from_buffer(good);
    REQUIRE(r);
    auto ok = r->tensor("m").value().as<bool>();
    REQUIRE(ok);
    CHECK(ok->size() == 4);
    CHECK((*ok)[0]);
    CHECK(!(*ok)[1]);
  }
  SUBCASE("invalid_argument") {
    std::vector<std::byte> small(4);
    CHECK(rd->read_into(*rd->find("a"), small).code() == errc::invalid_argument);
    sw::writer w;
    float x = 0;
    CHECK(w.add<float>("__metadata__", {1}, std::span<const float>(&x, 1)).code() == errc::invalid_argument);
    CHECK(w.add_stream("s", sw::dtype::F32, {1}, nullptr).code() == errc::invalid_argument);
  }
  SUBCASE("stream_failed") {
    sw::writer w;
    REQUIRE(w.add_stream("s", sw::dtype::U8, {16}, [](std::span<std::byte>) -> std::size_t { return 0; }));
    CHECK(w.serialize().code() == errc::stream_failed);
  }
  SUBCASE("write_failed") {
    sw::writer w;
    CHECK(w.write_file((dir / "no-such-dir" / "out.safetensors").string()).code() == errc::write_failed);
  }
  SUBCASE("format codes the writer raises for the same reasons as the reader") {
    sw::writer w;
    std::vector<std::byte> three(3);
    CHECK(w.add("a", sw::dtype::F32, {1}, three).code() == errc::size_mismatch);
    CHECK(w.add("f4", sw::dtype::F4, {3}, std::span<const std::byte>(three.data(), 2)).code() ==
          errc::subbyte_misaligned);
    CHECK(w.add("big", sw::dtype::U64, {std::uint64_t{1} << 58}, {}).code() == errc::size_overflow);
    REQUIRE(w.add("u", sw::dtype::U8, {3}, three));
    CHECK(w.add("u", sw::dtype::U8, {3}, three).code() == errc::duplicate_key);
  }
  SUBCASE("file_changed when a file shrinks after it was opened (pread mode)") {
    std::string path = (dir / "shrink.safetensors").string();
    test_support::write_bytes(path, image);
    sw::read_options o;
    o.mode = sw::io_mode::pread;
    auto r = sw::reader::open(path, o);
    REQUIRE(r);
#ifdef _WIN32
    // Windows: the reader's handle shares reading and renaming, not writing,
    // so no one can shrink the file under it.
    std::error_code ec;
    std::filesystem::resize_file(path, 8 + json.size() + 4, ec);
    CHECK(ec);
    CHECK(r->tensor("a"));
#else
    std::filesystem::resize_file(path, 8 + json.size() + 4);
    CHECK(r->tensor("a").code() == errc::file_changed);
#endif
  }
}

TEST_CASE("errc: spec/FORMAT.md lists every code, and every rule names a test case that exists") {
  const std::string spec = read_text(source_root() / "spec" / "FORMAT.md");
  REQUIRE_FALSE(spec.empty());
  const std::string tests = read_text(source_root() / "tests" / "test_validation.cpp");
  REQUIRE_FALSE(tests.empty());

  // The errc table: one row per code, in enum order.
  auto codes = table_after(spec, "## Error codes");
  REQUIRE(codes.size() == sw::errc_count);
  for (std::size_t i = 0; i < sw::errc_count; ++i) {
    INFO("row ", i + 1);
    REQUIRE(codes[i].size() >= 3);
    CHECK(codes[i][0] == "`" + std::string(sw::errc_names[i]) + "`");
  }

  // The rule table: R1, R2, ... in order, each with a known code (or none) and
  // a test case name that appears as a TEST_CASE in test_validation.cpp.
  auto rules = table_after(spec, "## 4. Validation rules");
  REQUIRE(rules.size() >= 20);
  std::set<std::string> codes_used;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& row = rules[i];
    INFO("rule row ", i + 1);
    REQUIRE(row.size() >= 4);
    const std::string id = "R" + std::to_string(i + 1);
    CHECK(row[0] == id);
    for (const auto& c : codes_in(row[2])) {
      bool known = false;
      for (auto n : sw::errc_names) known = known || n == c;
      CHECK_MESSAGE(known, "unknown code ", c);
      codes_used.insert(c);
    }
    const std::regex test_name("`(" + id + ": [^`]+)`");
    std::size_t named = 0;
    for (auto it = std::sregex_iterator(row[3].begin(), row[3].end(), test_name); it != std::sregex_iterator(); ++it) {
      const std::string name = (*it)[1];
      ++named;
      CHECK_MESSAGE(tests.find("TEST_CASE(\"" + name + "\"") != std::string::npos, "missing TEST_CASE ", name);
    }
    CHECK_MESSAGE(named > 0, "no test case for ", id);
  }
  // Every code a file can earn appears in some rule.
  for (auto c : {"header_too_small", "header_too_large", "header_length_exceeds_file", "header_invalid_utf8",
                 "header_invalid_json", "header_not_object", "invalid_tensor_entry", "unknown_dtype",
                 "invalid_shape", "invalid_data_offsets", "duplicate_key", "invalid_metadata",
                 "offsets_end_before_begin", "offsets_not_contiguous", "size_overflow", "subbyte_misaligned",
                 "size_mismatch", "data_truncated", "trailing_bytes", "too_many_tensors", "rank_too_large"})
    CHECK_MESSAGE(codes_used.count(c) == 1, "no rule raises ", c);
}
