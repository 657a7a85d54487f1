#include "results.hpp"

namespace jobrunner::bench {

std::string drain_label(bool daemon, int concurrency, bool isolated) {
  return std::string(daemon ? "daemon" : "cron") + " c" + std::to_string(concurrency) +
         (isolated ? " isolated" : " in-process");
}

const SchemaFreeRow* SchemaFreeLimit::row(int connections, int batch) const {
  for (const auto& r : rows) {
    if (r.connections == connections && r.batch == batch) return &r;
  }
  return nullptr;
}

const DrainRow* Results::drain_row(const std::string& label) const {
  for (const auto& row : drain) {
    if (row.label == label) return &row;
  }
  return nullptr;
}

const LatencyPhase* Results::latency_phase(const std::string& phase) const {
  if (!latency) return nullptr;
  for (const auto& p : latency->phases) {
    if (p.phase == phase) return &p;
  }
  return nullptr;
}

}  // namespace jobrunner::bench
