// run-short-lease-jobs: run-foo-jobs with a JobTypeSpec whose lease is below
// the minimum (runtime/runner.hpp: kMinLease), for the test that such a type
// is refused as a configuration error before anything is written.
#include <chrono>

#include "foo/foo_job.hpp"
#include "jobrunner/app/runner_main.hpp"

int main(int argc, char** argv) {
  auto type = jobrunner::foo::foo_job_type();
  type.spec.lease = std::chrono::milliseconds(500);
  return jobrunner::app::runner_main(argc, argv, type);
}
