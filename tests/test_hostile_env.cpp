// Hostile environments (issue 13): not a bad file, but a bad world around a
// good one. Another process truncates the input under a command, an input is
// a FIFO, a shared directory holds someone else's file where the output goes,
// the command is interrupted. Each runs the real `safeweights` binary, or the
// library where the library is what protects the user.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli_support.hpp"
#include "errc_printer.hpp"
#include "safeweights/safeweights.hpp"

namespace sw = safeweights;
namespace fs = std::filesystem;
using cli_test::run;
using sw::errc;
using test_support::scratch_dir;

namespace {

// A child left running, for signals and races: stdout and stderr to one file.
struct running_child {
  pid_t pid = -1;
  std::string output_path;

  running_child(const std::vector<std::string>& args, const std::string& output) : output_path(output) {
    test_support::command_line cmd(SAFEWEIGHTS_CLI, args, {});
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 2, 1);
    int rc = posix_spawn(&pid, cmd.argv[0], &actions, nullptr, cmd.argv.data(), cmd.env.data());
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
  }

  // The wait status; a child still running after `seconds` is killed and the
  // check fails (a hang).
  int wait(int seconds = 60) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    int wstatus = 0;
    for (;;) {
      pid_t got = ::waitpid(pid, &wstatus, WNOHANG);
      if (got == pid) return wstatus;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &wstatus, 0);
        FAIL_CHECK("the command hung for ", seconds, " s");
        return wstatus;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  std::string output() const { return test_support::read_text(output_path); }

  // Waits until the child holds `path` open (or has ended); false after 20 s.
  bool wait_until_open(const std::string& path) const {
    const fs::path wanted = fs::canonical(path);
    const fs::path fds = "/proc/" + std::to_string(pid) + "/fd";
    for (int i = 0; i < 200000; ++i) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(fds, ec)) {
        std::error_code link_ec;
        if (fs::read_symlink(e.path(), link_ec) == wanted) return true;
      }
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
        return true;  // it has ended (not reaped yet): nothing to wait for
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return false;
  }
};

// A valid file of one F32 tensor of `bytes` bytes (a pattern, not zeros).
void write_big_file(const std::string& path, std::size_t bytes) {
  std::vector<float> values(bytes / 4);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 1000) * 0.5f;
  sw::writer w;
  REQUIRE(w.add<float>("weight", {values.size()}, values));
  REQUIRE(w.write_file(path));
}

// A valid file whose header is over 64 KiB (3,000 tensors with long names):
// such headers used to be parsed, and their names kept, in the mapping.
std::vector<std::byte> big_header_image() {
  std::vector<float> value{1.0f};
  sw::writer w;
  for (int i = 0; i < 3000; ++i)
    REQUIRE(w.add<float>("model.layers." + std::to_string(i) + ".self_attention.query_key_value.weight", {1}, value));
  return w.serialize().value();
}

std::vector<std::string> temporaries_in(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) found.push_back(e.path().string());
  return found;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

mode_t umask_default() {
  mode_t mask = ::umask(022);
  ::umask(mask);
  return 0666 & ~mask;
}

}  // namespace

