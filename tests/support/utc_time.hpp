#pragma once
// An instant from its UTC calendar fields, for the tests of the cron core.

#include <chrono>

namespace jobrunner::testing {

inline std::chrono::sys_seconds utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0,
                                    int s = 0) {
  const std::chrono::sys_days day{std::chrono::year{y} / std::chrono::month{mo} /
                                  std::chrono::day{d}};
  return std::chrono::sys_seconds{day} + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(s);
}

}  // namespace jobrunner::testing
