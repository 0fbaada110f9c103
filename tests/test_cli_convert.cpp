// `safeweights convert`, through the real binary, on real outputs of NumPy
// (np.save, np.savez, np.savez_compressed) and PyTorch (torch.save, and its
// own BF16/F16 casts), made by tests/data/make_numpy_torch.py.
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "cli_support.hpp"
#include "safeweights/safeweights.hpp"

namespace sw = safeweights;
namespace fs = std::filesystem;
using cli_test::numpy_file;
using cli_test::run;
using cli_test::run_result;
using cli_test::torch_file;
using cli_test::valid;
using test_support::read_bytes;
using test_support::scratch_dir;

namespace {

std::vector<std::byte> tensor_bytes(const sw::reader& r, std::string_view name) {
  auto view = r.tensor(name);
  REQUIRE_MESSAGE(view, "no tensor ", name, " in ", r.source());
  return {view->bytes().begin(), view->bytes().end()};
}

std::vector<std::uint64_t> shape_of(const sw::reader& r, std::string_view name) {
  const sw::tensor_info* t = r.find(name);
  REQUIRE(t);
  return {t->shape.begin(), t->shape.end()};
}

// Converts `inputs` to `out` and opens the result.
sw::reader convert_ok(const std::vector<std::string>& args) {
  run_result r = run(args);
  INFO("convert ", args.back(), ": ", r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.starts_with("wrote " + args.back() + ": "));
  CHECK(cli_test::lines_of(r.out).size() == 1);
  CHECK(r.err.empty());
  return sw::reader::open(args.back()).value();
}

std::set<std::string> names_of(const sw::reader& r) {
  std::set<std::string> names;
  for (const sw::tensor_info& t : r.tensors()) names.emplace(t.name);
  return names;
}

// A file whose tensors are `names` (U8, one byte each).
fs::path write_named(const scratch_dir& dir, const std::string& file, const std::vector<std::string>& names) {
  sw::writer w;
  static const std::uint8_t byte = 1;
  for (const std::string& n : names) REQUIRE(w.add(n, sw::dtype::U8, {1}, std::as_bytes(std::span(&byte, 1))));
  fs::path p = dir / file;
  REQUIRE(w.write_file(p.string()));
  return p;
}

}  // namespace

TEST_CASE("convert .npy: every dtype NumPy shares with safetensors, named after the file, bytes as np.load gives") {
  const std::map<std::string, std::pair<sw::dtype, std::vector<std::uint64_t>>> want = {
      {"f32", {sw::dtype::F32, {2, 3}}},   {"f64", {sw::dtype::F64, {4}}},     {"f16", {sw::dtype::F16, {5}}},
      {"i8", {sw::dtype::I8, {6}}},        {"u8", {sw::dtype::U8, {6}}},       {"i16", {sw::dtype::I16, {3, 2}}},
      {"u16", {sw::dtype::U16, {3, 2}}},   {"i32", {sw::dtype::I32, {4}}},     {"u32", {sw::dtype::U32, {4}}},
      {"i64", {sw::dtype::I64, {2, 2}}},   {"u64", {sw::dtype::U64, {2, 2}}},  {"bool", {sw::dtype::BOOL, {7}}},
      {"c64", {sw::dtype::C64, {3}}},      {"scalar", {sw::dtype::F32, {}}},   {"empty", {sw::dtype::F32, {0, 3}}},
  };
  scratch_dir dir;
  for (const auto& [name, kind] : want) {
    INFO(name);
    sw::reader r = convert_ok({"convert", numpy_file(name + ".npy").string(), (dir / (name + ".safetensors")).string()});
    REQUIRE(r.tensors().size() == 1);
    CHECK(r.tensors()[0].name == name);
    CHECK(r.tensors()[0].type == kind.first);
    CHECK(shape_of(r, name) == kind.second);
    CHECK(tensor_bytes(r, name) == read_bytes(numpy_file(name + ".bytes")));
    CHECK_FALSE(r.has_metadata());
  }
}

