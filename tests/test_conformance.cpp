// The shared conformance files (written by the reference implementation):
// every valid file reproduces its .expect.json field for field and is
// rewritten byte for byte by our writer; every malformed file gets the
// verdict INDEX.json gives, with our error code.
#include <simdjson.h>

#include <map>

#ifdef SAFEWEIGHTS_TEST_NO_OPENSSL
#include "portable_sha256.hpp"  // the Windows build has no OpenSSL
#else
#include "safeweights/integrity/sha256.hpp"
#endif
#include "safeweights/safeweights.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace fs = std::filesystem;
using test_support::conformance_dir;

namespace {

std::string file_sha256_hex(const fs::path& p) {
  auto bytes = test_support::read_bytes(p);
  auto d = sw::sha256(bytes);
  return sw::to_hex(d);
}

std::vector<fs::path> valid_files() {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(conformance_dir() / "valid"))
    if (e.path().extension() == ".safetensors") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void check_against_expect(const fs::path& file) {
  simdjson::dom::parser json;
  simdjson::dom::element expect = json.load(file.string() + ".expect.json");
  auto r = sw::reader::open(file.string());
  REQUIRE_MESSAGE(r, (r ? "" : r.error_value().message));
  const sw::reader& rd = *r;

  CHECK(rd.index().header_size() == uint64_t(expect["header_size"]));
  CHECK(rd.file_size() == uint64_t(expect["file_size"]));
  CHECK(file_sha256_hex(file) == std::string_view(expect["file_sha256"]));

  // Metadata: null, or the same map (order is not part of the expectation).
  simdjson::dom::element meta = expect["metadata"];
  if (meta.is_null()) {
    CHECK_FALSE(rd.has_metadata());
  } else {
    CHECK(rd.has_metadata());
    std::map<std::string, std::string> want, got;
    for (auto [k, v] : simdjson::dom::object(meta)) want[std::string(k)] = std::string(std::string_view(v));
    for (auto& m : rd.metadata()) got[std::string(m.key)] = std::string(m.value);
    CHECK(want == got);
    for (auto& [k, v] : want) CHECK(rd.metadata_value(k) == std::optional<std::string_view>(v));
  }

  simdjson::dom::array tensors = expect["tensors"];
  REQUIRE(rd.tensors().size() == tensors.size());
  std::size_t i = 0;
  for (simdjson::dom::element t : tensors) {
    const sw::tensor_info& info = rd.tensors()[i++];
    INFO("tensor ", std::string(info.name));
    CHECK(info.name == std::string_view(t["name"]));
    CHECK(sw::dtype_name(info.type) == std::string_view(t["dtype"]));
    std::vector<uint64_t> shape;
    for (auto d : simdjson::dom::array(t["shape"])) shape.push_back(uint64_t(d));
    CHECK(std::vector<uint64_t>(info.shape.begin(), info.shape.end()) == shape);
    simdjson::dom::array offsets = t["data_offsets"];
    CHECK(info.begin == uint64_t(offsets.at(0)));
    CHECK(info.end == uint64_t(offsets.at(1)));
    CHECK(rd.find(info.name) == &info);
    auto view = rd.tensor(info);
    REQUIRE(view);
    CHECK(sw::to_hex(sw::sha256(view->bytes())) == std::string_view(t["sha256"]));
  }
}

}  // namespace

TEST_CASE("R-conformance: every valid reference file reproduces its .expect.json") {
  auto files = valid_files();
  REQUIRE(files.size() >= 30);
  for (const fs::path& f : files) {
    SUBCASE(f.filename().string().c_str()) { check_against_expect(f); }
  }
}

TEST_CASE("R-conformance: the writer rewrites every valid reference file byte for byte") {
  for (const fs::path& f : valid_files()) {
    SUBCASE(f.filename().string().c_str()) {
      auto rd = sw::open(f.string());
      sw::writer w;
      for (const auto& info : rd.tensors()) REQUIRE(w.add(rd.tensor(info).value()));
      if (rd.has_metadata()) w.enable_metadata();
      for (const auto& m : rd.metadata()) w.set_metadata(std::string(m.key), std::string(m.value));
      auto bytes = w.serialize();
      REQUIRE(bytes);
      CHECK(*bytes == test_support::read_bytes(f));
    }
  }
}

