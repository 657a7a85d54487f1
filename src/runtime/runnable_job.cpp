#include "jobrunner/runtime/runnable_job.hpp"

#include "jobrunner/runtime/stop_signal.hpp"

namespace jobrunner {

nlohmann::json RunnableJob::oops_vars() const {
  return {{"job_id", job_.id}, {"job_type", job_.job_type}};
}

std::optional<SteadyTime> RunnableJob::deadline() const {
  return control_ ? control_->deadline() : std::nullopt;
}

bool RunnableJob::stop_requested() const {
  return control_ ? control_->stop_requested() : jobrunner::stop_requested();
}

}  // namespace jobrunner
