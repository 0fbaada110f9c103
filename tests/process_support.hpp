// Running a program from a test (the project's own binaries, mpirun,
// openssl): its exit status and what it printed. stdout and stderr go to
// files (no pipe can fill up and block the child), stdin is /dev/null; a
// program without a slash in its name is looked up on PATH. The child's
// peak resident memory comes from wait4, for tests that bound it.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "support.hpp"

extern char** environ;

namespace test_support {

struct run_result {
  int status = -1;  // the exit code, or 128 + the signal that killed it
  std::string out;
  std::string err;
  long peak_rss_kib = 0;  // the child's ru_maxrss
};

inline std::string read_text(const std::filesystem::path& p) {
  auto bytes = read_bytes(p);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

inline int exit_status(int wstatus) { return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus); }

// argv, and the environment with `extra_env` ("NAME=value") in front of the
// inherited one, so that an extra entry wins over an inherited one (getenv
// returns the first match).
struct command_line {
  std::vector<std::string> argv_text, env_text;
  std::vector<char*> argv, env;
  command_line(const std::string& program, const std::vector<std::string>& args,
               const std::vector<std::string>& extra_env) {
    argv_text = {program};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    env_text = extra_env;
    for (char** e = environ; *e; ++e) env_text.emplace_back(*e);
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_text) env.push_back(e.data());
    env.push_back(nullptr);
  }
};

inline run_result run_program(const std::string& program, const std::vector<std::string>& args,
                              const std::vector<std::string>& extra_env = {}) {
  static scratch_dir io;
  const std::string out_path = (io / "stdout").string(), err_path = (io / "stderr").string();
  command_line cmd(program, args, extra_env);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, cmd.argv[0], &actions, nullptr, cmd.argv.data(), cmd.env.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(rc == 0, "cannot start ", program);
  int wstatus = 0;
  struct rusage usage {};
  while (wait4(pid, &wstatus, 0, &usage) < 0) REQUIRE(errno == EINTR);
  return run_result{exit_status(wstatus), read_text(out_path), read_text(err_path), usage.ru_maxrss};
}

}  // namespace test_support
