// This process's resident memory now and at its peak, from /proc/self/status (Linux).
#pragma once

#include <cstdio>
#include <cstring>

struct process_memory {
  long rss_kib = -1;  // VmRSS
  long hwm_kib = -1;  // VmHWM, the peak of VmRSS
};

inline process_memory read_process_memory() {
  process_memory m;
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return m;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) std::sscanf(line + 6, "%ld", &m.rss_kib);
    if (std::strncmp(line, "VmHWM:", 6) == 0) std::sscanf(line + 6, "%ld", &m.hwm_kib);
  }
  std::fclose(f);
  return m;
}