TEST_CASE("R-conformance: the same files open from a memory buffer and in pread mode") {
  for (const fs::path& f : valid_files()) {
    SUBCASE(f.filename().string().c_str()) {
      auto bytes = test_support::read_bytes(f);
      auto mem = sw::reader::from_buffer(bytes);
      REQUIRE(mem);
      sw::read_options o;
      o.mode = sw::io_mode::pread;
      auto pr = sw::reader::open(f.string(), o);
      REQUIRE(pr);
      REQUIRE(mem->tensors().size() == pr->tensors().size());
      for (std::size_t i = 0; i < mem->tensors().size(); ++i) {
        auto a = mem->tensor(mem->tensors()[i]).value();
        auto b = pr->tensor(pr->tensors()[i]).value();
        CHECK(a.name() == b.name());
        CHECK(std::equal(a.bytes().begin(), a.bytes().end(), b.bytes().begin(), b.bytes().end()));
      }
    }
  }
}

// Our error code for each malformed file; INDEX.json says only accept or reject.
const std::map<std::string, sw::errc> malformed_codes = {
    {"deep_nesting.safetensors", sw::errc::invalid_metadata},
    {"duplicate_name_conflict.safetensors", sw::errc::duplicate_key},
    {"duplicate_name_identical.safetensors", sw::errc::duplicate_key},
    {"end_before_begin.safetensors", sw::errc::offsets_end_before_begin},
    {"header_json_array.safetensors", sw::errc::header_not_object},
    {"header_len_exceeds_file.safetensors", sw::errc::header_length_exceeds_file},
    {"header_len_over_max.safetensors", sw::errc::header_too_large},
    {"header_not_json.safetensors", sw::errc::header_invalid_json},
    {"header_not_utf8.safetensors", sw::errc::header_invalid_utf8},
    {"hole.safetensors", sw::errc::offsets_not_contiguous},
    {"lone_surrogate_name.safetensors", sw::errc::header_invalid_json},
    {"metadata_non_string.safetensors", sw::errc::invalid_metadata},
    {"missing_data_offsets.safetensors", sw::errc::invalid_tensor_entry},
    {"negative_shape.safetensors", sw::errc::invalid_shape},
    {"overlap.safetensors", sw::errc::offsets_not_contiguous},
    {"shape_product_overflow.safetensors", sw::errc::size_overflow},
    {"size_mismatch.safetensors", sw::errc::size_mismatch},
    {"subbyte_misaligned.safetensors", sw::errc::subbyte_misaligned},
    {"too_short.safetensors", sw::errc::header_too_small},
    {"trailing_bytes.safetensors", sw::errc::trailing_bytes},
    {"trailing_garbage.safetensors", sw::errc::header_invalid_json},
    {"truncated_data.safetensors", sw::errc::data_truncated},
    {"unknown_dtype.safetensors", sw::errc::unknown_dtype},
};

TEST_CASE("R-conformance: every malformed file gets the verdict of INDEX.json") {
  simdjson::dom::parser json;
  simdjson::dom::object index = json.load((conformance_dir() / "malformed" / "INDEX.json").string());
  std::size_t seen = 0;
  for (auto [name_view, entry] : index) {
    std::string name(name_view);
    ++seen;
    SUBCASE(name.c_str()) {
      fs::path file = conformance_dir() / "malformed" / name;
      REQUIRE(fs::exists(file));
      bool accept = std::string_view(entry["expect"]) == "accept";
      auto r = sw::reader::open(file.string());
      if (accept) {
        CHECK_MESSAGE(r, (r ? "" : r.error_value().message));
        auto code = malformed_codes.find(name);
        CHECK(code == malformed_codes.end());
      } else {
        REQUIRE_FALSE(r);
        auto code = malformed_codes.find(name);
        REQUIRE_MESSAGE(code != malformed_codes.end(), "no expected code for " << name);
        CHECK_MESSAGE(r.code() == code->second, r.error_value().message);
        // The message names the file.
        CHECK(r.error_value().message.find(file.string()) == 0);
      }
      // The same verdict from a memory buffer.
      auto bytes = test_support::read_bytes(file);
      auto m = sw::reader::from_buffer(bytes);
      CHECK(bool(m) == accept);
      if (!accept) CHECK(m.code() == r.code());
    }
  }
  CHECK(seen == 30);
}
