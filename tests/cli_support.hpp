// Running the `safeweights` tool from the tests: the real binary, with its
// stdout and stderr captured, optionally on a pseudo-terminal.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

extern char** environ;

namespace cli_test {

struct run_result {
  int status = -1;  // the exit code, or 128 + the signal that killed it
  std::string out;
  std::string err;
};

inline std::string read_text(const std::filesystem::path& p) {
  auto bytes = test_support::read_bytes(p);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline int exit_status(int wstatus) { return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus); }

// argv for the tool, and the environment with `extra_env` ("NAME=value") added.
struct command_line {
  std::vector<std::string> argv_text, env_text;
  std::vector<char*> argv, env;
  command_line(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
    argv_text = {SAFEWEIGHTS_CLI};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    for (char** e = environ; *e; ++e) env_text.emplace_back(*e);
    env_text.insert(env_text.end(), extra_env.begin(), extra_env.end());
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_text) env.push_back(e.data());
    env.push_back(nullptr);
  }
};

// Runs the tool with `args`; stdout and stderr go to files (no pipe can fill
// up and block the child), stdin is /dev/null.
inline run_result run(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {}) {
  static test_support::scratch_dir io;
  const std::string out_path = (io / "stdout").string(), err_path = (io / "stderr").string();
  command_line cmd(args, extra_env);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, cmd.argv[0], &actions, nullptr, cmd.argv.data(), cmd.env.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(rc == 0, "cannot start ", SAFEWEIGHTS_CLI);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) REQUIRE(errno == EINTR);
  return run_result{exit_status(wstatus), read_text(out_path), read_text(err_path)};
}

// Runs the tool with stdout and stderr on a pseudo-terminal; `out` gets
// everything the terminal showed (both streams, in order).
inline run_result run_on_terminal(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
  command_line cmd(args, extra_env);
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execve(cmd.argv[0], cmd.argv.data(), cmd.env.data());
    _exit(127);
  }
  run_result r;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) r.out.append(buf, static_cast<std::size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;  // EIO once the child has closed the terminal
  }
  ::close(master);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) REQUIRE(errno == EINTR);
  r.status = exit_status(wstatus);
  return r;
}

inline std::filesystem::path valid(const std::string& name) { return test_support::conformance_dir() / "valid" / name; }
inline std::filesystem::path malformed(const std::string& name) {
  return test_support::conformance_dir() / "malformed" / name;
}
inline std::filesystem::path numpy_file(const std::string& name) { return test_support::data_dir() / "numpy" / name; }
inline std::filesystem::path torch_file(const std::string& name) { return test_support::data_dir() / "torch" / name; }

}  // namespace cli_test