TEST_CASE("convert .npy: Fortran order is transposed, big-endian swapped, version 2.0 read") {
  scratch_dir dir;
  // Each file beside its C-order little-endian twin, written by NumPy from the same values.
  for (auto [odd, twin] : {std::pair{"fortran_f64", "fortran_f64.c"}, std::pair{"big_f32", "big_f32.le"},
                           std::pair{"big_i64", "big_i64.le"}, std::pair{"big_c64", "big_c64.le"},
                           std::pair{"big_u16", "big_u16.le"}, std::pair{"big_fortran_f32", "big_fortran_f32.c"},
                           std::pair{"version2", "f32"}}) {
    INFO(odd);
    sw::reader a = convert_ok({"convert", numpy_file(std::string(odd) + ".npy").string(), (dir / "a.safetensors").string()});
    sw::reader b = convert_ok({"convert", numpy_file(std::string(twin) + ".npy").string(), (dir / "b.safetensors").string()});
    CHECK(a.tensors()[0].type == b.tensors()[0].type);
    CHECK(shape_of(a, odd) == shape_of(b, twin));
    CHECK(tensor_bytes(a, odd) == tensor_bytes(b, twin));
  }
}

TEST_CASE("convert .npz: np.savez (stored) and np.savez_compressed (deflated) give the same file") {
  scratch_dir dir;
  fs::path stored = dir / "stored.safetensors", deflated = dir / "deflated.safetensors";
  sw::reader s = convert_ok({"convert", numpy_file("stored.npz").string(), stored.string()});
  convert_ok({"convert", numpy_file("compressed.npz").string(), deflated.string()});
  CHECK(names_of(s) == std::set<std::string>{"embed.weight", "embed.bias", "steps", "mask"});
  CHECK(s.find("embed.weight")->type == sw::dtype::F32);
  CHECK(shape_of(s, "embed.weight") == std::vector<std::uint64_t>{4, 3});
  CHECK(s.find("embed.bias")->type == sw::dtype::F16);
  CHECK(s.find("steps")->type == sw::dtype::I64);
  CHECK(shape_of(s, "steps").empty());
  CHECK(s.find("mask")->type == sw::dtype::BOOL);
  CHECK(read_bytes(stored) == read_bytes(deflated));

  // Fortran-order and big-endian members, stored and deflated.
  for (std::string archive : {"layouts.npz", "layouts_compressed.npz"}) {
    INFO(archive);
    sw::reader l = convert_ok({"convert", numpy_file(archive).string(), (dir / "l.safetensors").string()});
    sw::reader c = convert_ok({"convert", numpy_file("fortran_f64.c.npy").string(), (dir / "c.safetensors").string()});
    CHECK(tensor_bytes(l, "fortran") == tensor_bytes(c, "fortran_f64.c"));
    sw::reader f = convert_ok({"convert", numpy_file("f32.npy").string(), (dir / "f.safetensors").string()});
    CHECK(l.find("big")->type == sw::dtype::F32);
    CHECK(tensor_bytes(l, "big") == tensor_bytes(f, "f32"));
  }
  // An empty archive is an empty file.
  sw::reader e = convert_ok({"convert", numpy_file("empty.npz").string(), (dir / "e.safetensors").string()});
  CHECK(e.tensors().empty());
}

