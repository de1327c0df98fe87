// Wake-ups of one of this process's threads, found by its name: the voluntary context switches
// (sleeps that ended) that /proc/self/task/<tid>/status counts. For the tests and benchmarks of
// the background thread's pacing.
//
//   const std::optional<std::uint64_t> w = logfire::test::thread_wakeups("logfire-drain");
#pragma once

#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace logfire::test {

// nullopt when no thread has that name (or /proc cannot be read).
inline std::optional<std::uint64_t> thread_wakeups(const char* name) {
  DIR* dir = ::opendir("/proc/self/task");
  if (!dir) return std::nullopt;
  std::optional<std::uint64_t> found;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const std::string task = std::string("/proc/self/task/") + e->d_name;
    char comm[64] = {};
    if (std::FILE* f = std::fopen((task + "/comm").c_str(), "r")) {
      if (!std::fgets(comm, sizeof comm, f)) comm[0] = 0;
      std::fclose(f);
    }
    comm[std::strcspn(comm, "\n")] = 0;
    if (std::strcmp(comm, name) != 0) continue;
    if (std::FILE* f = std::fopen((task + "/status").c_str(), "r")) {
      char line[256];
      while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, "voluntary_ctxt_switches:", 24) == 0) found = std::strtoull(line + 24, nullptr, 10);
      std::fclose(f);
    }
    break;
  }
  ::closedir(dir);
  return found;
}

}  // namespace logfire::test
