// A progress bar on stderr for work that takes over a second, drawn only when
// stderr is a terminal (never into a log or a pipe) and erased when the work
// ends, so it leaves nothing behind. SAFEWEIGHTS_PROGRESS_DELAY_MS replaces
// the one-second delay (the tests set it to 0 to see the bar on a pty).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "command.hpp"
#include "size.hpp"

namespace safeweights_cli {

class progress {
 public:
  using clock = std::chrono::steady_clock;

  progress(std::string label, std::uint64_t total)
      : label_(std::move(label)), total_(total), start_(clock::now()), enabled_(::isatty(2) == 1) {
    if (const char* ms = std::getenv("SAFEWEIGHTS_PROGRESS_DELAY_MS"))
      delay_ = std::chrono::milliseconds(std::strtoul(ms, nullptr, 10));
  }
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;
  ~progress() { finish(); }

  void add(std::uint64_t bytes) {
    done_ += bytes;
    if (!enabled_) return;
    auto now = clock::now();
    if (now - start_ < delay_ || (drawn_ && now - last_draw_ < std::chrono::milliseconds(100))) return;
    draw();
    last_draw_ = now;
  }

  // Erases the bar (if it was drawn); later add() calls draw nothing.
  void finish() {
    if (drawn_) write_out(stderr, "\r\x1b[K");
    drawn_ = false;
    enabled_ = false;
  }

 private:
  void draw() {
    constexpr int width = 30;
    double fraction = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
    if (fraction > 1) fraction = 1;
    int filled = static_cast<int>(fraction * width);
    std::string line = "\r" + label_ + " [";
    line.append(static_cast<std::size_t>(filled), '#');
    line.append(static_cast<std::size_t>(width - filled), '-');
    line += "] " + std::to_string(static_cast<int>(fraction * 100)) + "%  " + human_size(done_) + " / " +
            human_size(total_) + "\x1b[K";
    write_out(stderr, line);
    std::fflush(stderr);
    drawn_ = true;
  }

  std::string label_;
  std::uint64_t total_ = 0;
  std::uint64_t done_ = 0;
  clock::time_point start_;
  clock::time_point last_draw_{};
  clock::duration delay_ = std::chrono::seconds(1);
  bool enabled_ = false;
  bool drawn_ = false;
};

}  // namespace safeweights_cli
