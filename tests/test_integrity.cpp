// Digests and seals (safeweights/integrity/): the SHA-256 of files and
// tensors against OpenSSL's one-shot digest and known vectors, parallel
// against serial, and sealed files: verified in full and lazily on access,
// every flipped bit reported by tensor name, every header edit caught.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "errc_printer.hpp"
#include "safeweights/integrity.hpp"
#include "safeweights/safeweights.hpp"
#include "support.hpp"

namespace sw = safeweights;
using sw::errc;
using test_support::read_bytes;
using test_support::scratch_dir;
using test_support::write_bytes;

namespace {

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> out(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::byte>(x);
  }
  return out;
}

// A file of `count` tensors of assorted sizes (some empty, one large enough
// that the parallel path is taken), with metadata.
struct model {
  std::vector<std::vector<std::byte>> blobs;
  std::vector<std::byte> bytes;
  explicit model(std::size_t count = 12, std::size_t big = std::size_t{5} << 20) {
    sw::writer w;
    for (std::size_t i = 0; i < count; ++i) {
      std::size_t n = i == 0 ? big : i % 5 == 0 ? 0 : 4 * (i * 37 % 300 + 1);
      blobs.push_back(pattern(n, static_cast<unsigned>(i)));
      REQUIRE(w.add("t" + std::to_string(i), sw::dtype::F32, {n / 4}, blobs.back()).has_value());
    }
    w.set_metadata("format", "pt");
    bytes = w.serialize().value();
  }
};

void flip_bit(const std::string& path, std::uint64_t at) {
  auto bytes = read_bytes(path);
  REQUIRE(at < bytes.size());
  bytes[at] ^= std::byte{1};
  write_bytes(path, bytes);
}

}  // namespace