TEST_CASE("hostile env: a FIFO (or a directory) as an input is refused at once, never waited on") {
  scratch_dir dir;
  const std::string fifo = (dir / "model.safetensors").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  const std::string good = (dir / "good.safetensors").string();
  test_support::write_bytes(good, big_header_image());
  // An index naming a shard that is a FIFO, and an index that is one.
  const std::string index = (dir / "model.safetensors.index.json").string();
  test_support::write_text(index, R"({"metadata":{},"weight_map":{"a":"model.safetensors"}})");
  const std::string fifo_index = (dir / "fifo.index.json").string();
  REQUIRE(::mkfifo(fifo_index.c_str(), 0644) == 0);
  const std::string out = (dir / "out.safetensors").string();

  const std::vector<std::vector<std::string>> commands = {
      {"validate", fifo},
      {"validate", "--pread", fifo},
      {"inspect", fifo},
      {"stats", fifo},
      {"digest", fifo},
      {"convert", fifo, out},
      {"metadata", fifo},
      {"repack", fifo, out},
      {"merge", index, out},
      {"merge", fifo_index, out},
      {"verify", "--signature", good, "--public-key", fifo, good},
      {"verify", "--signature", fifo, "--certificate-chain", fifo, good},
  };
  SUBCASE("every command that reads a file refuses it, in time") {
    for (const auto& args : commands) {
      INFO(args[0], " ", args[1]);
      running_child child(args, (dir / "output").string());
      int wstatus = child.wait(20);
      CHECK(WIFEXITED(wstatus));
      CHECK(WEXITSTATUS(wstatus) == 1);
      CHECK(child.output().find("FIFO") != std::string::npos);
    }
  }

  SUBCASE("a signature file that is a directory is named as one, not called empty") {
    const std::string key = (dir / "key.pem").string(), pub = (dir / "pub.pem").string();
    REQUIRE(test_support::run_program("openssl", {"genpkey", "-algorithm", "ed25519", "-out", key}).status == 0);
    REQUIRE(test_support::run_program("openssl", {"pkey", "-in", key, "-pubout", "-out", pub}).status == 0);
    fs::create_directory(good + ".sig");
    auto r = run({"verify", "--signature", good + ".sig", "--public-key", pub, good});
    CHECK(r.status == 1);
    CHECK(r.err.find("a directory") != std::string::npos);
    CHECK(r.err.find("empty") == std::string::npos);
  }

  SUBCASE("library: file_handle::open_read returns at once (in a child, so a hang cannot stall the suite)") {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::alarm(10);
      auto f = sw::file_handle::open_read(fifo);
      _exit(!f && f.code() == errc::io_error ? 0 : 3);
    }
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    CHECK(WIFEXITED(wstatus));
    CHECK(WEXITSTATUS(wstatus) == 0);
    auto d = sw::reader::open(dir.path().string());
    CHECK(d.code() == errc::io_error);
    CHECK(d.error_value().message.find("a directory") != std::string::npos);
    auto device = sw::reader::open("/dev/null");
    CHECK(device.code() == errc::io_error);
    CHECK(device.error_value().message.find("a character device") != std::string::npos);
  }
}

TEST_CASE("hostile env: an output takes only the permission bits of a file the caller owns, never set-id bits") {
  scratch_dir dir;
  std::vector<float> v{1.0f, 2.0f};
  sw::writer w;
  REQUIRE(w.add<float>("x", {2}, v));
  const std::string path = (dir / "out.safetensors").string();

  SUBCASE("the caller's own file: its 0777 bits, no set-uid, set-gid or sticky bit") {
    test_support::write_text(path, "old");
    REQUIRE(::chmod(path.c_str(), 06750 | S_ISVTX) == 0);
    REQUIRE(w.write_file(path));
    CHECK(mode_of(path) == 0750);
    REQUIRE(::chmod(path.c_str(), 0640) == 0);
    REQUIRE(w.write_file(path));
    CHECK(mode_of(path) == 0640);
  }
  SUBCASE("a file another user planted (6777) lends nothing: the umask default") {
    if (::geteuid() != 0) {
      MESSAGE("SKIPPED: needs root to give a file to another user");
      return;
    }
    test_support::write_text(path, "planted");
    REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
    REQUIRE(::chmod(path.c_str(), 06777) == 0);
    REQUIRE(w.write_file(path));
    CHECK(mode_of(path) == umask_default());
  }
  SUBCASE("a symlink at the target lends nothing from the file it points to") {
    const std::string elsewhere = (dir / "elsewhere").string();
    test_support::write_text(elsewhere, "x");
    REQUIRE(::chmod(elsewhere.c_str(), 0755) == 0);
    fs::create_symlink(elsewhere, path);
    REQUIRE(w.write_file(path));
    CHECK(mode_of(path) == umask_default());
    CHECK(fs::is_regular_file(fs::symlink_status(path)));
    CHECK(mode_of(elsewhere) == 0755);  // and the file it pointed to is untouched
  }
}

