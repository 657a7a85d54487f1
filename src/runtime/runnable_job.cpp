#include "jobrunner/runtime/runnable_job.hpp"

#include <stdexcept>

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

void RunnableJob::set_result(nlohmann::json result) {
  if (!result.is_object()) {
    throw std::invalid_argument("a job's result must be a JSON object, not " +
                                std::string(result.type_name()));
  }
  output_.result = std::move(result);
}

void RunnableJob::add_log(std::string_view text) { output_.log.append(text); }

}  // namespace jobrunner
