#pragma once
// Every job type this build knows, for jobctl. Add a new type here.

#include <vector>

#include "jobrunner/runtime/runnable_job.hpp"

namespace jobrunner::jobs {

const std::vector<JobType>& all_job_types();

}  // namespace jobrunner::jobs
