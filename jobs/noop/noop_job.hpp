#pragma once
// NoopJob: a job that does nothing and completes. It measures the runner
// itself (jobrunner-bench) and checks an installation end to end; its
// completions are written in batches (JobTypeSpec::batch_completions).

#include "jobrunner/runtime/runnable_job.hpp"

namespace jobrunner::noop {

// noopjob.job_type values.
enum class NoopJobType { noop = 0 };

class NoopJob : public NonTransactionalJob {
 public:
  using NonTransactionalJob::NonTransactionalJob;
  void perform() override {}
};

const JobType& noop_job_type();

}  // namespace jobrunner::noop
