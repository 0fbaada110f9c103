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

#include "process_support.hpp"

namespace cli_test {

using test_support::exit_status;
using test_support::read_text;
using test_support::run_result;

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Runs the tool with `args` (see test_support::run_program).
inline run_result run(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {}) {
  return test_support::run_program(SAFEWEIGHTS_CLI, args, extra_env);
}

// Runs the tool with stdout and stderr on a pseudo-terminal; `out` gets
// everything the terminal showed (both streams, in order).
inline run_result run_on_terminal(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
  test_support::command_line cmd(SAFEWEIGHTS_CLI, args, extra_env);
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
