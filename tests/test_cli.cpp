// The `safeweights` tool, tested through the real binary: every command's
// output, exit status and effect on the file system.
#include <simdjson.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "safeweights/integrity/sha256.hpp"
#include "safeweights/safeweights.hpp"
#include "cli_support.hpp"

namespace sw = safeweights;
namespace fs = std::filesystem;
using test_support::conformance_dir;
using test_support::read_bytes;
using test_support::scratch_dir;
using cli_test::lines_of;
using cli_test::run;
using cli_test::run_result;

namespace {

std::vector<fs::path> valid_files() {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(conformance_dir() / "valid"))
    if (e.path().extension() == ".safetensors") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

using cli_test::malformed;
using cli_test::valid;

std::set<std::string> keys_of(simdjson::dom::object o) {
  std::set<std::string> keys;
  for (auto [k, v] : o) keys.insert(std::string(k));
  return keys;
}

std::vector<std::uint64_t> uints(simdjson::dom::array a) {
  std::vector<std::uint64_t> out;
  for (simdjson::dom::element e : a) out.push_back(std::uint64_t(e));
  return out;
}

// `inspect --json [--sha256]` on `file` against its .expect.json, field for field.
void check_inspect_json(const fs::path& file, bool with_sha) {
  INFO("file ", file.string(), with_sha ? " with --sha256" : " without --sha256");
  std::vector<std::string> args = {"inspect", "--json"};
  if (with_sha) args.push_back("--sha256");
  args.push_back(file.string());
  run_result r = run(args);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.err.empty());

  simdjson::dom::parser expect_parser, got_parser;
  simdjson::dom::element expect = expect_parser.load(file.string() + ".expect.json");
  simdjson::dom::element got;
  auto parse_error = got_parser.parse(r.out).get(got);
  REQUIRE_MESSAGE(!parse_error, "output is not JSON: ", r.out);

  std::set<std::string> top = {"header_size", "file_size", "metadata", "tensors"};
  if (with_sha) top.insert("file_sha256");
  CHECK(keys_of(got) == top);
  CHECK(std::uint64_t(got["header_size"]) == std::uint64_t(expect["header_size"]));
  CHECK(std::uint64_t(got["file_size"]) == std::uint64_t(expect["file_size"]));
  if (with_sha) CHECK(std::string_view(got["file_sha256"]) == std::string_view(expect["file_sha256"]));

  // Metadata: null, or the same map, its keys in the file's order.
  simdjson::dom::element want_meta = expect["metadata"], got_meta = got["metadata"];
  REQUIRE(want_meta.is_null() == got_meta.is_null());
  if (!want_meta.is_null()) {
    std::map<std::string, std::string> want, have;
    std::vector<std::string> order;
    for (auto [k, v] : simdjson::dom::object(want_meta)) want[std::string(k)] = std::string(std::string_view(v));
    for (auto [k, v] : simdjson::dom::object(got_meta)) {
      have[std::string(k)] = std::string(std::string_view(v));
      order.emplace_back(k);
    }
    CHECK(have == want);
    CHECK(order.size() == want.size());  // no key twice
    auto rd = sw::reader::open(file.string());
    REQUIRE(rd);
    std::vector<std::string> file_order;
    for (auto& m : rd->metadata()) file_order.emplace_back(m.key);
    CHECK(order == file_order);
  }

  simdjson::dom::array want_tensors = expect["tensors"], got_tensors = got["tensors"];
  REQUIRE(got_tensors.size() == want_tensors.size());
  std::set<std::string> tensor_keys = {"name", "dtype", "shape", "data_offsets"};
  if (with_sha) tensor_keys.insert("sha256");
  for (std::size_t i = 0; i < want_tensors.size(); ++i) {
    simdjson::dom::element w = want_tensors.at(i), g = got_tensors.at(i);
    INFO("tensor ", i, ": ", std::string_view(w["name"]));
    CHECK(keys_of(g) == tensor_keys);
    CHECK(std::string_view(g["name"]) == std::string_view(w["name"]));
    CHECK(std::string_view(g["dtype"]) == std::string_view(w["dtype"]));
    CHECK(uints(g["shape"]) == uints(w["shape"]));
    CHECK(uints(g["data_offsets"]) == uints(w["data_offsets"]));
    if (with_sha) CHECK(std::string_view(g["sha256"]) == std::string_view(w["sha256"]));
  }
}

