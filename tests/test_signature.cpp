// Detached Ed25519 signatures (safeweights/integrity/signature.hpp) with
// real keys made in the test, by OpenSSL's EVP API and by the `openssl` tool:
// a good signature verifies; any change to the header or the data, a wrong
// key, and a truncated or garbled signature file each fail with their own code.
#include <fstream>

#include "errc_printer.hpp"
#include "safeweights/integrity.hpp"
#include "safeweights/safeweights.hpp"
#include "process_support.hpp"
#include "support.hpp"

namespace sw = safeweights;
using sw::errc;
using test_support::read_bytes;
using test_support::read_text;
using test_support::scratch_dir;
using test_support::write_bytes;
using test_support::write_text;

namespace {

// A model file and a fresh key pair as PEM files in a scratch directory.
struct signed_setup {
  scratch_dir dir;
  std::string file = (dir / "model.safetensors").string();
  std::string private_pem = (dir / "private.pem").string();
  std::string public_pem = (dir / "public.pem").string();
  std::vector<std::byte> bytes;

  signed_setup() {
    std::vector<float> w(1000);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) * 0.5f;
    sw::writer wr;
    REQUIRE(wr.add<float>("w", {10, 100}, w).has_value());
    wr.set_metadata("format", "pt");
    bytes = wr.serialize().value();
    write_bytes(file, bytes);
    auto key = sw::ed25519_key::generate().value();
    write_text(private_pem, key.private_pem());
    write_text(public_pem, key.public_pem());
  }
  sw::ed25519_key public_key() const { return sw::ed25519_key::load_public(public_pem).value(); }
  sw::ed25519_key private_key() const { return sw::ed25519_key::load_private(private_pem).value(); }
  errc verify() const { return sw::verify_signature(file, public_key()).code(); }
  std::string sig() const { return sw::signature_path(file); }
};

}  // namespace

TEST_CASE("sign_file writes FILE.sig in the documented five-line format, and it verifies") {
  signed_setup s;
  auto rec = sw::sign_file(s.file, s.private_key());
  REQUIRE(rec.has_value());
  CHECK(rec->size == s.bytes.size());
  CHECK(rec->sha256 == sw::sha256(s.bytes));
  const std::string text = read_text(s.sig());
  CHECK(text == rec->text());
  CHECK(text.rfind("safeweights-signature-v1\nkey: " + s.public_key().id() + "\nsize: " +
                       std::to_string(s.bytes.size()) + "\nsha256: " + sw::to_hex(sw::sha256(s.bytes)) +
                       "\ned25519: ",
                   0) == 0);
  CHECK(text.size() == 25 + 70 + 7 + std::to_string(s.bytes.size()).size() + 73 + 138);
  CHECK(std::count(text.begin(), text.end(), '\n') == 5);
  CHECK(s.verify() == errc::ok);
  // The same check on a copy in memory, and with open_verified.
  CHECK(sw::verify_signature(s.bytes, s.sig(), s.public_key()).has_value());
  auto r = sw::open_verified(s.file, s.public_key());
  REQUIRE(r.has_value());
  CHECK(r->tensor("w").has_value());
  // Signing again gives another valid file (Ed25519 is deterministic: the same one).
  REQUIRE(sw::sign_file(s.file, s.private_key()).has_value());
  CHECK(read_text(s.sig()) == text);
}

