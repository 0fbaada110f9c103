// The model registry (registry/registry.hpp, spec/REGISTRY.md) on a real
// SQLite database in a scratch directory: adding files and model
// directories, versions, aliases and rollback, the append-only audit log,
// gc, verify, and resolve refusing what changed since it was stored.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "errc_printer.hpp"
#include "safeweights/integrity.hpp"
#include "safeweights/io/reader.hpp"
#include "safeweights/registry/registry.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace fs = std::filesystem;
using sw::errc;
using test_support::scratch_dir;

namespace {

// A valid safetensors file: one F32 tensor `w` of `floats` values (all `fill`), with `metadata` ("k": "v" pairs, JSON).
void write_model(const fs::path& p, std::size_t floats, std::string_view metadata = R"("format": "pt")",
                 std::byte fill = std::byte{1}) {
  const std::string header = "{\"__metadata__\": {" + std::string(metadata) +
                             "}, \"w\": {\"dtype\": \"F32\", \"shape\": [" + std::to_string(floats) +
                             "], \"data_offsets\": [0, " + std::to_string(floats * 4) + "]}}";
  test_support::write_bytes(p, test_support::make_file(header, floats * 4, fill));
}

// A model directory: two shards, their index, a config and a file in a subdirectory.
void write_model_dir(const fs::path& dir, std::byte fill = std::byte{2}) {
  fs::create_directories(dir / "tokenizer");
  write_model(dir / "model-00001-of-00002.safetensors", 16, R"("part": "1")", fill);
  write_model(dir / "model-00002-of-00002.safetensors", 8, R"("part": "2")", fill);
  test_support::write_text(dir / "model.safetensors.index.json", R"({"metadata": {}, "weight_map": {}})");
  test_support::write_text(dir / "config.json", R"({"hidden": 4})");
  test_support::write_text(dir / "tokenizer" / "vocab.txt", "a\nb\n");
}

std::string read_text(const fs::path& p) {
  auto bytes = test_support::read_bytes(p);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

sw::registry_add_options with_version(std::string v) {
  sw::registry_add_options o;
  o.version = std::move(v);
  return o;
}
sw::registry_add_options with_note(std::string n) {
  sw::registry_add_options o;
  o.note = std::move(n);
  return o;
}
sw::registry_add_options linked() {
  sw::registry_add_options o;
  o.link = true;
  return o;
}

sw::registry make_registry(const scratch_dir& s) { return sw::registry::init((s / "reg").string()).value(); }

std::size_t object_count(const scratch_dir& s) {
  std::size_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(s / "reg" / "objects")) n += e.is_regular_file() ? 1 : 0;
  return n;
}

// Overwrites one byte of a stored (read-only) object in place.
void corrupt(const fs::path& object, std::uint64_t at) {
  fs::permissions(object, fs::perms::owner_write, fs::perm_options::add);
  auto bytes = test_support::read_bytes(object);
  REQUIRE(at < bytes.size());
  bytes[at] ^= std::byte{0xff};
  std::FILE* f = std::fopen(object.c_str(), "r+b");
  REQUIRE(f);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

}  // namespace

TEST_CASE("registry: init, add a file, list and show; versions count up, identical files are stored once") {
  scratch_dir s;
  auto reg = make_registry(s);
  write_model(s / "model_v2_2024-01-15.safetensors", 4);
  auto v1 = reg.add((s / "model_v2_2024-01-15.safetensors").string(), "churn", with_note("first")).value();
  CHECK(v1.version == "1");
  CHECK(v1.kind == "file");
  CHECK(v1.size == fs::file_size(s / "model_v2_2024-01-15.safetensors"));
  CHECK(v1.note == "first");
  CHECK(!v1.added_by.empty());
  CHECK(v1.added_at.ends_with("Z"));
  REQUIRE(v1.files.size() == 1);
  CHECK(v1.files[0].path == "model_v2_2024-01-15.safetensors");
  CHECK(v1.files[0].metadata_json == R"({"format": "pt"})");
  CHECK(v1.files[0].sha256 == sw::to_hex(sw::digest_file((s / "model_v2_2024-01-15.safetensors").string()).value().sha256));
  auto v2 = reg.add((s / "model_v2_2024-01-15.safetensors").string(), "churn").value();
  CHECK(v2.version == "2");
  CHECK(object_count(s) == 1);  // the same bytes: one object
  auto all = reg.list().value();
  REQUIRE(all.size() == 2);
  CHECK(all[0].version == "1");
  CHECK(all[1].version == "2");
  CHECK(reg.show("churn").value().version == "2");  // the latest
  CHECK(reg.show("churn@1").value().note == "first");
  // Reopened: the same registry.
  auto again = sw::registry::open((s / "reg").string()).value();
  CHECK(again.list("churn").value().size() == 2);
  // init on an existing registry opens it.
  CHECK(sw::registry::init((s / "reg").string()).value().list().value().size() == 2);
}

TEST_CASE("registry: a file that is not valid safetensors is refused, and nothing is recorded") {
  scratch_dir s;
  auto reg = make_registry(s);
  test_support::write_text(s / "bad.safetensors", "not a safetensors file at all");
  auto r = reg.add((s / "bad.safetensors").string(), "m");
  CHECK(r.code() != errc::ok);
  CHECK(reg.list().value().empty());
}

TEST_CASE("registry: a model directory is stored whole; resolve gives a directory of links to the objects") {
  scratch_dir s;
  auto reg = make_registry(s);
  write_model_dir(s / "model");
  auto v = reg.add((s / "model").string(), "llm").value();
  CHECK(v.kind == "directory");
  REQUIRE(v.files.size() == 5);
  CHECK(v.files[4].path == "tokenizer/vocab.txt");
  CHECK(v.files[0].path == "config.json");
  CHECK(!v.files[0].metadata_json);
  CHECK(v.files[1].metadata_json == R"({"part": "1"})");
  auto path = reg.resolve("llm@1").value();
  CHECK(path == fs::path(s / "reg" / "models" / "llm" / "1"));
  CHECK(read_text(path / "tokenizer" / "vocab.txt") == "a\nb\n");
  auto shard = sw::reader::open((path / "model-00002-of-00002.safetensors").string()).value();
  CHECK(shard.metadata_value("part") == "2");
  // No staging directory or temporary is left behind.
  for (auto& e : fs::directory_iterator(s / "reg" / "models" / "llm")) CHECK(e.path().filename() == "1");
  CHECK(fs::is_empty(s / "reg" / "tmp"));
}

TEST_CASE("registry: --version labels are unique per model; automatic numbers skip the ones given") {
  scratch_dir s;
  auto reg = make_registry(s);
  write_model(s / "m.safetensors", 4);
  CHECK(reg.add((s / "m.safetensors").string(), "m", with_version("2024-01-15")).value().version == "2024-01-15");
  auto dup = reg.add((s / "m.safetensors").string(), "m", with_version("2024-01-15"));
  CHECK(dup.code() == errc::invalid_argument);
  CHECK(reg.add((s / "m.safetensors").string(), "m", with_version("7")).value().version == "7");
  CHECK(reg.add((s / "m.safetensors").string(), "m").value().version == "8");
  CHECK(reg.add((s / "m.safetensors").string(), "other").value().version == "1");  // per model
  CHECK(reg.list("m").value().size() == 3);
  CHECK(reg.add((s / "m.safetensors").string(), "m", with_version("../x")).code() == errc::invalid_argument);
  CHECK(reg.add((s / "m.safetensors").string(), "bad/name").code() == errc::invalid_argument);
}

TEST_CASE("registry: alias switches in one step and keeps the previous target; rollback restores it") {
  scratch_dir s;
  auto reg = make_registry(s);
  write_model(s / "a.safetensors", 4, R"("v": "a")");
  write_model(s / "b.safetensors", 4, R"("v": "b")");
  reg.add((s / "a.safetensors").string(), "m").value();
  reg.add((s / "b.safetensors").string(), "m").value();
  auto first = reg.alias("m@1", "production").value();
  CHECK(!first.previous);
  CHECK(first.current == "1");
  auto second = reg.alias("m@2", "production").value();
  CHECK(second.previous == "1");
  CHECK(second.current == "2");
  CHECK(reg.show("m@production").value().version == "2");
  CHECK(reg.show("m@2").value().aliases == std::vector<std::string>{"production"});
  auto loaded = sw::reader::open(reg.resolve("m@production").value().string()).value();
  CHECK(loaded.metadata_value("v") == "b");
  auto back = reg.rollback("m", "production").value();
  CHECK(back.previous == "2");
  CHECK(back.current == "1");
  CHECK(reg.show("m@production").value().version == "1");
  CHECK(reg.rollback("m", "production").value().current == "2");  // and forward again
  CHECK(reg.rollback("m", "staging").code() == errc::model_not_found);
  CHECK(reg.alias("m@1", "42").code() == errc::invalid_argument);  // all digits would read as a version
  CHECK(reg.alias("m@9", "production").code() == errc::model_not_found);
  auto log = reg.log().value();
  std::vector<std::string> actions;
  for (const auto& e : log) actions.push_back(e.action);
  CHECK(actions == std::vector<std::string>{"init", "add", "add", "alias", "alias", "rollback", "rollback"});
  CHECK(log[5].detail == "production: 2 -> 1");
}

TEST_CASE("registry: the audit log is append-only: UPDATE and DELETE through sqlite3 are refused") {
  scratch_dir s;
  auto reg = make_registry(s);
  write_model(s / "a.safetensors", 4);
  reg.add((s / "a.safetensors").string(), "m").value();
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((s / "reg" / "registry.db").c_str(), &db) == SQLITE_OK);
  char* message = nullptr;
  CHECK(sqlite3_exec(db, "UPDATE audit_log SET user = 'mallory'", nullptr, nullptr, &message) != SQLITE_OK);
  REQUIRE(message);
  CHECK(std::string(message).find("append-only") != std::string::npos);
  sqlite3_free(message);
  message = nullptr;
  CHECK(sqlite3_exec(db, "DELETE FROM audit_log", nullptr, nullptr, &message) != SQLITE_OK);
  sqlite3_free(message);
  sqlite3_close(db);
  CHECK(reg.log().value().size() == 2);
}