TEST_CASE("hostile env: an output name at the 255-byte limit gets a temporary name that fits") {
  scratch_dir dir;
  std::vector<float> v{1.0f};
  sw::writer w;
  REQUIRE(w.add<float>("x", {1}, v));
  const std::string ascii(255 - std::string(".safetensors").size(), 'a');
  std::string utf8;
  while (utf8.size() + 2 <= 255 - std::string(".safetensors").size()) utf8 += "\xc3\xa9";  // é
  for (const std::string& stem : {ascii, utf8}) {
    const std::string path = (dir / (stem + ".safetensors")).string();
    REQUIRE(fs::path(path).filename().string().size() <= 255);
    auto written = w.write_file(path);
    CHECK_MESSAGE(written, (written ? "" : written.error_value().message));
    CHECK(fs::exists(path));
    CHECK(temporaries_in(dir.path()).empty());
  }
}

TEST_CASE("hostile env: a file cut short under a command never kills it with a signal") {
  scratch_dir dir;
  const std::string pristine = (dir / "pristine.safetensors").string();
  write_big_file(pristine, std::size_t{48} << 20);
  const std::string in = (dir / "in.safetensors").string(), other = (dir / "other.safetensors").string();
  fs::copy_file(pristine, other);
  const std::string out = (dir / "out.safetensors").string();
  const std::vector<std::vector<std::string>> commands = {
      {"stats", in},
      {"digest", in},
      {"inspect", "--json", "--sha256", in},
      {"cast", "--dtype", "bf16", in, out},
      {"repack", in, out},
      {"extract", in, out, "weight"},
      {"convert", in, (dir / "out.npy").string()},
      {"diff", in, other},
  };
  std::mt19937 rng(13);
  for (const auto& args : commands) {
    int reported = 0;
    for (int attempt = 0; attempt < 4; ++attempt) {
      INFO(args[0], ", attempt ", attempt);
      fs::copy_file(pristine, in, fs::copy_options::overwrite_existing);
      running_child child(args, (dir / "output").string());
      // Cut short once the command has the file open, so the cut lands inside
      // its run (before it, the file is merely invalid) on slow builds too.
      REQUIRE(child.wait_until_open(in));
      std::this_thread::sleep_for(std::chrono::milliseconds(2 + rng() % 40));
      REQUIRE(::truncate(in.c_str(), 4096) == 0);
      int wstatus = child.wait();
      REQUIRE(WIFEXITED(wstatus));  // not WIFSIGNALED: no SIGBUS
      const int failed = args[0] == "diff" ? 3 : 1;  // diff's 1 is "the files differ"
      CHECK((WEXITSTATUS(wstatus) == 0 || WEXITSTATUS(wstatus) == failed));
      const std::string err = child.output();
      if (WEXITSTATUS(wstatus) == failed) {
        ++reported;
        INFO(err);
        CHECK(err.find("changed while being read") != std::string::npos);
        CHECK(err.find(in) != std::string::npos);
      }
      CHECK(temporaries_in(dir.path()).empty());
    }
    MESSAGE(args[0], ": the truncation landed inside the run ", reported, " times of 4");
  }
}

TEST_CASE("hostile env: validate on a file truncated and restored over and over: never a signal, 60 runs") {
  scratch_dir dir;
  const std::string path = (dir / "big-header.safetensors").string();
  const std::vector<std::byte> image = big_header_image();
  test_support::write_bytes(path, image);
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    int fd = ::open(path.c_str(), O_WRONLY);
    while (!stop.load()) {
      (void)::ftruncate(fd, 8192);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
      (void)::pwrite(fd, image.data(), image.size(), 0);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    ::close(fd);
  });
  int ok = 0, changed = 0, other = 0, signalled = 0;
  for (int i = 0; i < 60; ++i) {
    running_child child({"validate", path}, (dir / "output").string());
    int wstatus = child.wait();
    if (!WIFEXITED(wstatus)) {
      ++signalled;
    } else if (WEXITSTATUS(wstatus) == 0) {
      ++ok;
    } else {
      const std::string said = child.output();
      ++(said.find("changed while being read") != std::string::npos || said.find(": invalid: ") != std::string::npos
             ? changed
             : other);
    }
  }
  stop = true;
  churn.join();
  MESSAGE("validate under churn: ", ok, " ok, ", changed, " invalid or changed, ", other, " other, ", signalled,
          " killed by a signal");
  CHECK(signalled == 0);
  CHECK(other == 0);
}

