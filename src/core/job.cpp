#include "jobrunner/core/job.hpp"

#include <ctime>

namespace jobrunner {

std::string format_time(const std::optional<TimePoint>& time) {
  if (!time) return "-";
  const auto since_epoch = time->time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[40];
  const auto n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  char tail[8];
  std::snprintf(tail, sizeof tail, ".%03dZ", static_cast<int>(millis));
  return std::string(buffer, n) + tail;
}

}  // namespace jobrunner