TEST_CASE("convert: several inputs make one file; a name given twice is an error") {
  scratch_dir dir;
  sw::reader r = convert_ok({"convert", numpy_file("f32.npy").string(), numpy_file("i8.npy").string(),
                             numpy_file("stored.npz").string(), (dir / "all.safetensors").string()});
  CHECK(names_of(r) == std::set<std::string>{"f32", "i8", "embed.weight", "embed.bias", "steps", "mask"});
  fs::path out = dir / "twice.safetensors";
  run_result twice = run({"convert", numpy_file("stored.npz").string(), numpy_file("compressed.npz").string(), out.string()});
  CHECK(twice.status == 1);
  CHECK(twice.err.find("embed") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("convert refuses pickles, object arrays and broken files, saying why, and writes nothing") {
  struct bad_input {
    fs::path file;
    std::vector<std::string> says;  // what the message must mention
  };
  const std::vector<bad_input> cases = {
      {numpy_file("object.npy"), {"object array", "pickle"}},
      {numpy_file("object.npz"), {"bad.npy", "object array", "pickle"}},
      {numpy_file("pickle.npy"), {"pickle", "refused"}},
      {torch_file("state_dict.pt"), {"PyTorch checkpoint", "pickle", "refused"}},
      {torch_file("state_dict_legacy.pt"), {"pickle", "refused"}},
      {numpy_file("structured.npy"), {"structured"}},
      {numpy_file("unicode.npy"), {"string"}},
      {numpy_file("datetime.npy"), {"datetime"}},
      {numpy_file("complex128.npy"), {"complex128"}},
      {numpy_file("longdouble.npy"), {"long double"}},
      {numpy_file("wrong_magic.npy"), {"\\x93NUMPY"}},
      {numpy_file("truncated.npy"), {"truncated"}},
      {numpy_file("truncated_header.npy"), {"truncated"}},
      {numpy_file("trailing.npy"), {"4 bytes follow"}},
      {numpy_file("bad_header.npy"), {"unknown key 'extra'"}},
      {numpy_file("huge_shape.npy"), {"overflows"}},
      {numpy_file("truncated.npz"), {"truncated"}},
      {numpy_file("truncated_compressed.npz"), {"truncated"}},
      {numpy_file("corrupt_crc.npz"), {"embed.weight.npy", "CRC"}},
      {numpy_file("not_npy_member.npz"), {"readme.txt", "not a .npy"}},
      {valid("scalar.safetensors"), {"already safetensors"}},
  };
  scratch_dir dir;
  fs::path out = dir / "out.safetensors";
  for (const bad_input& c : cases) {
    run_result r = run({"convert", c.file.string(), out.string()});
    INFO(c.file.filename().string(), ": ", r.err);
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK(r.err.starts_with("safeweights: " + c.file.string() + ": "));
    CHECK(cli_test::lines_of(r.err).size() == 1);
    for (const std::string& s : c.says) CHECK(r.err.find(s) != std::string::npos);
    CHECK(dir.entries() == 0);  // no OUT, no temporary
  }
  // A failure found while streaming (the CRC, at the end of a member) leaves an existing OUT as it was.
  fs::copy_file(valid("scalar.safetensors"), out);
  CHECK(run({"convert", numpy_file("corrupt_crc.npz").string(), out.string()}).status == 1);
  CHECK(read_bytes(out) == read_bytes(valid("scalar.safetensors")));
  CHECK(dir.entries() == 1);
}

namespace {

// zip's CRC-32 (reflected, polynomial 0xEDB88320), a bit at a time: the
// archives below are a few hundred bytes.
std::uint32_t crc32_of(std::string_view bytes) {
  std::uint32_t crc = 0xFFFFFFFF;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320 & (0 - (crc & 1)));
  }
  return ~crc;
}

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) out += static_cast<char>((v >> (8 * k)) & 0xFF);
}

// A version 1.0 .npy preamble of a (2, n) uint8 array, padded to 64 bytes as NumPy pads it.
std::string npy_u8_preamble(std::uint64_t n, bool fortran) {
  std::string dict = "{'descr': '|u1', 'fortran_order': " + std::string(fortran ? "True" : "False") +
                     ", 'shape': (2, " + std::to_string(n) + "), }";
  std::size_t header = dict.size() + 1;
  header += (64 - (10 + header) % 64) % 64;
  dict.resize(header - 1, ' ');
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  put_le(out, header, 2);
  return out + dict + "\n";
}

