// run-foo-jobs: runs the ready FooJobs (see jobs/foo/foo_job.hpp).
#include "foo_job.hpp"
#include "jobrunner/app/runner_main.hpp"

int main(int argc, char** argv) {
  return jobrunner::app::runner_main(argc, argv, jobrunner::foo::foo_job_type());
}
