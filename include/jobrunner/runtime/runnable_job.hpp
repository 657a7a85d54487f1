#pragma once
// What a job type implements (Launchpad's IRunnableJob / BaseRunnableJob).

#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "jobrunner/core/job.hpp"
#include "jobrunner/core/job_type_spec.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner {

class RunnableJob {
 public:
  explicit RunnableJob(Job job) : job_(std::move(job)) {}
  virtual ~RunnableJob() = default;
  RunnableJob(const RunnableJob&) = delete;
  RunnableJob& operator=(const RunnableJob&) = delete;

  // Does the work. Database work goes through `tx`: it commits together with
  // the job's COMPLETED status, and is rolled back if run() throws (see
  // docs/architecture.md, "One transaction rule"). Throw RetryError,
  // UserError or SuspendJob for those outcomes; any other exception fails
  // the job with an error report.
  virtual void run(pg::Transaction& tx) = 0;

  // The variables an error report carries. The default gives job_id and
  // job_type; types add what they are about (e.g. foo_id).
  virtual nlohmann::json oops_vars() const;

  const Job& job() const noexcept { return job_; }

 private:
  Job job_;
};

// A job whose work is outside this database (a mail, a call to another
// service) or nothing at all. It gets no transaction, and its type may set
// JobTypeSpec::batch_completions so that runners record its COMPLETED in
// batches, without a transaction per job.
class NonTransactionalJob : public RunnableJob {
 public:
  using RunnableJob::RunnableJob;
  // Does the work; outcomes are thrown as for run().
  virtual void perform() = 0;
  void run(pg::Transaction&) final { perform(); }
};

// A job type as the runtime knows it: the store's spec and a factory.
struct JobType {
  JobTypeSpec spec;
  std::function<std::unique_ptr<RunnableJob>(Job)> make;
};

}  // namespace jobrunner
