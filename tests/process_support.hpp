// Running a program built by this project and capturing what it says.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <string>
#include <vector>

#include "support.hpp"

extern char** environ;

namespace test_support {

struct run_result {
  int status = -1;  // the exit code, or 128 + the signal that killed it
  std::string out;
  std::string err;
};

// Runs `program` with `args` and extra environment entries ("NAME=value");
// stdout and stderr go to files (no pipe can fill up), stdin is /dev/null.
inline run_result run_program(const std::string& program, const std::vector<std::string>& args,
                              const std::vector<std::string>& env = {}) {
  static scratch_dir io;
  const std::string out_path = (io / "stdout").string(), err_path = (io / "stderr").string();
  std::vector<std::string> argv_text = {program};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_text = env;
  for (char** e = environ; *e; ++e) env_text.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(rc == 0, "cannot start ", program);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) REQUIRE(errno == EINTR);
  run_result r;
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  auto text = [](const std::string& p) {
    auto bytes = read_bytes(p);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  };
  r.out = text(out_path);
  r.err = text(err_path);
  return r;
}

}  // namespace test_support
