#include "jobrunner/runtime/runnable_job.hpp"

namespace jobrunner {

nlohmann::json RunnableJob::oops_vars() const {
  return {{"job_id", job_.id}, {"job_type", job_.job_type}};
}

}  // namespace jobrunner
