// The integrity commands through the real binary: digest, seal, sign and
// verify, with keys made by the openssl tool. Exit 0 good, 1 bad (the
// message names what failed), 2 usage.
#include <simdjson.h>

#include "safeweights/integrity.hpp"
#include "safeweights/safeweights.hpp"
#include "process_support.hpp"
#include "support.hpp"

namespace sw = safeweights;
using test_support::read_bytes;
using test_support::read_text;
using test_support::run_result;
using test_support::scratch_dir;
using test_support::write_bytes;
using test_support::write_text;

namespace {

run_result run(const std::vector<std::string>& args) { return test_support::run_program(SAFEWEIGHTS_CLI, args); }

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

struct workspace {
  scratch_dir dir;
  std::string model = (dir / "model.safetensors").string();
  std::string priv = (dir / "private.pem").string();
  std::string pub = (dir / "public.pem").string();
  std::vector<std::byte> bytes;

  workspace() {
    sw::writer w;
    static std::vector<std::int32_t> a(300), b(7);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::int32_t>(i * i);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::int32_t>(-i);
    REQUIRE(w.add<std::int32_t>("layer.a", {3, 100}, a).has_value());
    REQUIRE(w.add<std::int32_t>("layer.b", {7}, b).has_value());
    w.set_metadata("format", "pt");
    bytes = w.serialize().value();
    write_bytes(model, bytes);
    REQUIRE(test_support::run_program("openssl", {"genpkey", "-algorithm", "ed25519", "-out", priv}).status == 0);
    REQUIRE(test_support::run_program("openssl", {"pkey", "-in", priv, "-pubout", "-out", pub}).status == 0);
  }
};

}  // namespace

TEST_CASE("cli digest: the file's and every tensor's SHA-256, as text or JSON") {
  workspace ws;
  auto r = sw::reader::from_buffer(ws.bytes).value();
  const std::string file_hex = sw::to_hex(sw::sha256(ws.bytes));
  auto text = run({"digest", ws.model});
  REQUIRE(text.status == 0);
  std::string expected = file_hex + "  " + ws.model + "\n";
  for (const auto& t : r.tensors()) {
    sw::tensor_view v = r.tensor(t).value();
    expected += sw::to_hex(sw::sha256(v.bytes())) + "  " + std::string(t.name) + "\n";
  }
  CHECK(text.out == expected);

  auto json = run({"digest", "--json", ws.model});
  REQUIRE(json.status == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json.out);
  CHECK(std::string(doc["file_sha256"].get_string().value()) == file_hex);
  CHECK(doc["file_size"].get_uint64().value() == ws.bytes.size());
  simdjson::dom::array tensors = doc["tensors"].get_array();
  REQUIRE(tensors.size() == r.tensors().size());
  std::size_t i = 0;
  for (simdjson::dom::element t : tensors) {
    CHECK(std::string(t["name"].get_string().value()) == r.tensors()[i].name);
    sw::tensor_view v = r.tensor(r.tensors()[i]).value();
    CHECK(std::string(t["sha256"].get_string().value()) == sw::to_hex(sw::sha256(v.bytes())));
    ++i;
  }
  // The same digests inspect --json --sha256 reports.
  auto inspect = run({"inspect", "--json", "--sha256", ws.model});
  CHECK(has(inspect.out, "\"file_sha256\": \"" + file_hex + "\""));

  CHECK(run({"digest"}).status == 2);
  CHECK(run({"digest", "--sha512", ws.model}).status == 2);
  CHECK(run({"digest", ws.model, ws.model}).status == 2);
  write_text(ws.dir / "bad.safetensors", "not a model");
  auto bad = run({"digest", (ws.dir / "bad.safetensors").string()});
  CHECK(bad.status == 1);
  CHECK(has(bad.err, "bad.safetensors"));
}

TEST_CASE("cli seal and verify: a sealed file verifies; a flipped bit fails naming the tensor") {
  workspace ws;
  const std::string sealed = (ws.dir / "sealed.safetensors").string();
  auto s = run({"seal", ws.model, sealed});
  REQUIRE_MESSAGE(s.status == 0, s.err);
  CHECK(s.out.starts_with("wrote " + sealed + ": 2 tensors, "));
  CHECK(s.out.ends_with(" (sealed)\n"));
  auto v = run({"verify", sealed});
  CHECK(v.status == 0);
  CHECK(v.out == "seal: ok (2 tensors)\n");
  // A plain safetensors reader (our validate) accepts the sealed file.
  CHECK(run({"validate", sealed}).status == 0);

  auto r = sw::reader::open(sealed).value();
  const sw::tensor_info* b = r.find("layer.b");
  auto bytes = read_bytes(sealed);
  bytes[r.index().data_offset() + b->begin + 2] ^= std::byte{0x10};
  write_bytes(sealed, bytes);
  auto bad = run({"verify", sealed});
  CHECK(bad.status == 1);
  CHECK(has(bad.err, "tensor `layer.b`: bytes do not match the seal"));
  CHECK_FALSE(has(bad.err, "`layer.a`"));
  CHECK(has(bad.err, "1 of 2 tensors do not match"));

  // Nothing to verify; a file that is not valid; usage.
  auto nothing = run({"verify", ws.model});
  CHECK(nothing.status == 1);
  CHECK(has(nothing.err, "nothing to verify"));
  write_text(ws.dir / "junk", "junk junk junk");
  CHECK(run({"verify", (ws.dir / "junk").string()}).status == 1);
  const std::string never = (ws.dir / "never.safetensors").string();
  CHECK(run({"seal", (ws.dir / "junk").string(), never}).status == 1);
  CHECK_FALSE(std::filesystem::exists(never));
  CHECK(run({"seal", ws.model}).status == 2);
  CHECK(run({"seal", "--x", ws.model, never}).status == 2);
  CHECK(run({"verify"}).status == 2);
}

