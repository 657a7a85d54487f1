#pragma once
// What a job type implements (Launchpad's IRunnableJob / BaseRunnableJob).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "jobrunner/core/attempt_output.hpp"
#include "jobrunner/core/job.hpp"
#include "jobrunner/core/job_type_spec.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner {

using SteadyTime = std::chrono::steady_clock::time_point;

// What a running job may ask of its runner. The runtime provides it for
// each attempt; a test of a job type may provide its own.
class AttemptControl {
 public:
  virtual ~AttemptControl() = default;
  // See RunnableJob::deadline() and stop_requested().
  virtual std::optional<SteadyTime> deadline() const = 0;
  virtual bool stop_requested() const = 0;
};

class RunnableJob {
 public:
  explicit RunnableJob(Job job) : job_(std::move(job)) {}
  virtual ~RunnableJob() = default;
  RunnableJob(const RunnableJob&) = delete;
  RunnableJob& operator=(const RunnableJob&) = delete;

  // Does the work. Database work goes through `db`, the statements of the
  // job's transaction: it commits together with the job's COMPLETED status,
  // and is rolled back if run() throws (docs/architecture.md, "One
  // transaction rule"). `db` cannot commit or roll back. Throw RetryError,
  // UserError or SuspendJob for those outcomes; any other exception fails
  // the job with an error report.
  virtual void run(pg::Statements& db) = 0;

  // The variables an error report carries. The default gives job_id and
  // job_type; types add what they are about (e.g. foo_id).
  virtual nlohmann::json oops_vars() const;

  const Job& job() const noexcept { return job_; }

  // Launchpad's getTimeout: by when the attempt should be over (its start
  // plus the runner's --job-timeout), or nullopt when there is no timeout.
  // An isolated job is killed after it (SIGTERM, then SIGKILL after a
  // grace); an in-process job is not, so it should look.
  std::optional<SteadyTime> deadline() const;
  // True once the runner asks the job to end early: the process is
  // stopping (SIGTERM), the deadline has passed, or the attempt's lease is
  // lost. Cooperative: a long job checks it between steps and returns
  // (completing) or throws RetryError (to run again later).
  bool stop_requested() const;

  // Set by the runtime before run(); the control must outlive the call.
  void set_control(const AttemptControl* control) noexcept { control_ = control; }

  // What this attempt gives back besides its outcome, written by the
  // runtime with the attempt's end, whatever the outcome (also when run()
  // throws; core/attempt_output.hpp): a result for job.result, which
  // replaces one given before (std::invalid_argument unless `result` is a
  // JSON object), and text for the attempt's line in job.log, appended as
  // it is to the runtime's "completed on attempt N" (or failure) line:
  // start it with "\n" for lines of its own, as the command, webhook and
  // mail types do.
  void set_result(nlohmann::json result);
  void add_log(std::string_view text);
  const AttemptOutput& output() const noexcept { return output_; }

 private:
  Job job_;
  const AttemptControl* control_ = nullptr;
  AttemptOutput output_;
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
  void run(pg::Statements&) final { perform(); }
};

// A job type as the runtime knows it: the store's spec and a factory.
struct JobType {
  JobTypeSpec spec;
  std::function<std::unique_ptr<RunnableJob>(Job)> make;
};

}  // namespace jobrunner
