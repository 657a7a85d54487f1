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

inline void log_job(spdlog::level::level_enum level, const Job& job, std::string_view line) {
  log_job(level, JobLogFields{job.id, job.job_type, job.attempt_count}, line);
}

}  // namespace jobrunner
