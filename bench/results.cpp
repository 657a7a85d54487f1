#include "results.hpp"

namespace jobrunner::bench {

std::string drain_label(bool daemon, int concurrency, bool isolated) {
  if (!daemon) return "cron";
  return "daemon c" + std::to_string(concurrency) + (isolated ? " isolated" : " in-process");
}

const DrainRow* Results::drain_row(const std::string& label) const {
  for (const auto& row : drain) {
    if (row.label == label) return &row;
  }
  return nullptr;
}

}  // namespace jobrunner::bench
