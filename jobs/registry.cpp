#include "registry.hpp"

#include "foo/foo_job.hpp"
#include "noop/noop_job.hpp"

namespace jobrunner::jobs {

const std::vector<JobType>& all_job_types() {
  static const std::vector<JobType> types{foo::foo_job_type(), noop::noop_job_type()};
  return types;
}

}  // namespace jobrunner::jobs
