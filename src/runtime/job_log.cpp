#include "job_log.hpp"

namespace jobrunner {
namespace {

thread_local const JobLogFields* current = nullptr;

}  // namespace

const JobLogFields* current_job_log_fields() noexcept { return current; }

void log_job(spdlog::level::level_enum level, const JobLogFields& job, std::string_view line) {
  // The logger formats on this thread (a synchronous sink), so the formatter
  // sees the fields while this call lasts. (spdlog reports its own errors
  // instead of throwing.)
  const auto* outer = current;
  current = &job;
  spdlog::log(level, "job {}: {}", job.id, line);
  current = outer;
}

JobLogScope::JobLogScope(const Job& job)
    : fields_{job.id, job.job_type, job.attempt_count}, outer_(current) {
  current = &fields_;
}

JobLogScope::~JobLogScope() { current = outer_; }

}  // namespace jobrunner