TEST_CASE("registry: gc keeps the newest N per model and every aliased version, and removes unreferenced objects") {
  scratch_dir s;
  auto reg = make_registry(s);
  for (int i = 0; i < 5; ++i) {
    const fs::path p = s / ("m" + std::to_string(i) + ".safetensors");
    write_model(p, 4, R"("i": ")" + std::to_string(i) + "\"");
    reg.add(p.string(), "m").value();
  }
  write_model_dir(s / "dir", std::byte{3});
  reg.add((s / "dir").string(), "d").value();
  write_model_dir(s / "dir", std::byte{4});
  reg.add((s / "dir").string(), "d").value();
  reg.alias("m@1", "production").value();
  // What a killed add leaves: a temporary, a staged directory, an unrecorded directory.
  test_support::write_text(s / "reg" / "tmp" / ".incoming.tmp-abcdef", "partial");
  fs::create_directories(s / "reg" / "models" / "d" / ".staging.tmp-abcdef");
  fs::create_directories(s / "reg" / "models" / "m" / "99");
  const std::size_t objects_before = object_count(s);
  auto report = reg.gc(2).value();
  CHECK(report.removed_versions == std::vector<std::string>{"m@2", "m@3"});
  CHECK(report.removed_objects == 2);
  CHECK(report.removed_strays == 3);
  CHECK(object_count(s) == objects_before - 2);
  std::vector<std::string> left;
  const auto versions = reg.list().value();
  for (const auto& v : versions) left.push_back(v.model + "@" + v.version);
  CHECK(left == std::vector<std::string>{"d@1", "d@2", "m@1", "m@4", "m@5"});
  CHECK(reg.resolve("m@production").value() == reg.show("m@1").value().path);
  CHECK(reg.verify().value().ok());
  CHECK(fs::is_empty(s / "reg" / "tmp"));
  CHECK(!fs::exists(s / "reg" / "models" / "m" / "99"));
  // gc again with keep 1: d@1 goes (with its directory), m@1 stays (aliased), m@4 goes.
  auto second = reg.gc(1).value();
  CHECK(second.removed_versions == std::vector<std::string>{"d@1", "m@4"});
  CHECK(!fs::exists(s / "reg" / "models" / "d" / "1"));
  CHECK(reg.show("m@production").value().version == "1");
  CHECK(reg.gc(0).code() == errc::invalid_argument);
  auto log = reg.log().value();
  CHECK(log.back().action == "gc");
  CHECK(!log.back().model);
}