// A zip archive written by hand (libzip would not write a lie): one member
// `name` holding `data`, stored, or deflated as one stored deflate block, whose
// local header and central directory both say it holds `declared` bytes.
std::string one_member_zip(const std::string& name, const std::string& data, std::uint32_t declared, bool deflate) {
  std::string packed = data;
  if (deflate) {  // stored deflate blocks of up to 65535 bytes: BFINAL, LEN, NLEN, the bytes
    packed.clear();
    for (std::size_t at = 0; at == 0 || at < data.size(); at += 65535) {
      const std::size_t n = std::min<std::size_t>(65535, data.size() - at);
      packed += at + n >= data.size() ? '\x01' : '\x00';
      put_le(packed, n, 2);
      put_le(packed, 0xFFFF & ~n, 2);
      packed += data.substr(at, n);
    }
  }
  const std::uint16_t method = deflate ? 8 : 0;
  auto entry = [&](std::string& out) {  // the fields both headers share, from the method on
    put_le(out, method, 2);
    put_le(out, 0, 2);       // time
    put_le(out, 0x21, 2);    // date: 1980-01-01
    put_le(out, crc32_of(data), 4);
    put_le(out, packed.size(), 4);
    put_le(out, declared, 4);
    put_le(out, name.size(), 2);
    put_le(out, 0, 2);       // extra field length
  };
  std::string zip;
  put_le(zip, 0x04034b50, 4);
  put_le(zip, 20, 2);  // version needed
  put_le(zip, 0, 2);   // flags
  entry(zip);
  zip += name + packed;
  const std::size_t directory_at = zip.size();
  put_le(zip, 0x02014b50, 4);
  put_le(zip, 20, 2);  // made by
  put_le(zip, 20, 2);  // needed
  put_le(zip, 0, 2);   // flags
  entry(zip);
  put_le(zip, 0, 2);   // comment length
  put_le(zip, 0, 2);   // disk
  put_le(zip, 0, 2);   // internal attributes
  put_le(zip, 0, 4);   // external attributes
  put_le(zip, 0, 4);   // the local header's offset
  zip += name;
  const std::size_t directory_size = zip.size() - directory_at;
  put_le(zip, 0x06054b50, 4);
  put_le(zip, 0, 4);  // disk numbers
  put_le(zip, 1, 2);
  put_le(zip, 1, 2);
  put_le(zip, directory_size, 4);
  put_le(zip, directory_at, 4);
  put_le(zip, 0, 2);
  return zip;
}

}  // namespace

TEST_CASE("convert .npz: a member stating more bytes than its packed bytes can hold is refused at once (issue 13)") {
  // f.npy holds a (2, n) uint8 array: its preamble and 16 bytes. An honest
  // archive says so; a hostile one says 1.5 GiB (n = 768 Mi), which a reader
  // that allocates what the directory states would zero-fill before reading.
  const std::uint64_t hostile_n = std::uint64_t{768} << 20;
  // Over what the tool itself takes (a sanitizer build takes ~75 MB for `--version`).
  const long rss_bound_kib = run({"--version"}).peak_rss_kib + 64 * 1024;
  scratch_dir dir;
  for (bool fortran : {true, false})
    for (bool deflate : {false, true}) {
      INFO("fortran_order ", fortran, ", deflated ", deflate);
      const std::string honest_data = npy_u8_preamble(8, fortran) + std::string(16, '\x07');
      fs::path honest = dir / "honest.npz", out = dir / "out.safetensors";
      test_support::write_text(honest, one_member_zip("f.npy", honest_data, honest_data.size(), deflate));
      sw::reader r = convert_ok({"convert", honest.string(), out.string()});
      CHECK(shape_of(r, "f") == std::vector<std::uint64_t>{2, 8});
      fs::remove(out);

      const std::string preamble = npy_u8_preamble(hostile_n, fortran);
      REQUIRE(preamble.size() == npy_u8_preamble(8, fortran).size());
      const std::string data = preamble + std::string(16, '\x07');
      fs::path hostile = dir / "hostile.npz";
      test_support::write_text(hostile, one_member_zip("f.npy", data, preamble.size() + 2 * hostile_n, deflate));
      run_result bad = run({"convert", hostile.string(), out.string()});
      INFO(bad.err);
      CHECK(bad.status == 1);
      CHECK(bad.err.starts_with("safeweights: " + hostile.string() + ": member `f.npy`: "));
      CHECK(bad.err.find("the zip directory says it holds " + std::to_string(preamble.size() + 2 * hostile_n)) !=
            std::string::npos);
      CHECK(bad.peak_rss_kib < rss_bound_kib);
      CHECK_FALSE(fs::exists(out));
    }
}

