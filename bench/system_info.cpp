#include "system_info.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <sstream>

namespace jobrunner::bench {
namespace {

// The value of the first "key : value" line of a /proc file that starts
// with `key`; empty when there is none.
std::string proc_value(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(key)) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

// Durability and memory: fsync and synchronous_commit set the cost of every
// commit; wal_level what each write logs; max_connections caps concurrency.
constexpr std::array kSettings = {"fsync", "synchronous_commit", "shared_buffers", "wal_level",
                                  "max_connections"};

}  // namespace

Machine read_machine() {
  Machine machine;
  machine.nproc = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
  machine.cpu_model = proc_value("/proc/cpuinfo", "model name");
  if (machine.cpu_model.empty()) machine.cpu_model = "unknown";
  std::istringstream mem_total(proc_value("/proc/meminfo", "MemTotal"));  // "24683864 kB"
  std::int64_t kib = 0;
  mem_total >> kib;
  machine.ram_mb = kib / 1024;
  utsname name{};
  if (uname(&name) == 0) machine.kernel = std::string(name.sysname) + " " + name.release;
  return machine;
}

Server read_server(pg::Connection& conn) {
  Server server;
  auto tx = conn.begin();
  server.version = tx.exec("SELECT current_setting('server_version') AS v").at(0).text("v");
  for (const char* name : kSettings) {
    server.settings.emplace_back(
        name, tx.exec("SELECT current_setting($1) AS v", name).at(0).text("v"));
  }
  tx.commit();
  return server;
}

}  // namespace jobrunner::bench