TEST_CASE("registry: gc keeps the version an alias would roll back to") {
  scratch_dir s;
  auto reg = make_registry(s);
  for (int i = 0; i < 4; ++i) {
    const fs::path p = s / ("m" + std::to_string(i) + ".safetensors");
    write_model(p, 4, R"("i": ")" + std::to_string(i) + "\"");
    reg.add(p.string(), "m").value();
  }
  reg.alias("m@1", "production").value();
  reg.alias("m@2", "production").value();
  auto report = reg.gc(1).value();
  CHECK(report.removed_versions == std::vector<std::string>{"m@3"});
  CHECK(reg.rollback("m", "production").value().current == "1");
}

TEST_CASE("registry: resolve refuses a corrupted object (digest_mismatch); verify names it") {
  scratch_dir s;
  auto reg = make_registry(s);
  write_model(s / "a.safetensors", 64);
  write_model_dir(s / "dir");
  auto file_version = reg.add((s / "a.safetensors").string(), "m").value();
  auto dir_version = reg.add((s / "dir").string(), "d").value();
  CHECK(reg.verify().value().ok());
  corrupt(file_version.path, 100);
  auto r = reg.resolve("m@1");
  CHECK(r.code() == errc::digest_mismatch);
  CHECK(r.error_value().message.find("a.safetensors") != std::string::npos);
  // Sizes alone do not see a changed byte: that is why digests are the default.
  CHECK(reg.resolve("m@1", sw::resolve_check::sizes).has_value());
  // A file of a directory version replaced (not the stored object any more).
  const fs::path config = dir_version.path + "/config.json";
  fs::remove(config);
  test_support::write_text(config, R"({"hidden": 4})");
  CHECK(reg.resolve("d").code() == errc::digest_mismatch);
  auto report = reg.verify().value();
  CHECK(!report.ok());
  REQUIRE(report.problems.size() == 2);
  CHECK(report.problems[0].model == "d");
  CHECK(report.problems[0].path == "config.json");
  CHECK(report.problems[1].model == "m");
  CHECK(report.problems[1].path == "a.safetensors");
  CHECK(report.problems[1].message.find("SHA-256") != std::string::npos);
  // A missing object.
  fs::remove(file_version.path);
  CHECK(reg.resolve("m").code() == errc::digest_mismatch);
}