TEST_CASE("convert .npz: a deflated member whose stated size its packed bytes could just hold costs no more than it gives") {
  // 1.1 MB packed may inflate to 1.1 GB (1032:1), so a claim of 1 GiB passes
  // the check at open; the bytes that really come are 1.1 MB. The Fortran-order
  // path reads the member whole: room for the claim up front was 1 GiB.
  const std::uint64_t claimed_n = std::uint64_t{512} << 20;
  const std::string preamble = npy_u8_preamble(claimed_n, true);
  std::string data = preamble;
  for (std::size_t i = 0; data.size() < (std::size_t{1100} << 10); ++i) data += static_cast<char>((i * 2654435761u) >> 13);
  scratch_dir dir;
  fs::path hostile = dir / "inflating.npz", out = dir / "out.safetensors";
  test_support::write_text(hostile, one_member_zip("f.npy", data, preamble.size() + 2 * claimed_n, true));
  // What converting a tiny archive takes (the module, libzip; ~100 MB under ASan) is the floor.
  const std::string tiny = npy_u8_preamble(8, true) + std::string(16, '\x07');
  fs::path honest = dir / "tiny.npz";
  test_support::write_text(honest, one_member_zip("f.npy", tiny, tiny.size(), true));
  const run_result floor = run({"convert", honest.string(), out.string()});
  REQUIRE(floor.status == 0);
  fs::remove(out);
  run_result bad = run({"convert", hostile.string(), out.string()});
  INFO(bad.err);
  CHECK(bad.status == 1);
  CHECK(bad.err.starts_with("safeweights: " + hostile.string() + ": member `f.npy` ends after 1126400 bytes"));
  CHECK(bad.peak_rss_kib < floor.peak_rss_kib + 96 * 1024);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("convert to .npz and back: every conformance file NumPy can hold comes back byte for byte") {
  scratch_dir dir;
  std::size_t round_trips = 0;
  for (auto& e : fs::directory_iterator(test_support::conformance_dir() / "valid")) {
    if (e.path().extension() != ".safetensors") continue;
    sw::reader in = sw::reader::open(e.path().string()).value();
    bool numpy_can = true;
    for (const sw::tensor_info& t : in.tensors())
      numpy_can = numpy_can && t.type != sw::dtype::BF16 && sw::byte_width(t.type) != 0 &&
                  !std::string_view(sw::dtype_name(t.type)).starts_with("F8");
    for (bool compress : {false, true}) {
      INFO(e.path().filename().string(), std::string(compress ? " deflated" : " stored"));
      fs::path npz = dir / "x.npz", back = dir / "back.safetensors";
      fs::remove(npz);
      std::vector<std::string> args = {"convert", e.path().string(), npz.string()};
      if (compress) args.insert(args.begin() + 1, "--compress");
      run_result r = run(args);
      if (!numpy_can) {
        CHECK(r.status == 1);
        CHECK(r.err.find("NumPy has no dtype") != std::string::npos);
        CHECK_FALSE(fs::exists(npz));
        continue;
      }
      REQUIRE_MESSAGE(r.status == 0, r.err);
      sw::reader b = convert_ok({"convert", npz.string(), back.string()});
      if (!in.has_metadata()) CHECK(read_bytes(back) == read_bytes(e.path()));  // metadata has no place in .npz
      REQUIRE(b.tensors().size() == in.tensors().size());
      for (const sw::tensor_info& t : in.tensors()) CHECK(tensor_bytes(b, t.name) == tensor_bytes(in, t.name));
      ++round_trips;
    }
  }
  CHECK(round_trips >= 30);
}

TEST_CASE("convert to .npz writes what np.savez writes: NAME.npy members, stored or deflated, NumPy preambles") {
  scratch_dir dir;
  for (bool compress : {false, true}) {
    fs::path npz = dir / "f.npz";
    std::vector<std::string> args = {"convert", valid("dtype_F32.safetensors").string(), npz.string()};
    if (compress) args.insert(args.begin() + 1, "--compress");
    REQUIRE(run(args).status == 0);
    auto bytes = read_bytes(npz);
    REQUIRE(bytes.size() > 30);
    // The first local file header: signature, then the compression method at offset 8.
    CHECK(std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0);
    CHECK(std::to_integer<int>(bytes[8]) == (compress ? 8 : 0));
    const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    CHECK(text.find("bias.npy") != std::string::npos);
    CHECK(text.find("weight.npy") != std::string::npos);
    if (!compress) {
      // xnpy's preamble: format 1.0, the dict NumPy writes, padded so the data starts at 64.
      auto at = text.find("\x93NUMPY\x01");
      REQUIRE(at != std::string::npos);
      std::size_t len = std::to_integer<std::size_t>(bytes[at + 8]) | std::to_integer<std::size_t>(bytes[at + 9]) << 8;
      CHECK((10 + len) % 64 == 0);
      CHECK(text.substr(at + 10).starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }"));
      CHECK(text[at + 10 + len - 1] == '\n');
    }
  }
}

TEST_CASE("convert to .npy and to a directory of .npy files") {
  scratch_dir dir;
  // One tensor: one .npy, and back.
  fs::path npy = dir / "x.npy";
  REQUIRE(run({"convert", valid("scalar.safetensors").string(), npy.string()}).status == 0);
  sw::reader back = convert_ok({"convert", npy.string(), (dir / "x.safetensors").string()});
  sw::reader in = sw::reader::open(valid("scalar.safetensors").string()).value();
  CHECK(tensor_bytes(back, "x") == tensor_bytes(in, in.tensors()[0].name));
  // Several tensors do not fit one .npy.
  run_result many = run({"convert", valid("dtype_F32.safetensors").string(), (dir / "many.npy").string()});
  CHECK(many.status == 1);
  CHECK(many.err.find("holds 2 tensors") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "many.npy"));
  // A directory: NAME.npy per tensor.
  fs::path out = dir / "arrays";
  REQUIRE(run({"convert", valid("mixed_dtypes.safetensors").string(), "--dtype", "f32", out.string() + "/"}).status == 1);
  REQUIRE(run({"convert", valid("dtype_F32.safetensors").string(), out.string() + "/"}).status == 0);
  sw::reader weight = convert_ok({"convert", (out / "weight.npy").string(), (dir / "w.safetensors").string()});
  sw::reader f32 = sw::reader::open(valid("dtype_F32.safetensors").string()).value();
  CHECK(tensor_bytes(weight, "weight") == tensor_bytes(f32, "weight"));
  CHECK(fs::exists(out / "bias.npy"));
  // Names that are not file names (or would escape an archive) are refused.
  fs::path odd = write_named(dir, "odd.safetensors", {"a/b", "c"});
  run_result slash = run({"convert", odd.string(), (dir / "oddout").string() + "/"});
  CHECK(slash.status == 1);
  CHECK(slash.err.find("`a/b`") != std::string::npos);
  REQUIRE(run({"convert", odd.string(), (dir / "odd.npz").string()}).status == 0);  // fine inside a zip
  // Windows unzip tools split at a backslash too and take "C:" as a drive (issue 13).
  for (std::string name :
       {"../../escape", "/etc/escape", "..\\..\\escape", "a\\..\\..\\b", "\\escape", "C:\\escape", "c:escape"}) {
    INFO(name);
    fs::path evil = write_named(dir, "evil.safetensors", {name});
    run_result escape = run({"convert", evil.string(), (dir / "evil.npz").string()});
    CHECK(escape.status == 1);
    CHECK(escape.err.find("escapes") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "evil.npz"));
  }
  // A backslash inside a name, or a colon elsewhere, escapes nothing.
  fs::path fine = write_named(dir, "fine.safetensors", {"a\\b", "layer:0", "1:x", "..x"});
  CHECK(run({"convert", fine.string(), (dir / "fine.npz").string()}).status == 0);
}

