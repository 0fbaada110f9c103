// `safeweights registry` through the real binary: the subcommands end to
// end, two processes adding versions and switching an alias at once
// (nothing lost, versions unique, the audit log complete), and adds killed
// with SIGKILL mid-copy (no half-registered version; verify passes; gc
// removes what they left).
#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli_support.hpp"
#include "errc_printer.hpp"
#include "safeweights/registry/registry.hpp"

namespace sw = safeweights;
namespace fs = std::filesystem;
using cli_test::lines_of;
using cli_test::run;
using test_support::run_result;
using test_support::scratch_dir;

namespace {

// A valid safetensors file of one U8 tensor: `bytes` data bytes (all written: not sparse), with `metadata` (JSON pairs).
void write_model(const fs::path& p, std::uint64_t bytes, const std::string& metadata, char fill = 1) {
  const std::string header = "{\"__metadata__\": {" + metadata + "}, \"w\": {\"dtype\": \"U8\", \"shape\": [" +
                             std::to_string(bytes) + "], \"data_offsets\": [0, " + std::to_string(bytes) + "]}}";
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
  out << header;
  const std::string chunk(std::size_t{1} << 20, fill);
  for (std::uint64_t left = bytes; left > 0;) {
    const std::uint64_t now = std::min<std::uint64_t>(left, chunk.size());
    out.write(chunk.data(), static_cast<std::streamsize>(now));
    left -= now;
  }
  REQUIRE(out.good());
}

// Starts a program with stdout and stderr to /dev/null (or to `out`); its pid.
pid_t spawn(const std::string& program, const std::vector<std::string>& args, const std::string& out = "/dev/null") {
  test_support::command_line cmd(program, args, {});
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, (out == "/dev/null" ? out : out + ".err").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, cmd.argv[0], &actions, nullptr, cmd.argv.data(), cmd.env.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

int wait_for(pid_t pid) {
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) REQUIRE(errno == EINTR);
  return test_support::exit_status(wstatus);
}

std::size_t files_under(const fs::path& dir) {
  std::size_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("cli registry: init, add, list, show, alias, rollback, resolve, verify, gc, log") {
  scratch_dir s;
  const std::string reg = (s / "reg").string();
  write_model(s / "a.safetensors", 64, R"("v": "a")");
  write_model(s / "b.safetensors", 64, R"("v": "b")");
  REQUIRE(run({"registry", "init", reg}).status == 0);
  run_result added = run({"registry", "add", reg, (s / "a.safetensors").string(), "--name", "churn", "--note", "first"});
  CHECK(added.status == 0);
  CHECK(added.out.starts_with("added churn@1: 1 file"));
  CHECK(run({"registry", "add", reg, (s / "b.safetensors").string(), "--name", "churn", "-q"}).out.empty());
  run_result dup = run({"registry", "add", reg, (s / "b.safetensors").string(), "--name", "churn", "--version", "2"});
  CHECK(dup.status == 1);
  CHECK(dup.err.find("already has version `2`") != std::string::npos);
  CHECK(lines_of(run({"registry", "list", reg}).out).size() == 3);  // heading + 2
  run_result listed = run({"registry", "list", reg, "--json"});
  CHECK(listed.out.find(R"("version": "1", "seq": 1, "kind": "file")") != std::string::npos);
  CHECK(run({"registry", "alias", reg, "churn@1", "production"}).out == "churn@production: (none) -> 1\n");
  CHECK(run({"registry", "alias", reg, "churn@2", "production"}).out == "churn@production: 1 -> 2\n");
  CHECK(run({"registry", "rollback", reg, "churn", "production"}).out == "churn@production: 2 -> 1\n");
  run_result shown = run({"registry", "show", reg, "churn@production", "--json"});
  CHECK(shown.out.find(R"("metadata": {"v": "a"})") != std::string::npos);
  run_result resolved = run({"registry", "resolve", reg, "churn@production"});
  CHECK(resolved.status == 0);
  const std::string path = resolved.out.substr(0, resolved.out.size() - 1);
  CHECK(fs::path(path).is_absolute());
  CHECK(test_support::read_bytes(path) == test_support::read_bytes(s / "a.safetensors"));
  CHECK(run({"registry", "resolve", reg, "churn@production", "--json"}).out.find(R"("checked": "sha256")") != std::string::npos);
  CHECK(run({"registry", "verify", reg}).status == 0);
  CHECK(run({"registry", "verify", reg, "--json"}).out.starts_with(R"({"ok": true, "versions": 2)"));
  CHECK(run({"registry", "gc", reg, "--keep", "1"}).status == 0);
  run_result log = run({"registry", "log", reg, "--json"});
  CHECK(log.out.find(R"("action": "rollback")") != std::string::npos);
  CHECK(lines_of(run({"registry", "log", reg}).out).size() == 7);  // init, 2 adds, 2 aliases, rollback, gc

  // Errors: exit 1 naming what; usage errors exit 2.
  run_result missing = run({"registry", "resolve", reg, "nobody"});
  CHECK(missing.status == 1);
  CHECK(missing.err.find("no model `nobody`") != std::string::npos);
  CHECK(run({"registry", "list", (s / "nowhere").string()}).status == 1);
  CHECK(run({"registry", "frobnicate", reg}).status == 2);
  CHECK(run({"registry", "add", reg, (s / "a.safetensors").string()}).status == 2);  // no --name
  CHECK(run({"registry", "list", reg, "--keep", "3"}).status == 2);
  CHECK(run({"registry", "gc", reg, "--keep", "0"}).status == 2);

  // A changed stored file: resolve and verify refuse it, naming it.
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  run_result bad = run({"registry", "resolve", reg, "churn@production"});
  CHECK(bad.status == 1);
  CHECK(bad.err.find("a.safetensors") != std::string::npos);
  run_result verify = run({"registry", "verify", reg, "--json"});
  CHECK(verify.status == 1);
  CHECK(verify.out.find(R"("path": "a.safetensors")") != std::string::npos);
}

TEST_CASE("cli registry: two processes adding and switching an alias at once, with gc running, lose nothing") {
  scratch_dir s;
  const std::string reg = (s / "reg").string();
  REQUIRE(run({"registry", "init", reg}).status == 0);
  constexpr int per_process = 20;
  for (int p = 0; p < 2; ++p)
    for (int i = 0; i < per_process; ++i)
      write_model(s / ("p" + std::to_string(p) + "_" + std::to_string(i) + ".safetensors"), 4096,
                  "\"who\": \"p" + std::to_string(p) + "\", \"i\": \"" + std::to_string(i) + "\"");
  // Each process: add a file, then point `production` at the version it got.
  const std::string script =
      "set -e\n"
      "for i in $(seq 0 $((N - 1))); do\n"
      "  out=$(\"$CLI\" registry add \"$REG\" \"$DIR/p${P}_$i.safetensors\" --name shared)\n"
      "  ref=${out#added }; ref=${ref%%:*}\n"
      "  \"$CLI\" registry alias \"$REG\" \"$ref\" production >/dev/null\n"
      "done\n";
  // And a third process collecting garbage all the while, keeping the newest 15 and the
  // aliased: an adder's version is gone before its alias only if the other adds 15 while it
  // stalls between its two commands (then `alias` fails, rightly, with model_not_found).
  const std::string collector =
      "while [ ! -e \"$DONE\" ]; do \"$CLI\" registry gc \"$REG\" --keep 15 >/dev/null || exit 1; done\n";
  const std::string done = (s / "adders-done").string();
  std::vector<pid_t> pids;
  pids.push_back(spawn("env", {"CLI=" SAFEWEIGHTS_CLI, "REG=" + reg, "DONE=" + done, "bash", "-c", collector},
                       (s / "gc-out").string()));
  for (int p = 0; p < 2; ++p)
    pids.push_back(spawn("env", {"CLI=" SAFEWEIGHTS_CLI, "REG=" + reg, "DIR=" + s.path().string(), "P=" + std::to_string(p),
                                 "N=" + std::to_string(per_process), "bash", "-c", script},
                         (s / ("out" + std::to_string(p))).string()));
  const std::vector<std::string> outputs = {"gc-out.err", "out0.err", "out1.err"};
  for (std::size_t i : {1, 2, 0}) {  // the adders, then the collector (told they are done)
    const int status = wait_for(pids[i]);
    INFO(outputs[i], ": ", test_support::read_text(s / outputs[i]));
    CHECK(status == 0);
    if (i == 2) test_support::write_text(done, "");
  }
  auto registry = sw::registry::open(reg).value();
  // Every add is in the log, each with its own number, 1 to 40, and its own file.
  const auto log = registry.log().value();
  std::set<std::string> labels;
  std::size_t adds = 0, aliases = 0, collections = 0;
  std::string production;  // the alias's target, following the log's switches in order
  for (const auto& e : log) {
    if (e.action == "add") {
      ++adds;
      labels.insert(e.version.value_or(""));
    } else if (e.action == "alias") {
      ++aliases;
      // "production: BEFORE -> AFTER": each switch starts where the one before it ended (none was lost).
      INFO(e.detail);
      CHECK(e.detail.starts_with("production: " + (production.empty() ? std::string("(none)") : production) + " -> "));
      production = e.detail.substr(e.detail.rfind(' ') + 1);
    } else if (e.action == "gc") {
      ++collections;
    }
  }
  CHECK(adds == 2 * per_process);
  CHECK(aliases == 2 * per_process);
  CHECK(collections >= 1);
  CHECK(labels.size() == 2 * per_process);
  for (int n = 1; n <= 2 * per_process; ++n) CHECK(labels.count(std::to_string(n)) == 1);
  CHECK(registry.show("shared@production").value().version == production);
  // What gc left: whole versions, the aliased one among them; nothing stray.
  const auto versions = registry.list("shared").value();
  CHECK(versions.size() >= 15);
  CHECK(versions.size() < 2 * per_process);  // gc removed some while the adds went on
  std::set<std::string> contents;
  for (const auto& v : versions) {
    CHECK(registry.resolve("shared@" + v.version).has_value());
    contents.insert(v.files.at(0).metadata_json.value_or(""));
  }
  CHECK(contents.size() == versions.size());
  CHECK(run({"registry", "verify", reg}).status == 0);
  CHECK(files_under(s / "reg" / "objects") == versions.size());
}

TEST_CASE("cli registry: an add killed mid-copy leaves no version; verify passes; gc removes what it left") {
  scratch_dir s;
  const std::string reg = (s / "reg").string();
  REQUIRE(run({"registry", "init", reg}).status == 0);
  write_model(s / "small.safetensors", 64, R"("v": "small")");
  REQUIRE(run({"registry", "add", reg, (s / "small.safetensors").string(), "--name", "keep"}).status == 0);
  // 300 MB written out (no holes), and a model directory of two 100 MB shards.
  write_model(s / "big.safetensors", 300'000'000, R"("v": "big")", 7);
  fs::create_directories(s / "dir");
  write_model(s / "dir" / "model-00001-of-00002.safetensors", 100'000'000, R"("part": "1")", 8);
  write_model(s / "dir" / "model-00002-of-00002.safetensors", 100'000'000, R"("part": "2")", 9);
  test_support::write_text(s / "dir" / "config.json", "{}");
  std::size_t killed = 0;
  for (int delay_ms : {5, 30, 80, 150, 300}) {
    for (const std::string source : {"big.safetensors", "dir"}) {
      INFO("killed after ", delay_ms, " ms adding ", source);
      const pid_t pid = spawn(SAFEWEIGHTS_CLI, {"registry", "add", reg, (s / source).string(), "--name", "victim"});
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      ::kill(pid, SIGKILL);
      const int status = wait_for(pid);
      CHECK((status == 128 + SIGKILL || status == 0));
      if (status == 0) {
        // It finished first: then it is whole.
        CHECK(run({"registry", "resolve", reg, "victim"}).status == 0);
        continue;
      }
      ++killed;
      CHECK(run({"registry", "verify", reg}).status == 0);
    }
  }
  CHECK(killed > 0);
  auto registry = sw::registry::open(reg).value();
  auto before = registry.list().value();
  // Every version listed is whole; the killed ones are not listed at all.
  for (const auto& v : before) CHECK(registry.resolve(v.model + "@" + v.version).has_value());
  // What the killed adds left: partial copies in tmp/, staged (or unrecorded) model directories.
  std::size_t leftovers = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(s / "reg" / "tmp")) ++leftovers;
  if (fs::exists(s / "reg" / "models" / "victim"))
    for (auto& e : fs::directory_iterator(s / "reg" / "models" / "victim")) {
      bool owned = false;
      for (const auto& v : before) owned = owned || (v.kind == "directory" && e.path() == fs::path(v.path));
      leftovers += owned ? 0 : 1;
    }
  CHECK(leftovers > 0);  // some kill landed mid-copy
  run_result gc = run({"registry", "gc", reg, "--keep", "100"});
  CHECK(gc.status == 0);
  CHECK(gc.out.find("gc: 0 versions") != std::string::npos);
  CHECK(gc.out.find(" and " + std::to_string(leftovers) + " leftover") != std::string::npos);
  CHECK(fs::is_empty(s / "reg" / "tmp"));
  // Left: exactly the objects the versions hold, and only their model directories.
  std::set<std::string> held;
  for (const auto& v : before)
    for (const auto& f : v.files) held.insert(f.sha256);
  CHECK(files_under(s / "reg" / "objects") == held.size());
  if (fs::exists(s / "reg" / "models" / "victim"))
    for (auto& e : fs::directory_iterator(s / "reg" / "models" / "victim")) {
      bool owned = false;
      for (const auto& v : before) owned = owned || (v.kind == "directory" && e.path() == fs::path(v.path));
      CHECK(owned);
    }
  CHECK(run({"registry", "verify", reg}).status == 0);
  CHECK(registry.list().value().size() == before.size());
}

TEST_CASE("cli registry: verify checks a version's model.sig against its files, and with --key the signer") {
  scratch_dir s;
  const std::string reg = (s / "reg").string();
  const std::string key = (s / "key.pem").string(), pub = (s / "pub.pem").string(), other = (s / "other.pem").string();
  REQUIRE(test_support::run_program("openssl", {"genpkey", "-algorithm", "ed25519", "-out", key}).status == 0);
  REQUIRE(test_support::run_program("openssl", {"pkey", "-in", key, "-pubout", "-out", pub}).status == 0);
  REQUIRE(test_support::run_program("openssl", {"genpkey", "-algorithm", "ed25519", "-out", (s / "k2.pem").string()}).status == 0);
  REQUIRE(test_support::run_program("openssl", {"pkey", "-in", (s / "k2.pem").string(), "-pubout", "-out", other}).status == 0);
  fs::create_directories(s / "model");
  write_model(s / "model" / "model.safetensors", 1024, R"("v": "1")");
  test_support::write_text(s / "model" / "config.json", "{}");
  REQUIRE(run({"sign", "--signature", (s / "model" / "model.sig").string(), "--private-key", key, (s / "model").string()}).status == 0);
  REQUIRE(run({"registry", "init", reg}).status == 0);
  REQUIRE(run({"registry", "add", reg, (s / "model").string(), "--name", "signed"}).status == 0);
  run_result unkeyed = run({"registry", "verify", reg});
  CHECK(unkeyed.status == 0);
  CHECK(unkeyed.out.find("1 signature checked") != std::string::npos);
  CHECK(unkeyed.out.find("note: model.sig checked without a key") != std::string::npos);
  CHECK(run({"registry", "verify", reg, "--key", pub}).status == 0);
  run_result stranger = run({"registry", "verify", reg, "--key", other, "--json"});
  CHECK(stranger.status == 1);
  CHECK(stranger.out.find(R"("path": "model.sig")") != std::string::npos);
  // The model directory resolve gives verifies with `safeweights verify` too.
  run_result resolved = run({"registry", "resolve", reg, "signed"});
  const std::string dir = resolved.out.substr(0, resolved.out.size() - 1);
  CHECK(run({"verify", "--signature", dir + "/model.sig", "--public-key", pub, dir}).status == 0);
}
