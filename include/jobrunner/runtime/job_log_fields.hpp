#pragma once
// The job that the log line being written on this thread is about: the JSON
// log format (--log-format json) adds its id, type and attempt as fields of
// the line ("job_id", "job_type", "attempt"). Set only while the runtime
// logs a line about a job; the text format is unchanged.

#include <cstdint>
#include <string_view>

namespace jobrunner {

struct JobLogFields {
  std::int64_t id = 0;
  std::string_view type;
  int attempt = 0;  // the attempt under way or just ended (Job::attempt_count)
};

// Null when the line is about no job.
const JobLogFields* current_job_log_fields() noexcept;

}  // namespace jobrunner
