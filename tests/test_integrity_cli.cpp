// The integrity commands through the real binary: digest, seal, sign and
// verify (model signatures and seals), with keys made by the openssl tool. Exit 0 good, 1 bad (the
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

TEST_CASE("cli sign and verify --signature: a model directory, each failure exits 1 naming what failed") {
  workspace ws;
  const auto model = ws.dir / "model";
  std::filesystem::create_directories(model / "sub");
  write_bytes(model / "model.safetensors", ws.bytes);
  write_text(model / "config.json", "{}");
  write_text(model / "sub" / "notes.txt", "notes");
  const std::string ec_key = (ws.dir / "ec.pem").string(), ec_pub = (ws.dir / "ec.pub.pem").string();
  REQUIRE(test_support::run_program("openssl", {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                "-out", ec_key}).status == 0);
  REQUIRE(test_support::run_program("openssl", {"pkey", "-in", ec_key, "-pubout", "-out", ec_pub}).status == 0);
  const std::string sig = (model / "model.sig").string();
  for (const auto& [priv, pub] : {std::pair{ec_key, ec_pub}, std::pair{ws.priv, ws.pub}}) {
    CAPTURE(priv);
    auto signed_ = run({"sign", "--signature", sig, "--private-key", priv, model.string()});
    REQUIRE_MESSAGE(signed_.status == 0, signed_.err);
    CHECK(signed_.out.starts_with("wrote " + sig + ": signature of " + model.string() + " (3 files) with key "));
    auto ok = run({"verify", "--signature", sig, "--public-key", pub, model.string()});
    CHECK_MESSAGE(ok.status == 0, ok.err);
    CHECK(has(ok.out, "signature: ok (key "));
    CHECK(has(ok.out, "files: ok (3 signed resources match)"));
    CHECK(run({"verify", "--signature=" + sig, "--public-key=" + pub, model.string()}).status == 0);
  }
  auto silent = run({"sign", "-q", "--signature", sig, "--private-key", ws.priv, model.string()});
  CHECK(silent.status == 0);
  CHECK(silent.out.empty());

  // A changed, a removed and an added file, all named; --json says the same.
  write_text(model / "config.json", "{\"changed\": 1}");
  std::filesystem::remove(model / "sub" / "notes.txt");
  write_text(model / "extra.bin", "x");
  auto bad = run({"verify", "--signature", sig, "--public-key", ws.pub, model.string()});
  CHECK(bad.status == 1);
  CHECK(has(bad.err, "changed since signing: config.json"));
  CHECK(has(bad.err, "signed but missing: sub/notes.txt"));
  CHECK(has(bad.err, "not signed: extra.bin"));
  CHECK(has(bad.err, "3 files do not match the signature"));
  auto json = run({"verify", "--json", "--signature", sig, "--public-key", ws.pub, model.string()});
  CHECK(json.status == 1);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(simdjson::padded_string(json.out)).get(doc) == simdjson::SUCCESS);
  CHECK(doc["ok"].get_bool().value() == false);
  CHECK(doc["changed"].at(0).get_string().value() == "config.json");
  CHECK(doc["missing"].at(0).get_string().value() == "sub/notes.txt");
  CHECK(doc["extra"].at(0).get_string().value() == "extra.bin");
  // --ignore-paths as the shell names them, or relative to the model.
  write_text(model / "config.json", "{}");
  write_text(model / "sub" / "notes.txt", "notes");
  CHECK(run({"verify", "--signature", sig, "--public-key", ws.pub, "--ignore-paths", (model / "extra.bin").string(),
             model.string()}).status == 0);
  CHECK(run({"verify", "--signature", sig, "--public-key", ws.pub, "--ignore-paths", "extra.bin", model.string()}).status == 0);
  CHECK(run({"verify", "--signature", sig, "--public-key", ws.pub, model.string()}).status == 1);

  // Another key, a garbled bundle, a missing one.
  const std::string other = (ws.dir / "other.pem").string(), other_pub = (ws.dir / "other.pub.pem").string();
  REQUIRE(test_support::run_program("openssl", {"genpkey", "-algorithm", "ed25519", "-out", other}).status == 0);
  REQUIRE(test_support::run_program("openssl", {"pkey", "-in", other, "-pubout", "-out", other_pub}).status == 0);
  auto w = run({"verify", "--signature", sig, "--public-key", other_pub, model.string()});
  CHECK(w.status == 1);
  CHECK(has(w.err, "not with the given key"));
  const std::string good_sig = read_text(sig);
  write_text(sig, good_sig.substr(0, good_sig.size() / 2));
  auto t = run({"verify", "--signature", sig, "--public-key", ws.pub, model.string()});
  CHECK(t.status == 1);
  CHECK(has(t.err, "not a valid Sigstore bundle"));
  CHECK(run({"verify", "--signature", (ws.dir / "none.sig").string(), "--public-key", ws.pub, model.string()}).status == 1);
  auto private_for_verify = run({"verify", "--signature", sig, "--public-key", ws.priv, model.string()});
  CHECK(private_for_verify.status == 1);
  CHECK(has(private_for_verify.err, "is a private key"));

  // Usage errors: exit 2.
  CHECK(run({"sign", "--private-key", ws.pub, "--signature", sig, model.string()}).status == 1);
  CHECK(run({"sign", "--signature", sig, model.string()}).status == 2);
  CHECK(run({"sign", "--private-key", ws.priv, model.string()}).status == 2);
  CHECK(run({"sign", "--private-key"}).status == 2);
  CHECK(run({"sign", "--private-key", ws.priv, "--private-key", ws.priv, "--signature", sig, model.string()}).status == 2);
  CHECK(run({"sign", "--private-key", ws.priv, "--signature", sig, "--serialization", "tensors", model.string()}).status == 2);
  CHECK(run({"sign", "--private-key", ws.priv, "--signature", sig, "--shard-size", "10", model.string()}).status == 2);
  CHECK(run({"sign", "--private-key", ws.priv, "--signature", sig, "--ignore-paths", "../x", model.string()}).status == 2);
  CHECK(run({"verify", "--signature", sig, model.string()}).status == 2);
  CHECK(run({"verify", "--signature", sig, "--public-key", ws.pub, "--certificate-chain", ws.pub, model.string()}).status == 2);
  CHECK(run({"verify", "--signature", sig, "--identity", "a@b", model.string()}).status == 2);
  CHECK(run({"verify", "--public-key", ws.pub, model.string()}).status == 2);
  CHECK(run({"verify", "--signature", sig, "--public-key", ws.pub, model.string(), model.string()}).status == 2);
}

