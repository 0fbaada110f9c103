// Running a program from a test: its exit status and what it printed.
// stdout and stderr go to files (no pipe can fill up and block the child),
// stdin is /dev/null; the program is found on PATH when it has no slash.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

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

inline std::string read_text(const std::filesystem::path& p) {
  auto bytes = read_bytes(p);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

inline run_result run_program(const std::string& program, const std::vector<std::string>& args) {
  static scratch_dir io;
  const std::string out_path = (io / "stdout").string(), err_path = (io / "stderr").string();
  std::vector<std::string> argv_text = {program};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(rc == 0, "cannot start ", program);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) REQUIRE(errno == EINTR);

  run_result r;
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  r.out = read_text(out_path);
  r.err = read_text(err_path);
  return r;
}

}  // namespace test_support
