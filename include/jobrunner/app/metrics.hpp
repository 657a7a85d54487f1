#pragma once
// jobrunner's metric families (docs/metrics.md lists each): a runner's own
// counts, as counters for a daemon's /metrics or as gauges of one run for a
// cron run's textfile, and the queue depths read from the database. Each
// family is named here and nowhere else; core/prometheus_text.hpp renders.

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "jobrunner/core/duration.hpp"
#include "jobrunner/core/prometheus_text.hpp"
#include "jobrunner/pg/admin.hpp"
#include "jobrunner/pg/connection.hpp"
#include "jobrunner/runtime/runner_metrics.hpp"

namespace jobrunner::app {

// The default of --metrics-interval: the queue depths are read at most this
// often, however often /metrics is scraped.
inline constexpr Duration kDefaultMetricsInterval = std::chrono::seconds(15);

// A daemon's counts since it started: counters, the histogram of run
// durations, the last pass and the start time (seconds since the epoch).
std::vector<metrics::Family> runner_families(const std::string& job_type,
                                             const RunnerMetricsSnapshot& counts,
                                             double started_unix_seconds);

// What one cron run did, as gauges (a counter would restart with every run):
// for node_exporter's textfile collector.
struct RunFigures {
  double started_unix_seconds = 0;
  double ended_unix_seconds = 0;
  int exit_code = 0;
};
std::vector<metrics::Family> run_families(const std::string& job_type,
                                          const RunnerMetricsSnapshot& counts,
                                          const RunFigures& run);

// The queue depths per type (WAITING, RUNNING, SUSPENDED, ready) and the
// lag, with the time they were read.
std::vector<metrics::Family> queue_families(const std::vector<pg::QueueDepth>& depths,
                                            double read_unix_seconds);

double unix_seconds_now();

// The queue families of a daemon's /metrics, read on a connection of their
// own at most once per `interval`, whatever the scrape rate; between reads,
// and after a failed read (logged), the last figures are served (their
// jobrunner_queue_read_timestamp_seconds says when they were read).
// Thread-safe.
class QueueMetrics {
 public:
  QueueMetrics(std::string conninfo, std::string job_type, Duration interval);
  std::vector<metrics::Family> families();

 private:
  using Clock = std::chrono::steady_clock;
  const std::string conninfo_;
  const std::string job_type_;
  const Duration interval_;
  std::mutex mutex_;
  std::optional<pg::Connection> conn_;
  std::optional<Clock::time_point> next_read_;
  std::vector<pg::QueueDepth> depths_;
  std::optional<double> read_at_;
};

// Writes `text` to `path` atomically: into a temporary file beside it
// (PATH.<pid>.tmp, a name the textfile collector ignores), flushed to disk,
// then renamed over `path`, so a reader sees the old file or the new one,
// never a part. Throws ConfigError naming the path and the reason.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace jobrunner::app
