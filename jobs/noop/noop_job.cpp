#include "noop_job.hpp"

namespace jobrunner::noop {

const JobType& noop_job_type() {
  static const JobType type{
      JobTypeSpec{
          .name = "noop",
          .display_name = "NoopJob",
          .table = "noopjob",
          .target_column = "foo",
          .target_table = "foo",
          .type_code = static_cast<int>(NoopJobType::noop),
          .retry = RetryPolicy{.retry_delay = std::chrono::seconds(30)},
          .lease = std::chrono::minutes(5),
          .default_max_retries = 3,
          // Benchmarks enqueue many jobs about one foo.
          .one_pending_per_target = false,
          .batch_completions = true,
      },
      [](Job job) -> std::unique_ptr<RunnableJob> {
        return std::make_unique<NoopJob>(std::move(job));
      },
  };
  return type;
}

}  // namespace jobrunner::noop
