// run-noop-jobs: runs the ready NoopJobs (see jobs/noop/noop_job.hpp).
#include "jobrunner/app/runner_main.hpp"
#include "noop_job.hpp"

int main(int argc, char** argv) {
  return jobrunner::app::runner_main(argc, argv, jobrunner::noop::noop_job_type());
}