TEST_CASE("cli verify: the real model_signing tool's key, certificate and keyless bundles, and shards signed here") {
  const auto d = test_support::data_dir() / "openssf-model-signing";
  for (std::string v : {"v1.0.1", "v1.1.0"}) {
    const auto key_model = d / (v + "-elliptic-key"), cert_model = d / (v + "-certificate");
    auto k = run({"verify", "--signature", (key_model / "model.sig").string(), "--public-key",
                  (d / "keys/signing-key-pub.pem").string(), "--ignore-paths", (key_model / "ignore-me").string(),
                  key_model.string()});
    CHECK_MESSAGE(k.status == 0, k.err);
    auto c = run({"verify", "--signature", (cert_model / "model.sig").string(), "--certificate-chain",
                  (d / "keys/ca-cert.pem").string(), "--ignore-paths", (cert_model / "ignore-me").string(),
                  cert_model.string()});
    CHECK_MESSAGE(c.status == 0, c.err);
    CHECK(has(c.out, "signature: ok (certificate /CN=intermediate-ca)"));
    const auto keyless_model = d / (v + "-sigstore");
    auto s = run({"verify", "--signature", (keyless_model / "model.sig").string(), "--identity", "stefanb@us.ibm.com",
                  "--identity-provider", "https://sigstore.verify.ibm.com/oauth2", "--trust-config",
                  (d / "trust_config.json").string(), "--ignore-paths", (keyless_model / "ignore-me").string(),
                  keyless_model.string()});
    CHECK_MESSAGE(s.status == 0, s.err);
    CHECK(has(s.out, "signature: ok (identity stefanb@us.ibm.com (issuer https://sigstore.verify.ibm.com/oauth2))"));
    CHECK(has(s.out, "note: not checked"));
    auto wrong = run({"verify", "--signature", (keyless_model / "model.sig").string(), "--identity", "x@example.com",
                      "--identity-provider", "https://sigstore.verify.ibm.com/oauth2", "--trust-config",
                      (d / "trust_config.json").string(), keyless_model.string()});
    CHECK(wrong.status == 1);
    CHECK(has(wrong.err, "x@example.com"));
  }
  workspace ws;
  const std::string ec_key = (ws.dir / "ec.pem").string(), ec_pub = (ws.dir / "ec.pub.pem").string();
  REQUIRE(test_support::run_program("openssl", {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384",
                                                "-out", ec_key}).status == 0);
  REQUIRE(test_support::run_program("openssl", {"pkey", "-in", ec_key, "-pubout", "-out", ec_pub}).status == 0);
  const std::string sig = (ws.dir / "shards.sig").string();
  auto s = run({"sign", "--signature", sig, "--private-key", ec_key, "--serialization", "shards", "--shard-size", "100",
                ws.model});
  REQUIRE_MESSAGE(s.status == 0, s.err);
  CHECK(has(s.out, "shards) with key ecdsa-p384"));
  CHECK(run({"verify", "--signature", sig, "--public-key", ec_pub, ws.model}).status == 0);
}

TEST_CASE("cli verify without --signature: a sealed file's seal, as before") {
  workspace ws;
  const std::string sealed = (ws.dir / "sealed.safetensors").string();
  REQUIRE(run({"seal", ws.model, sealed}).status == 0);
  auto v = run({"verify", sealed});
  CHECK(v.status == 0);
  CHECK(has(v.out, "seal: ok (2 tensors)"));
  auto none = run({"verify", ws.model});
  CHECK(none.status == 1);
  CHECK(has(none.err, "no --signature"));
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