TEST_CASE("convert to a directory is all or nothing: a failure leaves no directory, .npy or temporary (issue 13)") {
  scratch_dir dir;
  // "a" is written first; "zzz..." makes a name past NAME_MAX, found only when its file is created.
  const std::string long_name(300, 'z');
  fs::path in = write_named(dir, "in.safetensors", {"a", long_name});
  fs::path out = dir / "arrays";
  run_result r = run({"convert", in.string(), out.string() + "/"});
  CHECK(r.status == 1);
  CHECK(r.err.starts_with("safeweights: " + out.string() + ": tensor `zzzz"));
  CHECK(r.err.find("File name too long") != std::string::npos);
  CHECK(dir.entries() == 1);  // only IN: no directory, no .arrays.tmp-XXXXXX

  // An empty directory is filled whole, keeping its mode; it stays empty when the conversion fails.
  fs::create_directory(out);
  fs::permissions(out, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  CHECK(run({"convert", in.string(), out.string()}).status == 1);
  CHECK(fs::is_empty(out));
  CHECK(dir.entries() == 2);
  fs::path fine = write_named(dir, "fine.safetensors", {"a", "b"});
  run_result ok = run({"convert", fine.string(), out.string() + "/"});
  INFO(ok.err);
  REQUIRE(ok.status == 0);
  CHECK(fs::exists(out / "a.npy"));
  CHECK(fs::exists(out / "b.npy"));
  CHECK(fs::status(out).permissions() == (fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec));
  CHECK(dir.entries() == 3);

  // A directory holding files is refused, not mixed with new arrays, and left as it was.
  fs::path other = write_named(dir, "other.safetensors", {"c"});
  run_result full = run({"convert", other.string(), out.string()});
  CHECK(full.status == 1);
  CHECK(full.err == "safeweights: " + out.string() + ": the directory is not empty; its files would be mixed with "
                                                      "the new ones, so give a new or empty directory\n");
  CHECK_FALSE(fs::exists(out / "c.npy"));
  CHECK(fs::exists(out / "a.npy"));
  CHECK(dir.entries() == 4);
}

TEST_CASE("convert --dtype: BF16, F16 and F32 casts equal PyTorch's own, bit for bit") {
  scratch_dir dir;
  sw::reader casts = convert_ok({"convert", torch_file("torch_casts.npz").string(), (dir / "casts.safetensors").string()});
  for (auto [flag, type] : {std::pair{"bf16", sw::dtype::BF16}, std::pair{"f16", sw::dtype::F16},
                            std::pair{"f32", sw::dtype::F32}}) {
    fs::path out = dir / (std::string(flag) + ".safetensors");
    sw::reader r = convert_ok({"convert", "--dtype", flag, torch_file("state_dict.npz").string(), out.string()});
    std::size_t compared = 0;
    for (const sw::tensor_info& t : r.tensors()) {
      INFO(flag, " ", t.name);
      if (t.name == "norm.num_batches_tracked") {  // an integer: never cast
        CHECK(t.type == sw::dtype::I64);
        continue;
      }
      CHECK(t.type == type);
      auto ours = tensor_bytes(r, t.name), theirs = tensor_bytes(casts, std::string(t.name) + "@" + flag);
      REQUIRE(ours.size() == theirs.size());
      const std::size_t width = sw::byte_width(type);
      for (std::size_t i = 0; i < ours.size(); i += width) {
        bool same = std::memcmp(ours.data() + i, theirs.data() + i, width) == 0;
        if (!same && width == 2) {
          // NaN: PyTorch's vectorised cast writes 0xFFFF, ours keeps the sign and sets the quiet bit.
          std::uint16_t a, b;
          std::memcpy(&a, ours.data() + i, 2);
          std::memcpy(&b, theirs.data() + i, 2);
          auto is_nan = [&](std::uint16_t h) {
            return type == sw::dtype::BF16 ? std::isnan(sw::bf16_to_float(h)) : std::isnan(sw::f16_to_float(h));
          };
          same = is_nan(a) && is_nan(b);
        }
        if (!same) FAIL_CHECK("element ", i / width, " differs from PyTorch's");
      }
      ++compared;
    }
    CHECK(compared == 11);
  }
}

TEST_CASE("convert from safetensors: dtypes NumPy lacks need --dtype; packed ones are refused") {
  scratch_dir dir;
  fs::path npz = dir / "g.npz";
  run_result r = run({"convert", valid("gpt2_like_bf16.safetensors").string(), npz.string()});
  CHECK(r.status == 1);
  CHECK(r.err.find("is BF16, which NumPy has no dtype for; add --dtype f32") != std::string::npos);
  CHECK_FALSE(fs::exists(npz));
  REQUIRE(run({"convert", "--dtype", "f32", valid("gpt2_like_bf16.safetensors").string(), npz.string()}).status == 0);
  fs::path back = dir / "g.safetensors";
  convert_ok({"convert", npz.string(), back.string()});
  // BF16 to F32 is exact: the values are the same, only the dtype changed.
  run_result d = run({"diff", "--json", valid("gpt2_like_bf16.safetensors").string(), back.string()});
  CHECK(d.status == 1);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  REQUIRE(!p.parse(d.out).get(doc));
  simdjson::dom::array different = doc["different_tensors"];
  CHECK(different.size() == 148);
  for (simdjson::dom::element t : different) {
    CHECK(std::string_view(t["b"]["dtype"]) == "F32");
    CHECK(std::uint64_t(t["values_differing"]) == 0);
  }
  run_result packed = run({"convert", "--dtype", "f32", valid("dtype_F4.safetensors").string(), npz.string()});
  CHECK(packed.status == 1);
  CHECK(packed.err.find("packed") != std::string::npos);
}

TEST_CASE("convert to NumPy warns that __metadata__ is dropped, naming how many keys; --quiet silences it") {
  scratch_dir dir;
  const std::string with_metadata = valid("metadata.safetensors").string();
  const sw::reader original = sw::open(with_metadata);
  const std::size_t keys = original.metadata().size();
  REQUIRE(keys > 1);
  const std::string warning =
      "safeweights: warning: " + with_metadata + ": its __metadata__ (" + std::to_string(keys) +
      " keys) is dropped: NumPy files have no place for it\n";
  int n = 0;
  for (std::string_view out : {"x.npz", "x.npy", "arrays/"}) {
    INFO(out);
    const std::string path = (dir / (std::to_string(n++) + std::string(out))).string();
    run_result r = run({"convert", with_metadata, path});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(r.err == warning);
    CHECK(r.out.starts_with("wrote " + path + ": 1 "));
    const std::string again = (dir / (std::to_string(n++) + std::string(out))).string();
    for (const char* quiet : {"--quiet", "-q"}) {
      run_result q = run({"convert", quiet, with_metadata, again});
      REQUIRE_MESSAGE(q.status == 0, q.err);
      CHECK(q.err.empty());
      CHECK(q.out.empty());
      fs::remove_all(again);
    }
  }
  // No metadata, nothing to warn about; an empty __metadata__ neither.
  const std::string empty_metadata = (dir / "empty_metadata.safetensors").string();
  {
    sw::writer w;
    const float one = 1;
    REQUIRE(w.add("x", sw::dtype::F32, {1}, std::as_bytes(std::span(&one, 1))));
    w.enable_metadata();
    REQUIRE(w.write_file(empty_metadata));
    REQUIRE(sw::open(empty_metadata).has_metadata());
  }
  for (const std::string& in : {valid("dtype_F32.safetensors").string(), empty_metadata}) {
    run_result r = run({"convert", in, (dir / "plain.npz").string()});
    INFO(in, ": ", r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.empty());
    fs::remove(dir / "plain.npz");
  }
  // A failed conversion says only why it failed.
  run_result failed = run({"convert", with_metadata, (dir / "no" / "such" / "dir.npz").string()});
  CHECK(failed.status == 1);
  CHECK(failed.err.find("warning") == std::string::npos);
}

TEST_CASE("convert usage errors exit 2 naming the problem") {
  scratch_dir dir;
  const std::string in = numpy_file("f32.npy").string();
  struct usage_case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<usage_case> cases = {
      {{"convert", in}, "needs IN and OUT"},
      {{"convert", in, (dir / "out.txt").string()}, "OUT must end in"},
      {{"convert", "--compress", in, (dir / "o.safetensors").string()}, "--compress"},
      {{"convert", "--dtype", "f8", in, (dir / "o.safetensors").string()}, "`f8`"},
      {{"convert", "--dtype"}, "`--dtype` needs a value"},
      {{"convert", "--level", "9", in, (dir / "o.safetensors").string()}, "unknown option `--level`"},
      {{"convert", "--dtype", "bf16", valid("scalar.safetensors").string(), (dir / "o.npz").string()}, "no bf16"},
      {{"convert", valid("scalar.safetensors").string(), valid("dtype_F32.safetensors").string(), (dir / "o.npz").string()},
       "one safetensors IN"},
  };
  for (const usage_case& c : cases) {
    run_result r = run(c.args);
    INFO(c.says, ": ", r.err);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find(c.says) != std::string::npos);
  }
  CHECK(dir.entries() == 0);
  run_result help = run({"convert", "--help"});
  CHECK(help.status == 0);
  CHECK(help.out.starts_with("usage: safeweights convert"));
}
