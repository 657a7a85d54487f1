#pragma once
// The shared main of a runner executable (run-foo-jobs, ...):
//
//   int main(int argc, char** argv) {
//     return jobrunner::app::runner_main(argc, argv, jobrunner::foo::foo_job_type());
//   }

#include "jobrunner/runtime/runnable_job.hpp"

namespace jobrunner::app {

int runner_main(int argc, char** argv, const JobType& type);

}  // namespace jobrunner::app