TEST_CASE("hostile env: library: shrink_safe keeps the reader's own reads off the mapping; guard_mapped_reads") {
  scratch_dir dir;
  const std::string path = (dir / "big-header.safetensors").string();
  test_support::write_bytes(path, big_header_image());
  const std::string name = "model.layers.2999.self_attention.query_key_value.weight";

  // In a child: a SIGBUS there fails the check instead of the test program.
  auto in_child = [](auto body) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::signal(SIGBUS, SIG_DFL);
      _exit(body());
    }
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    return wstatus;
  };

  SUBCASE("after a truncation: names still found, copies are file_changed, never SIGBUS") {
    int wstatus = in_child([&]() -> int {
      sw::read_options o;
      o.shrink_safe = true;
      auto r = sw::reader::open(path, o);
      if (!r) return 2;
      if (::truncate(path.c_str(), 4096) != 0) return 3;
      const sw::tensor_info* info = r->find(name);  // names are the reader's own, not the mapping's
      if (!info || info->name != name) return 4;
      float value = 0;
      sw::reader::byte_range range{info->begin, 4, reinterpret_cast<std::byte*>(&value)};
      if (r->read_ranges(std::span(&range, 1)).code() != errc::file_changed) return 5;
      if (r->load().code() != errc::file_changed) return 6;
      std::vector<std::byte> row(4);
      if (r->read_slice(*info, {.dim = 0, .begin = 0, .end = 1}, row).code() != errc::file_changed) return 7;
      return 0;
    });
    CHECK(WIFEXITED(wstatus));
    CHECK(WEXITSTATUS(wstatus) == 0);
  }
  SUBCASE("a view's bytes touched inside guard_mapped_reads: file_changed, and the guard works again after") {
    int wstatus = in_child([&]() -> int {
      sw::read_options o;
      o.shrink_safe = true;
      auto r = sw::reader::open(path, o);
      if (!r) return 2;
      auto view = r->tensor(name);
      if (!view) return 3;
      float value = 0;
      auto bytes = view->bytes();
      if (!sw::guard_mapped_reads(bytes, [&] { std::memcpy(&value, bytes.data(), 4); }) || value != 1.0f) return 4;
      if (::truncate(path.c_str(), 4096) != 0) return 5;
      for (int i = 0; i < 3; ++i) {
        auto touched = sw::guard_mapped_reads(bytes, [&] { std::memcpy(&value, bytes.data(), 4); });
        if (touched.code() != errc::file_changed) return 6;
      }
      return 0;
    });
    CHECK(WIFEXITED(wstatus));
    CHECK(WEXITSTATUS(wstatus) == 0);
  }
}

