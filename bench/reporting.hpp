// Shared by the kernel and model benchmarks: a console reporter that also
// keeps each benchmark's median real time (and counters), and the summary
// table that prints every figure beside its baseline from the same run.
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace swbench {

// The console reporter, plus a record of each benchmark's median real time
// per iteration (or its single run's, with --benchmark_repetitions=1).
class recording_reporter : public benchmark::ConsoleReporter {
 public:
  struct figure {
    double seconds = 0;  // real time per iteration
    double cpu_seconds = 0;
    double min_seconds = 0, max_seconds = 0;  // over the repetitions
    std::map<std::string, double> counters;
    bool median = false;
  };

  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) {
        errors_ = true;
        continue;
      }
      auto per_iteration = [&run] {
        return run.iterations ? run.real_accumulated_time / static_cast<double>(run.iterations)
                              : run.real_accumulated_time;
      };
      if (run.run_type == Run::RT_Aggregate && (run.aggregate_name == "min" || run.aggregate_name == "max")) {
        figure& f = figures_[run.run_name.function_name];
        (run.aggregate_name == "min" ? f.min_seconds : f.max_seconds) = per_iteration();
        continue;
      }
      bool is_median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      bool is_single = run.run_type == Run::RT_Iteration;
      if (!is_median && !is_single) continue;
      figure& f = figures_[run.run_name.function_name];
      if (f.median && !is_median) continue;
      f.seconds = per_iteration();
      f.cpu_seconds = run.iterations ? run.cpu_accumulated_time / static_cast<double>(run.iterations)
                                     : run.cpu_accumulated_time;
      f.median = is_median;
      f.counters.clear();
      for (const auto& [name, c] : run.counters) f.counters[name] = c.value;
    }
  }

  const std::map<std::string, figure>& figures() const noexcept { return figures_; }
  const figure* find(const std::string& name) const {
    auto it = figures_.find(name);
    return it == figures_.end() ? nullptr : &it->second;
  }
  bool errors() const noexcept { return errors_; }

 private:
  std::map<std::string, figure> figures_;
  bool errors_ = false;
};

inline std::string load_average() {
  char buf[128] = {};
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (!std::fgets(buf, sizeof buf, f)) buf[0] = '\0';
    std::fclose(f);
  }
  std::string s(buf);
  auto cut = s.find(' ', s.find(' ', s.find(' ') + 1) + 1);
  return cut == std::string::npos ? s : s.substr(0, cut);
}

// One summary row: a figure, its baseline (both measured in this run), the
// ratio figure/baseline of `rate` (higher is better) and an optional goal.
struct summary_table {
  int pass = 0, judged = 0;

  void header(const char* title) const {
    std::printf("\n%s\n", title);
    std::printf("%-46s %14s   %-34s %14s %8s  %-10s %s\n", "figure", "value", "baseline (this run)", "value", "ratio",
                "goal", "result");
    std::printf("%s\n", std::string(150, '-').c_str());
  }
  // min_ratio <= 0: no goal.
  void row(const std::string& figure, double value, const std::string& baseline, double base_value, const char* unit,
           double min_ratio) {
    char a[32], b[32], ratio[16], goal[24] = "-";
    std::snprintf(a, sizeof a, "%.2f %s", value, unit);
    std::snprintf(b, sizeof b, "%.2f %s", base_value, unit);
    std::snprintf(ratio, sizeof ratio, "%.2f", base_value > 0 ? value / base_value : 0.0);
    const char* verdict = "";
    if (min_ratio > 0) {
      std::snprintf(goal, sizeof goal, ">= %.2f", min_ratio);
      ++judged;
      bool ok = base_value > 0 && value / base_value >= min_ratio;
      pass += ok;
      verdict = ok ? "PASS" : "MISS";
    }
    std::printf("%-46s %14s   %-34s %14s %8s  %-10s %s\n", figure.c_str(), a, baseline.c_str(), b, ratio, goal, verdict);
  }
  void missing(const std::string& figure) const { std::printf("%-46s %14s\n", figure.c_str(), "NOT RUN"); }
};

}  // namespace swbench
