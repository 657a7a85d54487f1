#pragma once
// BarJob: a job about a Bar. PolishBarJob polishes a Bar: in the job's own
// transaction it adds the coats to bar.polish_count and records its work in
// bar_polish, so the work exists exactly when the job is COMPLETED.
// Metadata (barjob.json_data): "coats": N, 1 to 10 (default 1).

#include "jobrunner/runtime/runnable_job.hpp"

namespace bar {

// barjob.job_type values (Launchpad's BarJobType).
enum class BarJobType : int {
  polish_bar = 0,  // Polish Bar: this job polishes a Bar.
};

class PolishBarJob : public jobrunner::RunnableJob {
 public:
  using RunnableJob::RunnableJob;
  void run(jobrunner::pg::Statements& db) override;
  // Adds bar_id and bar_job_type to job_id and job_type.
  nlohmann::json oops_vars() const override;
};

// The type as runners know it: name "bar", table barjob. It must agree with
// the registration in migrations/0001-bar.sql (run-bar-jobs checks).
const jobrunner::JobType& bar_job_type();

}  // namespace bar