// Names that would garble a terminal: escape sequences, a NUL, a newline, a
// right-to-left override, a C1 control, plus a plain one.
const std::vector<std::string> hostile_names = {
    "plain",
    "esc\x1b[31mred",
    std::string("nul\0byte", 8),
    "new\nline",
    "rtl\xe2\x80\xae" "txt",
    "c1\xc2\x85" "next",
};

fs::path write_hostile_file(const scratch_dir& dir) {
  sw::writer w;
  std::uint8_t byte = 7;
  for (const std::string& n : hostile_names)
    REQUIRE(w.add(n, sw::dtype::U8, {1}, std::as_bytes(std::span(&byte, 1))));
  w.set_metadata("key\x1b]0;title\x07", "value\nwith newline");
  fs::path p = dir / "hostile.safetensors";
  REQUIRE(w.write_file(p.string()));
  return p;
}

// A canonical file whose `__metadata__` is an empty object.
fs::path write_empty_metadata_file(const scratch_dir& dir) {
  std::string json = R"({"__metadata__":{},"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})";
  json.append((8 - json.size() % 8) % 8, ' ');
  fs::path p = dir / "empty_metadata.safetensors";
  test_support::write_bytes(p, test_support::make_file(json, 2, std::byte{9}));
  auto r = sw::reader::open(p.string());
  REQUIRE(r);
  REQUIRE(r->has_metadata());
  REQUIRE(r->metadata().empty());
  return p;
}

}  // namespace

TEST_CASE("cli inspect --json --sha256: every valid conformance file matches its .expect.json") {
  auto files = valid_files();
  REQUIRE(files.size() >= 30);
  for (const fs::path& f : files) check_inspect_json(f, true);
}

TEST_CASE("cli inspect --json: same fields, and no sha256 without --sha256") {
  for (const fs::path& f : valid_files()) check_inspect_json(f, false);
  run_result r = run({"inspect", "--json", valid("metadata.safetensors").string()});
  REQUIRE(r.status == 0);
  CHECK(r.out.find("sha256") == std::string::npos);
}