TEST_CASE("keys from the openssl tool work, and the openssl tool verifies our signatures") {
  signed_setup s;
  const std::string priv = (s.dir / "cli.pem").string(), pub = (s.dir / "cli.pub.pem").string();
  auto gen = test_support::run_program("openssl", {"genpkey", "-algorithm", "ed25519", "-out", priv});
  REQUIRE_MESSAGE(gen.status == 0, gen.err);
  REQUIRE(test_support::run_program("openssl", {"pkey", "-in", priv, "-pubout", "-out", pub}).status == 0);
  auto key = sw::ed25519_key::load_private(priv).value();
  auto rec = sw::sign_file(s.file, key).value();
  CHECK(sw::verify_signature(s.file, sw::ed25519_key::load_public(pub).value()).has_value());
  // The signed message is the first four lines: stock OpenSSL checks it.
  const std::string msg = (s.dir / "msg").string(), sig = (s.dir / "sig.bin").string();
  write_text(msg, rec.message());
  write_bytes(sig, std::as_bytes(std::span(rec.signature)));
  auto check = test_support::run_program(
      "openssl", {"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg, "-sigfile", sig});
  CHECK_MESSAGE(check.status == 0, check.out, check.err);
  CHECK(check.out.find("Signature Verified Successfully") != std::string::npos);
  // And it refuses a message that is one byte off.
  write_text(msg, rec.message() + " ");
  CHECK(test_support::run_program("openssl", {"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg,
                                              "-sigfile", sig})
            .status != 0);
}

TEST_CASE("any change to the header or the data after signing is digest_mismatch") {
  signed_setup s;
  REQUIRE(sw::sign_file(s.file, s.private_key()).has_value());
  auto r = sw::reader::from_buffer(s.bytes).value();
  const std::uint64_t header_byte = 8 + 3, data_byte = r.index().data_offset() + 17, last = s.bytes.size() - 1;
  for (std::uint64_t at : {std::uint64_t{0}, header_byte, data_byte, last}) {
    INFO("flipped byte ", at);
    auto changed = s.bytes;
    changed[at] ^= std::byte{0x01};
    write_bytes(s.file, changed);
    CHECK(s.verify() == errc::digest_mismatch);
    CHECK(sw::open_verified(s.file, s.public_key()).code() == errc::digest_mismatch);
  }
  auto longer = s.bytes;
  longer.push_back(std::byte{0});
  write_bytes(s.file, longer);
  CHECK(s.verify() == errc::digest_mismatch);
  write_bytes(s.file, std::span(s.bytes).first(s.bytes.size() - 1));
  CHECK(s.verify() == errc::digest_mismatch);
  write_bytes(s.file, s.bytes);
  CHECK(s.verify() == errc::ok);
}

TEST_CASE("the wrong key is wrong_key; an altered signature file is signature_mismatch") {
  signed_setup s;
  auto rec = sw::sign_file(s.file, s.private_key()).value();
  auto other = sw::ed25519_key::generate().value();
  auto other_public = sw::ed25519_key::from_pem(other.public_pem(), false, "other").value();
  CHECK(sw::verify_signature(s.file, other_public).code() == errc::wrong_key);

  // Still well-formed, but not what the key signed: any of the four signed
  // lines, or the signature itself, altered.
  auto altered = [&](auto&& edit) {
    sw::signature_record r = rec;
    edit(r);
    write_text(s.sig(), r.text());
    return s.verify();
  };
  CHECK(altered([](auto& r) { r.signature[0] ^= 1; }) == errc::signature_mismatch);
  CHECK(altered([](auto& r) { r.signature[63] ^= 0x80; }) == errc::signature_mismatch);
  CHECK(altered([](auto& r) { r.size += 1; }) == errc::signature_mismatch);
  CHECK(altered([](auto& r) { r.sha256[5] ^= 1; }) == errc::signature_mismatch);
  // A key id edited to the other key's: the signature is then checked against
  // that key (if given), and fails.
  CHECK(altered([&](auto& r) { r.key_id = sw::sha256(std::as_bytes(std::span(other.public_bytes()))); }) ==
        errc::wrong_key);
  CHECK(sw::verify_signature(s.file, other_public).code() == errc::signature_mismatch);
  // Unaltered, it verifies again.
  altered([](auto&) {});
  CHECK(s.verify() == errc::ok);
}

TEST_CASE("a truncated, garbled, missing or oversized signature file is invalid_signature_file") {
  signed_setup s;
  auto rec = sw::sign_file(s.file, s.private_key()).value();
  const std::string good = rec.text();
  std::vector<std::string> bad;
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{24}, std::size_t{25}, good.size() / 2,
                        good.size() - 2, good.size() - 1})
    bad.push_back(good.substr(0, n));  // truncated anywhere, even just the final LF
  auto replace = [&](std::string_view from, std::string_view to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  bad.push_back(good + "\n");                                   // an extra line
  bad.push_back(good + "x");                                    // text after
  bad.push_back(replace("safeweights-signature-v1", "safeweights-signature-v2"));
  bad.push_back(replace("key: ", "key:  "));
  bad.push_back(replace("size: ", "size: 0"));                  // leading zero
  bad.push_back(replace("size: ", "size: -"));
  bad.push_back(replace("size: ", "size: 99999999999999999999"));  // past 2^64
  bad.push_back(replace("sha256: ", "sha256: A"));              // uppercase, and too long
  bad.push_back(replace("ed25519: ", "ed25519: zz"));
  bad.push_back(replace("\n", "\r\n"));                        // CRLF
  bad.push_back(replace("ed25519: ", "signature: "));
  std::string hex_upper = good;
  auto pos = hex_upper.find("ed25519: ") + 9;
  for (std::size_t i = pos; i < hex_upper.size() - 1; ++i) hex_upper[i] = static_cast<char>(std::toupper(hex_upper[i]));
  bad.push_back(hex_upper);
  bad.push_back(std::string(2000, 'a'));                        // far too large
  for (const std::string& text : bad) {
    INFO("signature file: ", text.substr(0, 80));
    write_text(s.sig(), text);
    CHECK(s.verify() == errc::invalid_signature_file);
  }
  std::filesystem::remove(s.sig());
  CHECK(s.verify() == errc::invalid_signature_file);
  write_text(s.sig(), good);
  CHECK(s.verify() == errc::ok);
}

TEST_CASE("keys: not PEM, not ed25519, or the wrong half are invalid_key") {
  signed_setup s;
  scratch_dir& dir = s.dir;
  CHECK(sw::ed25519_key::load_public((dir / "none.pem").string()).code() == errc::invalid_key);
  write_text(dir / "junk.pem", "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n");
  CHECK(sw::ed25519_key::load_public((dir / "junk.pem").string()).code() == errc::invalid_key);
  write_text(dir / "empty.pem", "");
  CHECK(sw::ed25519_key::load_public((dir / "empty.pem").string()).code() == errc::invalid_key);
  CHECK(sw::ed25519_key::load_private((dir / "empty.pem").string()).code() == errc::invalid_key);
  // The halves swapped.
  CHECK(sw::ed25519_key::load_public(s.private_pem).code() == errc::invalid_key);
  CHECK(sw::ed25519_key::load_private(s.public_pem).code() == errc::invalid_key);
  // Another algorithm, from the openssl tool.
  const std::string ec = (dir / "ec.pem").string(), ec_pub = (dir / "ec.pub.pem").string();
  REQUIRE(test_support::run_program("openssl", {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                "-out", ec})
              .status == 0);
  REQUIRE(test_support::run_program("openssl", {"pkey", "-in", ec, "-pubout", "-out", ec_pub}).status == 0);
  CHECK(sw::ed25519_key::load_private(ec).code() == errc::invalid_key);
  CHECK(sw::ed25519_key::load_public(ec_pub).code() == errc::invalid_key);
  // An encrypted private key is refused without prompting for a pass phrase.
  const std::string enc = (dir / "enc.pem").string();
  REQUIRE(test_support::run_program("openssl", {"pkey", "-in", s.private_pem, "-aes-256-cbc", "-passout", "pass:x",
                                                "-out", enc})
              .status == 0);
  CHECK(sw::ed25519_key::load_private(enc).code() == errc::invalid_key);
  // A public key cannot sign.
  CHECK(sw::sign_file(s.file, s.public_key()).code() == errc::invalid_key);
  // A huge file is not read whole.
  write_text(dir / "huge.pem", std::string(sw::ed25519_key::max_pem_bytes + 10, 'x'));
  CHECK(sw::ed25519_key::load_public((dir / "huge.pem").string()).code() == errc::invalid_key);
}

TEST_CASE("open_verified checks the signature before it parses or maps the file") {
  signed_setup s;
  // A file that is not safetensors at all, correctly signed: the signature
  // passes, then the parser refuses it.
  write_text(s.file, "definitely not a safetensors file");
  REQUIRE(sw::sign_file(s.file, s.private_key()).has_value());
  CHECK(sw::open_verified(s.file, s.public_key()).code() == errc::header_too_large);
  // Signed by someone else: refused on the signature, before the parser sees it.
  auto other = sw::ed25519_key::generate().value();
  REQUIRE(sw::sign_file(s.file, other).has_value());
  CHECK(sw::open_verified(s.file, s.public_key()).code() == errc::wrong_key);
  // Changed after signing: refused on the digest.
  REQUIRE(sw::sign_file(s.file, s.private_key()).has_value());
  write_text(s.file, "definitely not a safetensors filE");
  CHECK(sw::open_verified(s.file, s.public_key()).code() == errc::digest_mismatch);
}
