#pragma once
// NoopJob: a job that does nothing and completes. It measures the runner
// itself (jobrunner-bench) and checks an installation end to end; its
// completions are written in batches (JobTypeSpec::batch_completions).
//
// One knob, read from the job's metadata (noopjob.json_data):
//   "report_start": true   write one line to stderr when the job starts,
//                          `noop job <id> started at <unix microseconds>`
//                          (the system clock), so that a benchmark can tell
//                          when the job itself began to run (jobrunner-bench's
//                          latency measure parses it from the runner's stderr)

#include <cstdint>
#include <optional>
#include <string_view>

#include "jobrunner/runtime/runnable_job.hpp"

namespace jobrunner::noop {

// noopjob.job_type values.
enum class NoopJobType { noop = 0 };

class NoopJob : public NonTransactionalJob {
 public:
  using NonTransactionalJob::NonTransactionalJob;
  void perform() override;
};

const JobType& noop_job_type();

// The line a NoopJob with "report_start" writes, and its parse: the job id
// and the instant (microseconds since the Unix epoch). nullopt for any other
// line.
struct StartReport {
  std::int64_t job_id = 0;
  std::int64_t started_us = 0;
};
std::optional<StartReport> parse_start_report(std::string_view line);

}  // namespace jobrunner::noop
