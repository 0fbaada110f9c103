// signals.hpp. Everything a handler calls here is async-signal-safe: open,
// read, write, close, unlink, sigaction, raise, pause, _exit, a lock-free
// atomic; no allocation.
#include "signals.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "safeweights/io/temporary_files.hpp"

namespace safeweights_cli {
namespace {

constexpr int handled_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGBUS};
volatile sig_atomic_t changed_input_status = 1;

void put(const char* text, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, text, n);
    if (w <= 0) return;
    text += w;
    n -= static_cast<std::size_t>(w);
  }
}
void put(const char* text) { put(text, std::strlen(text)); }

// A path with its control bytes and backslashes escaped as \xNN, byte by
// byte (printable() allocates, so a handler cannot call it).
void put_escaped(const char* text, std::size_t n) {
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F || c == '\\') {
      char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
      put(esc, 4);
    } else {
      put(text + i, 1);
    }
  }
}

std::uintptr_t parse_hex(const char*& p, const char* end) {
  std::uintptr_t v = 0;
  for (; p < end; ++p) {
    char c = *p;
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) break;
    v = v * 16 + static_cast<std::uintptr_t>(d);
  }
  return v;
}

// Looks `address` up in /proc/self/maps ("begin-end perms offset dev inode path").
// Writes the message and returns true when a mapped file holds it.
bool report_changed_file(const void* address) {
  int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const auto target = reinterpret_cast<std::uintptr_t>(address);
  static char buffer[8192];
  static char line[4096 + 256];
  std::size_t line_size = 0;
  bool found = false;
  for (;;) {
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got <= 0) break;
    for (ssize_t i = 0; i < got && !found; ++i) {
      if (buffer[i] != '\n') {
        if (line_size < sizeof line) line[line_size++] = buffer[i];
        continue;
      }
      const char* p = line;
      const char* end = line + line_size;
      std::uintptr_t begin = parse_hex(p, end);
      ++p;
      std::uintptr_t stop = parse_hex(p, end);
      const char* path = static_cast<const char*>(std::memchr(line, '/', line_size));
      if (target >= begin && target < stop && path) {
        put("safeweights: ");
        put_escaped(path, static_cast<std::size_t>(end - path));
        put(": changed while being read: the file shrank under the command "
            "(another process truncated or rewrote it); the command stopped\n");
        found = true;
      }
      line_size = 0;
    }
    if (found) break;
  }
  ::close(fd);
  return found;
}

void set_default(int signal) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(signal, &dfl, nullptr);
}

void on_signal(int signal, siginfo_t* info, void*) {
  safeweights::remove_temporary_files();
  if (signal == SIGBUS) {
    // Threads reading the same shrunk file fault together (digest's workers):
    // one reports and ends the process, the others wait for that.
    static std::atomic<bool> reporting{false};
    if (reporting.exchange(true))
      for (;;) ::pause();
    if (info->si_code == BUS_ADRERR && report_changed_file(info->si_addr)) ::_exit(changed_input_status);
    set_default(signal);  // not a shrunk file: the access runs again and ends the process
    return;
  }
  set_default(signal);
  ::raise(signal);
}

}  // namespace

void set_changed_input_status(int status) { changed_input_status = status; }

void install_signal_handlers() {
  for (int signal : handled_signals) {
    struct sigaction current {};
    if (::sigaction(signal, nullptr, &current) != 0 || current.sa_handler == SIG_IGN) continue;
    struct sigaction action {};
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    for (int other : handled_signals) sigaddset(&action.sa_mask, other);
    ::sigaction(signal, &action, nullptr);
  }
}

}  // namespace safeweights_cli