TEST_CASE("cli inspect --json: metadata null when absent or null, an object when empty") {
  scratch_dir dir;
  for (fs::path f : {valid("no_tensors.safetensors"), malformed("metadata_null.safetensors")}) {
    run_result r = run({"inspect", "--json", f.string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    simdjson::dom::parser p;
    CHECK(p.parse(r.out)["metadata"].is_null());
  }
  run_result r = run({"inspect", "--json", write_empty_metadata_file(dir).string()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  simdjson::dom::parser p;
  simdjson::dom::object meta;
  REQUIRE(!p.parse(r.out)["metadata"].get(meta));
  CHECK(meta.size() == 0);
}

TEST_CASE("cli inspect --json: any name round-trips, control characters included") {
  scratch_dir dir;
  fs::path file = write_hostile_file(dir);
  for (bool sha : {false, true}) {
    std::vector<std::string> args = {"inspect", "--json"};
    if (sha) args.push_back("--sha256");
    args.push_back(file.string());
    run_result r = run(args);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    REQUIRE_MESSAGE(!p.parse(r.out).get(doc), r.out);
    std::multiset<std::string> names;
    for (simdjson::dom::element t : simdjson::dom::array(doc["tensors"]))
      names.insert(std::string(std::string_view(t["name"])));
    CHECK(names == std::multiset<std::string>(hostile_names.begin(), hostile_names.end()));
    simdjson::dom::object meta = doc["metadata"];
    CHECK(std::string_view(meta["key\x1b]0;title\x07"]) == "value\nwith newline");
  }
}

TEST_CASE("cli inspect: a table of every tensor in offset order, then the metadata") {
  run_result r = run({"inspect", valid("metadata.safetensors").string()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.err.empty());
  auto lines = lines_of(r.out);
  // The tensor row: name, dtype, shape, bytes, offsets.
  CHECK(std::find(lines.begin(), lines.end(), "w     F32    [2, 2]     16  [0, 16)") != lines.end());
  // Every metadata entry, escaped, in file order.
  std::vector<std::string> meta_lines;
  for (const std::string& l : lines)
    if (l.find(" = ") != std::string::npos) meta_lines.push_back(l);
  std::vector<std::string> want = {
      R"(  feature_names = ["age","income","épargne"])",
      "  format = pt",
      "  trained_at = 2026-01-15T10:00:00Z",
      R"(  note ☃ = line1\nline2\t"quoted" \\ back)",
  };
  CHECK(meta_lines == want);
  CHECK(r.out.find("(no metadata)") == std::string::npos);

  run_result none = run({"inspect", valid("mixed_dtypes.safetensors").string()});
  REQUIRE(none.status == 0);
  CHECK(none.out.find("(no metadata)") != std::string::npos);
}

TEST_CASE("cli inspect: the table lists every tensor, in offset order, in aligned columns") {
  fs::path file = valid("mixed_dtypes.safetensors");
  auto rd = sw::reader::open(file.string());
  REQUIRE(rd);
  run_result r = run({"inspect", file.string()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto lines = lines_of(r.out);
  auto heading = std::find_if(lines.begin(), lines.end(), [](auto& l) { return l.starts_with("NAME "); });
  REQUIRE(heading != lines.end());
  const std::size_t dtype_col = heading->find("DTYPE"), shape_col = heading->find("SHAPE"),
                    bytes_end = heading->find("BYTES") + 5, offsets_col = heading->find("OFFSETS");
  REQUIRE(offsets_col != std::string::npos);
  std::size_t i = 0;
  for (auto it = heading + 1; it != lines.end() && !it->empty(); ++it, ++i) {
    REQUIRE(i < rd->tensors().size());
    const sw::tensor_info& t = rd->tensors()[i];
    const std::string& row = *it;
    INFO("row: ", row);
    REQUIRE(row.size() > offsets_col);
    CHECK(row.substr(0, t.name.size() + 1) == std::string(t.name) + " ");
    CHECK(row.substr(dtype_col).starts_with(std::string(sw::dtype_name(t.type)) + " "));
    CHECK(row.substr(shape_col).starts_with("[2, 4] "));
    std::string size = std::to_string(t.byte_size());
    CHECK(row.substr(bytes_end - size.size(), size.size() + 1) == size + " ");  // right-aligned
    CHECK(row.substr(offsets_col) == "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ")");
  }
  CHECK(i == rd->tensors().size());
}

TEST_CASE("cli inspect: names and metadata that could garble a terminal are escaped") {
  scratch_dir dir;
  fs::path file = write_hostile_file(dir);
  run_result r = run({"inspect", file.string()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  // No raw control character or direction override reaches the terminal...
  auto raw = std::find_if(r.out.begin(), r.out.end(),
                          [](char c) { return (static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f; });
  CHECK_MESSAGE(raw == r.out.end(), "raw control byte at ", raw - r.out.begin());
  CHECK(r.out.find("\xe2\x80\xae") == std::string::npos);
  CHECK(r.out.find("\xc2\x85") == std::string::npos);
  // ...every name shows up escaped, one row each...
  for (std::string_view shown : {"plain", R"(esc\x1b[31mred)", R"(nul\x00byte)", R"(new\nline)",
                                 R"(rtl\u{202e}txt)", R"(c1\u{0085}next)"}) {
    INFO("name ", shown);
    auto lines = lines_of(r.out);
    CHECK(std::count_if(lines.begin(), lines.end(), [&](auto& l) { return l.starts_with(std::string(shown) + " "); }) ==
          1);
  }
  // ...and so does the metadata.
  CHECK(r.out.find(R"(  key\x1b]0;title\x07 = value\nwith newline)") != std::string::npos);
}

TEST_CASE("cli inspect: empty metadata and no tensors are shown as such") {
  scratch_dir dir;
  run_result r = run({"inspect", write_empty_metadata_file(dir).string()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("metadata: (empty)") != std::string::npos);
  CHECK(r.out.find("(no metadata)") == std::string::npos);
  run_result none = run({"inspect", valid("no_tensors.safetensors").string()});
  REQUIRE(none.status == 0);
  CHECK(none.out.find("(no tensors)") != std::string::npos);
  CHECK(none.out.find("NAME") == std::string::npos);
}

TEST_CASE("cli inspect: an invalid or missing file exits 1 naming it") {
  for (bool json : {false, true}) {
    for (fs::path f : {malformed("hole.safetensors"), malformed("too_short.safetensors"),
                       conformance_dir() / "no_such_file.safetensors"}) {
      std::vector<std::string> args = {"inspect"};
      if (json) args.insert(args.end(), {"--json", "--sha256"});
      args.push_back(f.string());
      run_result r = run(args);
      INFO(f.string(), " ", r.err);
      CHECK(r.status == 1);
      CHECK(r.out.empty());
      CHECK(r.err.starts_with("safeweights: " + f.string() + ": "));
      CHECK(lines_of(r.err).size() == 1);
    }
  }
}

TEST_CASE("cli validate: every valid file is ok, one line each, in argument order") {
  std::vector<std::string> args = {"validate"};
  std::vector<std::string> want;
  for (const fs::path& f : valid_files()) {
    args.push_back(f.string());
    want.push_back(f.string() + ": ok");
  }
  run_result r = run(args);
  CHECK(r.status == 0);
  CHECK(r.err.empty());
  CHECK(lines_of(r.out) == want);
}

TEST_CASE("cli validate: every malformed file gets the verdict INDEX.json gives") {
  simdjson::dom::parser p;
  simdjson::dom::object index = p.load((conformance_dir() / "malformed" / "INDEX.json").string());
  std::size_t rejects = 0;
  for (auto [name, entry] : index) {
    fs::path f = malformed(std::string(name));
    const bool accept = std::string_view(entry["expect"]) == "accept";
    INFO(f.string());
    run_result r = run({"validate", f.string()});
    CHECK(r.err.empty());
    auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 1);
    if (accept) {
      CHECK(r.status == 0);
      CHECK(lines[0] == f.string() + ": ok");
    } else {
      ++rejects;
      CHECK(r.status == 1);
      // The error name is the library's, and the message follows it.
      auto rd = sw::reader::open(f.string());
      REQUIRE_FALSE(rd);
      std::string prefix = f.string() + ": invalid: " + std::string(sw::to_string(rd.code())) + ": ";
      CHECK(lines[0].starts_with(prefix));
      CHECK(lines[0].size() > prefix.size());
    }
  }
  CHECK(rejects >= 20);
}

TEST_CASE("cli validate: one bad file among good ones exits 1, every file reported") {
  fs::path good1 = valid("scalar.safetensors"), bad = malformed("overlap.safetensors"),
           good2 = valid("metadata.safetensors");
  run_result r = run({"validate", good1.string(), bad.string(), good2.string()});
  CHECK(r.status == 1);
  auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == good1.string() + ": ok");
  CHECK(lines[1].starts_with(bad.string() + ": invalid: offsets_not_contiguous: "));
  CHECK(lines[2] == good2.string() + ": ok");
}

// A header over 64 KiB is read in the mapping by default and with pread
// under --pread: both give the same verdicts, good file and bad.
TEST_CASE("cli validate: a large header is judged the same mapped and with --pread") {
  scratch_dir dir;
  sw::writer w;
  const float x = 1.5f;
  for (int i = 0; i < 3000; ++i)
    REQUIRE(w.add("layers." + std::to_string(i) + ".weight", sw::dtype::F32, {1}, std::as_bytes(std::span(&x, 1))));
  fs::path good = dir / "big_header.safetensors";
  REQUIRE(w.write_file(good.string()));
  auto image = test_support::read_bytes(good);
  auto opened = sw::reader::open(good.string());
  REQUIRE(opened);
  REQUIRE(opened->index().header_size() > (std::uint64_t{64} << 10));
  // The last tensor claims 8 bytes where its shape needs 4: only the validation walk sees it.
  std::string header(reinterpret_cast<const char*>(image.data()) + 8, opened->index().header_size());
  const std::string last = "[11996,12000]";
  auto at = header.rfind(last);
  REQUIRE(at != std::string::npos);
  header.replace(at, last.size(), "[11996,12004]");
  auto bad_image = test_support::make_file(header, 12004);
  fs::path bad = dir / "big_header_bad.safetensors";
  test_support::write_bytes(bad, bad_image);
  for (bool pread : {false, true}) {
    INFO("mode: ", std::string(pread ? "--pread" : "mapped"));
    std::vector<std::string> args = {"validate"};
    if (pread) args.push_back("--pread");
    args.push_back(good.string());
    args.push_back(bad.string());
    run_result r = run(args);
    CHECK(r.status == 1);
    auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == good.string() + ": ok");
    CHECK(lines[1].starts_with(bad.string() + ": invalid: size_mismatch: tensor `layers.999.weight`"));
  }
}

// One executable: a copy of it alone runs every kind of command, OpenSSL's
// and libzip's included; and a fast-starting build loads no shared library
// but libc's (src/cli/meson.build).
TEST_CASE("cli: one executable; alone it runs every kind of command; it starts with libc's libraries only") {
  scratch_dir dir;
  fs::path lone = dir / "safeweights";
  fs::copy_file(SAFEWEIGHTS_CLI, lone);
  fs::path f = valid("metadata.safetensors");
  run_result ok = test_support::run_program(lone.string(), {"validate", f.string()}, {});
  CHECK(ok.status == 0);
  CHECK(ok.out == f.string() + ": ok\n");
  run_result digest = test_support::run_program(lone.string(), {"digest", f.string()}, {});
  CHECK(digest.status == 0);
  CHECK(digest.out == run({"digest", f.string()}).out);
  const std::string npz = (dir / "m.npz").string(), back = (dir / "back.safetensors").string();
  const std::string f32 = valid("dtype_F32.safetensors").string();  // no metadata: .npz has none
  CHECK(test_support::run_program(lone.string(), {"convert", "-q", f32, npz}, {}).status == 0);
  CHECK(test_support::run_program(lone.string(), {"convert", "-q", npz, back}, {}).status == 0);
  CHECK(run({"diff", f32, back}).status == 0);

#if SAFEWEIGHTS_CLI_FAST_START
  run_result needed = test_support::run_program("/usr/bin/readelf", {"-d", "--wide", lone.string()}, {});
  REQUIRE(needed.status == 0);
  std::vector<std::string> libraries;
  for (const std::string& line : lines_of(needed.out))
    if (line.find("(NEEDED)") != std::string::npos) libraries.push_back(line.substr(line.find('[')));
  INFO("NEEDED: ", needed.out);
  REQUIRE(!libraries.empty());
  for (const std::string& library : libraries) {
    INFO(library);
    CHECK((library.starts_with("[libc.so") || library.starts_with("[libm.so") || library.starts_with("[ld-linux")));
  }
  CHECK(needed.out.find("TEXTREL") == std::string::npos);
#endif
}

TEST_CASE("cli validate: a missing file is invalid (exit 1) and named") {
  fs::path missing = conformance_dir() / "does_not_exist.safetensors";
  run_result r = run({"validate", missing.string()});
  CHECK(r.status == 1);
  auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].starts_with(missing.string() + ": invalid: io_error: "));
}

TEST_CASE("cli repack: every valid file comes back byte for byte") {
  scratch_dir dir;
  for (const fs::path& f : valid_files()) {
    INFO(f.string());
    fs::path out = dir / f.filename().string();
    run_result r = run({"repack", f.string(), out.string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const sw::reader input = sw::open(f.string());
    const std::size_t tensors = input.tensors().size();
    CHECK(r.out.starts_with("wrote " + out.string() + ": " + std::to_string(tensors) +
                            (tensors == 1 ? " tensor, " : " tensors, ")));
    CHECK(r.out.ends_with("B\n"));
    CHECK(lines_of(r.out).size() == 1);
    CHECK(r.err.empty());
    CHECK(read_bytes(out) == read_bytes(f));
  }
  CHECK(dir.entries() == valid_files().size());  // no temporary left behind
}

TEST_CASE("cli repack: an empty __metadata__ object survives") {
  scratch_dir dir;
  fs::path in = write_empty_metadata_file(dir), out = dir / "out.safetensors";
  run_result r = run({"repack", in.string(), out.string()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(read_bytes(out) == read_bytes(in));
}

TEST_CASE("cli repack: IN == OUT rewrites the file in place") {
  scratch_dir dir;
  // A canonical file stays the same...
  fs::path same = dir / "metadata.safetensors";
  fs::copy_file(valid("metadata.safetensors"), same);
  run_result r = run({"repack", same.string(), same.string()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(read_bytes(same) == read_bytes(valid("metadata.safetensors")));

  // ...a non-canonical one becomes canonical, with the same tensors.
  fs::path odd = dir / "unordered.safetensors";
  fs::copy_file(malformed("unordered_entries.safetensors"), odd);
  auto before = read_bytes(odd);
  r = run({"repack", odd.string(), odd.string()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto after = read_bytes(odd);
  CHECK(after != before);
  auto a = sw::reader::from_buffer(before), b = sw::reader::from_buffer(after);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(a->tensors().size() == b->tensors().size());
  for (const sw::tensor_info& t : a->tensors()) {
    const sw::tensor_info* u = b->find(t.name);
    REQUIRE(u);
    CHECK(u->type == t.type);
    CHECK(std::vector<std::uint64_t>(u->shape.begin(), u->shape.end()) ==
          std::vector<std::uint64_t>(t.shape.begin(), t.shape.end()));
    sw::tensor_view in_b = b->tensor(*u).value(), in_a = a->tensor(t).value();
    CHECK(std::ranges::equal(in_b.bytes(), in_a.bytes()));
  }
  // Repacking the result again changes nothing: it is canonical.
  r = run({"repack", odd.string(), odd.string()});
  REQUIRE(r.status == 0);
  CHECK(read_bytes(odd) == after);
  CHECK(dir.entries() == 2);  // no temporary left behind
}

TEST_CASE("cli repack --align: the data section starts on a 64-byte boundary") {
  scratch_dir dir;
  fs::path in = valid("mixed_dtypes.safetensors"), out = dir / "aligned.safetensors";
  auto original = sw::reader::open(in.string());
  REQUIRE(original);
  REQUIRE(original->index().data_offset() % 64 != 0);  // or the test proves nothing
  run_result r = run({"repack", "--align", in.string(), out.string()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto aligned = sw::reader::open(out.string());
  REQUIRE(aligned);
  CHECK(aligned->index().data_offset() % 64 == 0);
  REQUIRE(aligned->tensors().size() == original->tensors().size());
  for (std::size_t i = 0; i < original->tensors().size(); ++i) {
    CHECK(aligned->tensors()[i].name == original->tensors()[i].name);
    sw::tensor_view padded = aligned->tensor(aligned->tensors()[i]).value();
    sw::tensor_view unpadded = original->tensor(original->tensors()[i]).value();
    CHECK(std::ranges::equal(padded.bytes(), unpadded.bytes()));
  }
  // And back: repacking without --align restores the reference's bytes.
  r = run({"repack", out.string(), out.string()});
  REQUIRE(r.status == 0);
  CHECK(read_bytes(out) == read_bytes(in));
}

TEST_CASE("cli repack: an invalid input exits 1 and writes nothing") {
  scratch_dir dir;
  for (std::string name : {"hole.safetensors", "trailing_bytes.safetensors", "header_not_json.safetensors"}) {
    fs::path in = malformed(name), out = dir / "out.safetensors";
    run_result r = run({"repack", in.string(), out.string()});
    INFO(name, ": ", r.err);
    CHECK(r.status == 1);
    CHECK(r.err.starts_with("safeweights: " + in.string() + ": "));
    CHECK_FALSE(fs::exists(out));
    CHECK(dir.entries() == 0);  // no OUT, no temporary
  }
  // An existing OUT is left as it was.
  fs::path out = dir / "keep.safetensors";
  fs::copy_file(valid("scalar.safetensors"), out);
  run_result r = run({"repack", malformed("overlap.safetensors").string(), out.string()});
  CHECK(r.status == 1);
  CHECK(read_bytes(out) == read_bytes(valid("scalar.safetensors")));
  CHECK(dir.entries() == 1);
}

TEST_CASE("cli repack: a missing input or an unwritable output exits 1 naming the path") {
  scratch_dir dir;
  fs::path missing = dir / "missing.safetensors", out = dir / "out.safetensors";
  run_result r = run({"repack", missing.string(), out.string()});
  CHECK(r.status == 1);
  CHECK(r.err.find(missing.string()) != std::string::npos);
  CHECK_FALSE(fs::exists(out));

  fs::path nowhere = dir / "no_such_dir" / "out.safetensors";
  r = run({"repack", valid("scalar.safetensors").string(), nowhere.string()});
  CHECK(r.status == 1);
  CHECK(r.err.starts_with("safeweights: "));
  CHECK(r.err.find(nowhere.string()) != std::string::npos);
  CHECK(dir.entries() == 0);
}

TEST_CASE("cli usage errors exit 2 with a message on stderr") {
  const std::string f = valid("scalar.safetensors").string();
  scratch_dir dir;
  const std::string out = (dir / "out.safetensors").string();
  const std::vector<std::vector<std::string>> cases = {
      {},                                  // no command
      {"frobnicate"},                      // unknown command
      {"--frobnicate"},                    // unknown option before the command
      {"inspect"},                         // missing FILE
      {"inspect", f, f},                   // one FILE only
      {"inspect", "--bogus", f},           // unknown option
      {"validate"},                        // missing FILE
      {"validate", "--bogus", f},          // unknown option
      {"repack"},                          // missing IN and OUT
      {"repack", f},                       // missing OUT
      {"repack", f, out, out},             // too many
      {"repack", "--bogus", f, out},       // unknown option
      {"repack", "--align=yes", f, out},   // options take no value
  };
  for (const auto& args : cases) {
    std::string shown;
    for (auto& a : args) shown += a + " ";
    INFO("safeweights ", shown);
    run_result r = run(args);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(r.err.starts_with("safeweights: "));
    CHECK(r.err.find("usage: safeweights") != std::string::npos);
  }
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("cli usage errors name what was wrong") {
  CHECK(run({"frobnicate"}).err.find("frobnicate") != std::string::npos);
  CHECK(run({"inspect", "--bogus", "x"}).err.find("--bogus") != std::string::npos);
  CHECK(run({"validate", "--nope", "x"}).err.find("--nope") != std::string::npos);
}

TEST_CASE("cli --help and --version exit 0 on stdout") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--help"}, "usage: safeweights COMMAND"},
      {{"-h"}, "usage: safeweights COMMAND"},
      {{"inspect", "--help"}, "usage: safeweights inspect"},
      {{"validate", "--help"}, "usage: safeweights validate"},
      {{"repack", "--help"}, "usage: safeweights repack"},
      {{"repack", "-h"}, "usage: safeweights repack"},
  };
  for (const auto& [args, text] : cases) {
    INFO(args[0], " ", args.back());
    run_result r = run(args);
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    CHECK(r.out.starts_with(text));
  }
  run_result top = run({"--help"});
  for (std::string_view c : {"inspect", "validate", "repack"}) CHECK(top.out.find(c) != std::string::npos);

  run_result v = run({"--version"});
  CHECK(v.status == 0);
  CHECK(v.out == "safeweights " SAFEWEIGHTS_VERSION_STRING "\n");
}

namespace {

// The commands of src/cli/commands.def, the one table the executable and
// meson read.
struct table_command {
  std::string name;
};

std::vector<table_command> commands_of_the_table() {
  const std::string prefix = "SAFEWEIGHTS_CLI_COMMAND(";
  auto field = [](const std::string& line, std::size_t& from) {
    std::size_t comma = line.find(',', from);
    std::string f = line.substr(from, comma - from);
    from = comma + 1;
    f.erase(0, f.find_first_not_of(' '));
    return f;
  };
  std::vector<table_command> out;
  for (const std::string& line : lines_of(test_support::read_text(SAFEWEIGHTS_CLI_COMMANDS))) {
    if (!line.starts_with(prefix)) continue;
    std::size_t from = prefix.size();
    std::string name = field(line, from);
    out.push_back({name});
  }
  return out;
}

// The names `safeweights --help` lists under "Commands:".
std::vector<std::string> commands_in_help(const std::string& help) {
  std::vector<std::string> names;
  auto lines = lines_of(help);
  auto it = std::find(lines.begin(), lines.end(), "Commands:");
  if (it != lines.end())
    for (++it; it != lines.end() && !it->empty(); ++it) names.push_back(it->substr(2, it->find(' ', 2) - 2));
  return names;
}

}  // namespace

TEST_CASE("cli: every command of the table is in --help, in order, and runs") {
  const std::vector<table_command> table = commands_of_the_table();
  REQUIRE(!table.empty());
  std::vector<std::string> names;
  for (const table_command& c : table) names.push_back(c.name);
  CHECK(commands_in_help(run({"--help"}).out) == names);

  for (const table_command& c : table) {
    INFO("safeweights ", c.name, " --help");
    run_result r = run({c.name, "--help"});
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    CHECK(r.out.starts_with("usage: safeweights " + c.name + " "));
  }
}

TEST_CASE("cli: `--` ends the options") {
  run_result r = run({"validate", "--", "--not-an-option"});
  CHECK(r.status == 1);  // a (missing) file, not an unknown option
  CHECK(lines_of(r.out) == std::vector<std::string>{"--not-an-option: invalid: io_error: cannot open: No such file or directory"});
}