TEST_CASE("sha256: known vectors, and hashing in pieces equals hashing at once") {
  CHECK(sw::to_hex(sw::sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string abc = "abc";
  CHECK(sw::to_hex(sw::sha256(std::as_bytes(std::span(abc.data(), abc.size())))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto data = pattern(100'003, 7);
  sw::sha256_hasher h;
  for (std::size_t at = 0; at < data.size(); at += 4099)
    h.update(std::span(data).subspan(at, std::min<std::size_t>(4099, data.size() - at)));
  CHECK(h.finish() == sw::sha256(data));
}

TEST_CASE("hex: only exactly 2N lowercase digits parse") {
  CHECK(sw::parse_hex<2>("0aff") == std::optional(std::array<std::uint8_t, 2>{0x0a, 0xff}));
  for (std::string_view bad : {"0AFF", "0af", "0aff0", "0ag0", " 0af", ""}) CHECK_FALSE(sw::parse_hex<2>(bad));
}

TEST_CASE("digest_file: the SHA-256 and size of the whole file, read with pread, in chunks") {
  scratch_dir dir;
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, sw::digest_chunk_bytes - 1, sw::digest_chunk_bytes,
                        3 * sw::digest_chunk_bytes + 17}) {
    INFO("size ", n);
    auto data = pattern(n, static_cast<unsigned>(n));
    std::string path = (dir / "f.bin").string();
    write_bytes(path, data);
    auto d = sw::digest_file(path);
    REQUIRE(d.has_value());
    CHECK(d->size == n);
    CHECK(d->sha256 == sw::sha256(data));
    CHECK(sw::digest_bytes(data).sha256 == d->sha256);
  }
  CHECK(sw::digest_file((dir / "missing").string()).code() == errc::io_error);
  CHECK(sw::digest_file(dir.path().string()).code() == errc::io_error);  // a directory

  // A file that shrinks between open and read: a clean error, never a short digest.
  std::string path = (dir / "shrinks.bin").string();
  write_bytes(path, pattern(3 * sw::digest_chunk_bytes, 1));
  auto file = sw::file_handle::open_read(path);
  REQUIRE(file.has_value());
  REQUIRE(::truncate(path.c_str(), sw::digest_chunk_bytes) == 0);
  CHECK(sw::digest_file(*file).code() == errc::file_changed);
}

TEST_CASE("digest_tensors: every tensor's bytes, in offset order, the same on 1, 2 and 8 threads and in pread mode") {
  model m;
  scratch_dir dir;
  std::string path = (dir / "m.safetensors").string();
  write_bytes(path, m.bytes);
  auto r = sw::reader::open(path).value();
  std::vector<sw::sha256_digest> expected;
  for (const auto& t : r.tensors()) {
    sw::tensor_view v = r.tensor(t).value();
    expected.push_back(sw::sha256(v.bytes()));
  }
  for (unsigned threads : {1u, 2u, 8u, 0u}) {
    INFO("threads ", threads);
    auto d = sw::digest_tensors(r, threads);
    REQUIRE(d.has_value());
    CHECK(*d == expected);
  }
  // Every tensor is the blob it was written from.
  for (std::size_t i = 0; i < r.tensors().size(); ++i) {
    const auto& t = r.tensors()[i];
    std::size_t k = std::stoul(std::string(t.name.substr(1)));
    CHECK(expected[i] == sw::sha256(m.blobs[k]));
  }
  sw::read_options pread;
  pread.mode = sw::io_mode::pread;
  auto rp = sw::reader::open(path, pread).value();
  CHECK(sw::digest_tensors(rp, 2).value() == expected);
  // No tensors: no digests, no threads started.
  auto empty = sw::writer().serialize().value();
  CHECK(sw::digest_tensors(sw::reader::from_buffer(empty).value()).value().empty());
}

TEST_CASE("seal: sealed files stay plain safetensors and verify; the seal is one metadata key in the documented format") {
  model m(6, 64);
  scratch_dir dir;
  std::string in = (dir / "in.safetensors").string(), out = (dir / "out.safetensors").string();
  write_bytes(in, m.bytes);
  REQUIRE(sw::seal_file(in, out).has_value());

  auto plain = sw::reader::open(out).value();  // a plain reader reads it
  auto original = sw::reader::open(in).value();
  REQUIRE(plain.tensors().size() == original.tensors().size());
  for (const auto& t : original.tensors()) {
    sw::tensor_view in_original = original.tensor(t).value(), in_plain = plain.tensor(t.name).value();
    auto a = in_original.bytes();
    auto b = in_plain.bytes();
    CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  }
  // Metadata kept in order, the seal added after it.
  REQUIRE(plain.metadata().size() == 2);
  CHECK(plain.metadata()[0].key == "format");
  CHECK(plain.metadata()[1].key == sw::seal_key);
  const std::string seal_text(*plain.metadata_value("safeweights.seal"));
  CHECK(seal_text.rfind("{\"version\":1,\"algorithm\":\"sha256\",\"tensors\":{", 0) == 0);
  auto seal = sw::parse_seal(seal_text).value();
  CHECK(seal.entries().size() == original.tensors().size());
  for (const auto& t : original.tensors()) {
    const sw::seal_entry* e = seal.find(t.name);
    REQUIRE(e);
    CHECK(e->type == t.type);
    CHECK(std::equal(e->shape.begin(), e->shape.end(), t.shape.begin(), t.shape.end()));
    sw::tensor_view v = original.tensor(t).value();
    CHECK(e->sha256 == sw::sha256(v.bytes()));
  }

  auto sealed = sw::sealed_reader::open(out).value();
  auto report = sealed.verify_all().value();
  CHECK(report.ok());
  CHECK(report.tensors == original.tensors().size());
  for (const auto& t : sealed.tensors()) CHECK(sealed.tensor(t.name).has_value());

  // Resealing replaces the seal in place; repacking keeps it valid.
  REQUIRE(sw::seal_file(out, out).has_value());
  auto resealed = sw::reader::open(out).value();
  CHECK(resealed.metadata().size() == 2);
  CHECK(resealed.metadata_value(sw::seal_key) == std::optional<std::string_view>(seal_text));
  CHECK(sw::sealed_reader::from(resealed).has_value());

  // An unsealed file.
  CHECK(sw::sealed_reader::open(in).code() == errc::not_sealed);
}

TEST_CASE("seal: a flipped bit in any tensor is reported by that tensor's name, lazily and by verify_all") {
  model m(5, 64);
  scratch_dir dir;
  std::string in = (dir / "in.safetensors").string(), sealed_path = (dir / "sealed.safetensors").string();
  write_bytes(in, m.bytes);
  REQUIRE(sw::seal_file(in, sealed_path).has_value());
  auto clean = sw::reader::open(sealed_path).value();
  const auto sealed_bytes = read_bytes(sealed_path);

  for (const auto& victim : clean.tensors()) {
    if (victim.byte_size() == 0) continue;
    for (sw::io_mode mode : {sw::io_mode::mmap, sw::io_mode::pread}) {
      INFO("tensor ", std::string(victim.name), ", mode ", static_cast<int>(mode));
      std::string path = (dir / "bad.safetensors").string();
      write_bytes(path, sealed_bytes);
      flip_bit(path, clean.index().data_offset() + victim.begin + victim.byte_size() / 2);
      sw::read_options o;
      o.mode = mode;
      auto r = sw::sealed_reader::open(path, o).value();  // the header is intact: it opens
      for (const auto& t : r.tensors()) {
        auto v = r.tensor(t);
        if (t.name == victim.name) {
          CHECK(v.code() == errc::digest_mismatch);
          CHECK(v.error_value().message.find("`" + std::string(t.name) + "`") != std::string::npos);
          CHECK(r.tensor(t).code() == errc::digest_mismatch);  // and again
        } else {
          CHECK(v.has_value());
        }
      }
      auto report = r.verify_all().value();
      REQUIRE(report.failures.size() == 1);
      CHECK(report.failures[0].code == errc::digest_mismatch);
      CHECK(report.failures[0].message.find("`" + std::string(victim.name) + "`") != std::string::npos);
      // The plain reader sees nothing wrong: the seal is opt-in.
      CHECK(r.unverified().tensor(victim).has_value());
    }
  }
}

TEST_CASE("seal: verify-on-access hashes a tensor once in mmap mode, and every read in pread mode") {
  model m(3, 64);
  scratch_dir dir;
  std::string in = (dir / "in.safetensors").string(), path = (dir / "s.safetensors").string();
  write_bytes(in, m.bytes);
  REQUIRE(sw::seal_file(in, path).has_value());
  auto plain = sw::reader::open(path).value();
  const sw::tensor_info& t = plain.tensors()[0];
  REQUIRE(t.byte_size() > 0);
  const std::uint64_t at = plain.index().data_offset() + t.begin;

  sw::read_options o;
  o.mode = sw::io_mode::pread;
  auto pread = sw::sealed_reader::open(path, o).value();
  auto mapped = sw::sealed_reader::open(path).value();
  REQUIRE(pread.tensor(t.name).has_value());
  auto view = mapped.tensor(t.name);
  REQUIRE(view.has_value());
  // The file changes in place after the first, verified, access.
  {
    int fd = ::open(path.c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    unsigned char x = 0x5a;
    REQUIRE(::pwrite(fd, &x, 1, static_cast<off_t>(at)) == 1);
    ::close(fd);
  }
  // pread: every access reads a fresh copy and checks it.
  CHECK(pread.tensor(t.name).code() == errc::digest_mismatch);
  // mmap: the tensor was verified once; the view is not hashed again
  // (spec/EXTENSIONS.md: the mapping reflects later writes, use pread).
  CHECK(mapped.tensor(t.name).has_value());
  CHECK(mapped.verify_all().value().failures.size() == 1);  // a full check still sees it
}

TEST_CASE("seal: header edits after sealing are invalid_seal, naming the tensor") {
  auto make = [](const std::string& seal, const std::string& tensors) {
    std::string meta = "{\"__metadata__\":{\"safeweights.seal\":";
    std::string quoted;
    sw::append_json_string(quoted, seal);
    return test_support::make_file(meta + quoted + "}" + tensors + "}", 4);
  };
  const std::string sha(64, 'a');
  auto seal_of = [&](const std::string& entries) {
    return "{\"version\":1,\"algorithm\":\"sha256\",\"tensors\":{" + entries + "}}";
  };
  const std::string entry_a = "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"sha256\":\"" + sha + "\"}";
  auto code = [&](const std::string& seal, const std::string& tensors = ",\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}") {
    auto bytes = make(seal, tensors);
    auto r = sw::reader::from_buffer(bytes);
    REQUIRE_MESSAGE(r.has_value(), r.error_value().message);
    auto s = sw::sealed_reader::from(*r);
    return s.code();
  };
  CHECK(code(seal_of(entry_a)) == errc::ok);  // well-formed (the digest is checked on access)
  // Tensor added, removed, re-typed or reshaped after sealing.
  CHECK(code(seal_of("")) == errc::invalid_seal);
  CHECK(code(seal_of(entry_a + ",\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"sha256\":\"" + sha + "\"}")) ==
        errc::invalid_seal);
  CHECK(code(seal_of(entry_a), ",\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}") == errc::invalid_seal);
  CHECK(code(seal_of(entry_a), ",\"a\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[0,4]}") ==
        errc::invalid_seal);
  // A malformed seal.
  for (std::string bad : {std::string(""), std::string("{}"), std::string("[]"), std::string("not json"),
                          seal_of(entry_a) + "x",
                          "{\"version\":2,\"algorithm\":\"sha256\",\"tensors\":{" + entry_a + "}}",
                          "{\"version\":1,\"algorithm\":\"md5\",\"tensors\":{" + entry_a + "}}",
                          "{\"version\":1,\"version\":1,\"algorithm\":\"sha256\",\"tensors\":{" + entry_a + "}}",
                          "{\"version\":1,\"algorithm\":\"sha256\",\"tensors\":{" + entry_a + "},\"x\":1}",
                          "{\"version\":1,\"algorithm\":\"sha256\",\"tensors\":{" + entry_a + "," + entry_a + "}}",
                          seal_of("\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"sha256\":\"" + std::string(64, 'A') + "\"}"),
                          seal_of("\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"sha256\":\"" + std::string(63, 'a') + "\"}"),
                          seal_of("\"a\":{\"dtype\":\"F32\",\"shape\":[1]}"),
                          seal_of("\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"sha256\":\"" + sha + "\"}"),
                          seal_of("\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"sha256\":\"" + sha + "\"}"),
                          seal_of("\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"sha256\":\"" + sha + "\",\"x\":0}"),
                          seal_of("\"a\":" + std::string(10'000, '[') + std::string(10'000, ']'))}) {
    INFO("seal: ", bad.substr(0, 120));
    CHECK(code(bad) == errc::invalid_seal);
  }
}