TEST_CASE("cli sign and verify --key: each failure exits 1 with its own message") {
  workspace ws;
  auto signed_ = run({"sign", "--key", ws.priv, ws.model});
  REQUIRE_MESSAGE(signed_.status == 0, signed_.err);
  const std::string sig = ws.model + ".sig";
  REQUIRE(std::filesystem::exists(sig));
  CHECK(signed_.out.starts_with("wrote " + sig + ": signature of " + ws.model + " (" +
                                std::to_string(std::filesystem::file_size(ws.model)) + " bytes, sha256 "));
  CHECK(has(signed_.out, ") with key "));
  for (const char* quiet : {"--quiet", "-q"}) {
    auto silent = run({"sign", quiet, "--key", ws.priv, ws.model});
    CHECK(silent.status == 0);
    CHECK(silent.out.empty());
  }
  const std::string good_sig = read_text(sig);
  auto ok = run({"verify", "--key", ws.pub, ws.model});
  CHECK(ok.status == 0);
  CHECK(has(ok.out, "signature: ok"));
  CHECK(has(ok.out, "seal: none"));
  CHECK(run({"verify", "--key=" + ws.pub, ws.model}).status == 0);

  // The file changed after signing.
  auto changed = ws.bytes;
  changed[20] ^= std::byte{1};
  write_bytes(ws.model, changed);
  auto c = run({"verify", "--key", ws.pub, ws.model});
  CHECK(c.status == 1);
  CHECK(has(c.err, "changed after signing"));
  write_bytes(ws.model, ws.bytes);

  // Another key.
  const std::string other = (ws.dir / "other.pem").string(), other_pub = (ws.dir / "other.pub.pem").string();
  REQUIRE(test_support::run_program("openssl", {"genpkey", "-algorithm", "ed25519", "-out", other}).status == 0);
  REQUIRE(test_support::run_program("openssl", {"pkey", "-in", other, "-pubout", "-out", other_pub}).status == 0);
  auto w = run({"verify", "--key", other_pub, ws.model});
  CHECK(w.status == 1);
  CHECK(has(w.err, "not with the given key"));

  // A truncated, then a garbled signature file.
  write_text(sig, good_sig.substr(0, good_sig.size() - 10));
  auto t = run({"verify", "--key", ws.pub, ws.model});
  CHECK(t.status == 1);
  CHECK(has(t.err, "not a safeweights signature file"));
  std::string garbled = good_sig;
  garbled[garbled.size() - 5] = garbled[garbled.size() - 5] == '0' ? '1' : '0';
  write_text(sig, garbled);
  auto g = run({"verify", "--key", ws.pub, ws.model});
  CHECK(g.status == 1);
  CHECK(has(g.err, "does not verify"));
  std::filesystem::remove(sig);
  auto missing = run({"verify", "--key", ws.pub, ws.model});
  CHECK(missing.status == 1);
  CHECK(has(missing.err, ".sig"));

  // Keys of the wrong kind, and usage errors.
  auto private_for_verify = run({"verify", "--key", ws.priv, ws.model});
  CHECK(private_for_verify.status == 1);
  CHECK(has(private_for_verify.err, "is a private key"));
  CHECK(run({"sign", "--key", ws.pub, ws.model}).status == 1);
  CHECK(run({"sign", ws.model}).status == 2);
  CHECK(run({"sign", "--key"}).status == 2);
  CHECK(run({"sign", "--key", ws.priv, "--key", ws.priv, ws.model}).status == 2);
  CHECK(run({"sign", "--key", ws.priv}).status == 2);
  CHECK(run({"verify", "--key", ws.pub, ws.model, ws.model}).status == 2);

  // Sealed and signed: both checks run, signature first.
  const std::string sealed = (ws.dir / "sealed.safetensors").string();
  REQUIRE(run({"seal", ws.model, sealed}).status == 0);
  REQUIRE(run({"sign", "--key", ws.priv, sealed}).status == 0);
  auto both = run({"verify", "--key", ws.pub, sealed});
  CHECK(both.status == 0);
  CHECK(has(both.out, "signature: ok"));
  CHECK(has(both.out, "seal: ok (2 tensors)"));
}

TEST_CASE("cli --help lists the integrity commands, and each has its own help") {
  auto top = run({"--help"});
  for (std::string_view c : {"digest", "seal", "sign", "verify"}) CHECK(has(top.out, c));
  for (std::string c : {"digest", "seal", "sign", "verify"}) {
    auto h = run({c, "--help"});
    CHECK(h.status == 0);
    CHECK(has(h.out, "usage: safeweights " + c));
  }
}