TEST_CASE(
    "hostile env: Ctrl-C, SIGTERM and SIGHUP remove the temporary of an unfinished output; cleanup finds SIGKILL's") {
  scratch_dir dir;
  const std::string in = (dir / "in.safetensors").string();
  write_big_file(in, std::size_t{96} << 20);
  const fs::path outdir = dir / "out";
  fs::create_directory(outdir);
  const std::string out = (outdir / "out.safetensors").string();

  // Starts a command writing into outdir, waits until its temporary exists
  // (a staged directory: with a file in it), sends `signal`.
  const std::vector<std::string> cast = {"cast", "--dtype", "f16", in, out};
  auto interrupt = [&](int signal, const std::vector<std::string>& args) {
    running_child child(args, (dir / "output").string());
    bool seen = false;
    for (int i = 0; i < 20000 && !seen; ++i) {
      for (const std::string& t : temporaries_in(outdir)) {
        std::error_code ec;
        seen = seen || !fs::is_directory(t, ec) || !fs::is_empty(t, ec);
      }
      if (!seen) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    ::kill(child.pid, signal);
    int wstatus = child.wait();
    return std::pair{seen, wstatus};
  };

  // cast, and convert (whose .npz goes through libzip, loaded on use);
  // convert to a directory stages a whole directory of .npy files.
  const std::string npz = (outdir / "out.npz").string(), arrays = (outdir / "arrays").string();
  const std::vector<std::string> to_directory = {"convert", in, arrays + "/"};
  const std::vector<std::pair<int, std::vector<std::string>>> cases = {{SIGINT, cast},
                                                                       {SIGTERM, cast},
                                                                       {SIGHUP, cast},
                                                                       {SIGINT, {"convert", "--compress", in, npz}},
                                                                       {SIGTERM, to_directory}};
  for (const auto& [signal, args] : cases) {
    INFO("signal ", signal, " to ", args[0]);
    auto [seen, wstatus] = interrupt(signal, args);
    REQUIRE(seen);
    CHECK(WIFSIGNALED(wstatus));  // it still ends by the signal, as a shell expects
    if (WIFSIGNALED(wstatus)) CHECK(WTERMSIG(wstatus) == signal);
    CHECK(temporaries_in(outdir).empty());
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(fs::exists(npz));
    CHECK_FALSE(fs::exists(arrays));
  }

  // SIGKILL cannot be caught: the temporary stays, and cleanup finds it.
  auto [seen, wstatus] = interrupt(SIGKILL, cast);
  REQUIRE(seen);
  CHECK(WIFSIGNALED(wstatus));
  auto left = temporaries_in(outdir);
  REQUIRE(left.size() == 1);
  // A temporary being written right now (held by a live atomic_file) is not stale.
  auto live = sw::atomic_file::create((outdir / "live.safetensors").string());
  REQUIRE(live);
  REQUIRE(temporaries_in(outdir).size() == 2);
  auto listed = run({"cleanup", outdir.string()});
  CHECK(listed.status == 0);
  CHECK(listed.out == left[0] + "\n");
  auto removed = run({"cleanup", "--delete", outdir.string()});
  CHECK(removed.status == 0);
  CHECK(removed.out == "removed " + left[0] + "\n");
  CHECK_FALSE(fs::exists(left[0]));
  CHECK(temporaries_in(outdir).size() == 1);  // the live one
  live->abandon();
  CHECK(temporaries_in(outdir).empty());

  // A staged directory that SIGKILL left, with a partial file in it: found and removed whole.
  auto [dir_seen, dir_status] = interrupt(SIGKILL, to_directory);
  REQUIRE(dir_seen);
  CHECK(WIFSIGNALED(dir_status));
  auto staged = temporaries_in(outdir);
  REQUIRE(staged.size() == 1);
  CHECK(fs::is_directory(staged[0]));
  CHECK(run({"cleanup", outdir.string()}).out == staged[0] + "\n");
  CHECK(run({"cleanup", "--delete", outdir.string()}).out == "removed " + staged[0] + "\n");
  CHECK(temporaries_in(outdir).empty());
  CHECK_FALSE(fs::exists(arrays));
}

TEST_CASE("hostile env: library: remove_temporary_files removes what the process is writing, nothing else") {
  scratch_dir dir;
  const std::string target = (dir / "model.safetensors").string();
  test_support::write_text(target, "old");
  auto a = sw::atomic_file::create(target);
  auto b = sw::atomic_file::create((dir / "other.safetensors").string());
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(temporaries_in(dir.path()).size() == 2);
  sw::remove_temporary_files();
  CHECK(temporaries_in(dir.path()).empty());
  CHECK(test_support::read_text(target) == "old");
  b->abandon();
  CHECK(fs::exists(target));
}