TEST_CASE("registry: --link stores a hard link to the source instead of a copy") {
  scratch_dir s;
  auto reg = make_registry(s);
  write_model(s / "a.safetensors", 16);
  auto v = reg.add((s / "a.safetensors").string(), "m", linked()).value();
  struct stat source, object;
  REQUIRE(::stat((s / "a.safetensors").c_str(), &source) == 0);
  REQUIRE(::stat(v.path.c_str(), &object) == 0);
  CHECK(source.st_ino == object.st_ino);
  CHECK(reg.resolve("m").has_value());
}

TEST_CASE("registry: a version's model.sig is checked against the stored files, and with a key, fully") {
  scratch_dir s;
  auto reg = make_registry(s);
  write_model_dir(s / "model");
  auto key = sw::private_key::generate(sw::key_algorithm::ecdsa_p256).value();
  sw::model_sign_options o;
  o.signature_path = (s / "model" / "model.sig").string();
  auto bundle = sw::sign_model((s / "model").string(), sw::model_signer{key, {}}, o).value();
  sw::write_model_signature(o.signature_path, bundle).value();
  reg.add((s / "model").string(), "signed").value();
  auto unkeyed = reg.verify().value();
  CHECK(unkeyed.ok());
  CHECK(unkeyed.signatures == 1);
  CHECK(unkeyed.notes.size() == 1);
  CHECK(reg.verify(key.public_half()).value().ok());
  auto stranger = sw::private_key::generate(sw::key_algorithm::ecdsa_p256).value().public_half();
  auto wrong = reg.verify(stranger).value();
  CHECK(!wrong.ok());
  REQUIRE(wrong.problems.size() == 1);
  CHECK(wrong.problems[0].path == "model.sig");
  // A version whose files differ from what was signed.
  test_support::write_text(s / "model" / "config.json", R"({"hidden": 5})");
  reg.add((s / "model").string(), "signed").value();
  auto changed = reg.verify().value();
  REQUIRE(changed.problems.size() == 1);
  CHECK(changed.problems[0].version == "2");
  CHECK(changed.problems[0].message.find("config.json") != std::string::npos);
}

TEST_CASE("registry: a missing registry is registry_failed; an unknown name, version or alias is model_not_found") {
  scratch_dir s;
  CHECK(sw::registry::open((s / "nowhere").string()).code() == errc::registry_failed);
  fs::create_directories(s / "junk");
  test_support::write_text(s / "junk" / "registry.db", "this is not an SQLite database, it is just some text......");
  CHECK(sw::registry::open((s / "junk").string()).code() == errc::registry_failed);
  auto reg = make_registry(s);
  CHECK(reg.resolve("nobody").code() == errc::model_not_found);
  CHECK(reg.show("nobody@production").code() == errc::model_not_found);
  CHECK(reg.list("nobody").code() == errc::model_not_found);
  write_model(s / "a.safetensors", 4);
  reg.add((s / "a.safetensors").string(), "m").value();
  CHECK(reg.resolve("m@2").code() == errc::model_not_found);
  CHECK(reg.resolve("m@staging").code() == errc::model_not_found);
  CHECK(reg.resolve("m@").code() == errc::invalid_argument);
  CHECK(reg.add((s / "missing.safetensors").string(), "m").code() == errc::io_error);
}

TEST_CASE("registry: a change that waits past the busy timeout for another's transaction is registry_failed") {
  scratch_dir s;
  make_registry(s);
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open((s / "reg" / "registry.db").c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  auto reg = sw::registry::open((s / "reg").string(), std::chrono::milliseconds(200)).value();
  write_model(s / "a.safetensors", 4);
  auto blocked = reg.add((s / "a.safetensors").string(), "m");
  CHECK(blocked.code() == errc::registry_failed);
  CHECK(blocked.error_value().message.find("locked") != std::string::npos);
  CHECK(reg.list().value().empty());  // readers are not blocked (WAL)
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  CHECK(reg.add((s / "a.safetensors").string(), "m").has_value());
}
