#pragma once
// Lines about a job: "job <id>: <line>", with the job's id, type and attempt
// as fields of the line in the JSON log format (job_log_fields.hpp). Every
// line of the runtime about one job goes through here.

#include <string_view>

#include <spdlog/spdlog.h>

#include "jobrunner/core/job.hpp"
#include "jobrunner/runtime/job_log_fields.hpp"

namespace jobrunner {

void log_job(spdlog::level::level_enum level, const JobLogFields& job, std::string_view line);

// While it lives, every line logged on this thread is about `job` (a worker
// holds one around an attempt, so a job's own log lines carry its fields).
class JobLogScope {
 public:
  explicit JobLogScope(const Job& job);
  ~JobLogScope();
  JobLogScope(const JobLogScope&) = delete;
  JobLogScope& operator=(const JobLogScope&) = delete;

 private:
  JobLogFields fields_;
  const JobLogFields* outer_;
};

inline void log_job(spdlog::level::level_enum level, const Job& job, std::string_view line) {
  log_job(level, JobLogFields{job.id, job.job_type, job.attempt_count}, line);
}

}  // namespace jobrunner
