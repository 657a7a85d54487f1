#pragma once
// Runs the ready jobs of one type (Launchpad's JobRunner.runAll).

#include <optional>
#include <string>

#include "jobrunner/core/duration.hpp"
#include "jobrunner/pg/connection.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/runtime/notification_hook.hpp"
#include "jobrunner/runtime/runnable_job.hpp"

namespace jobrunner {

struct RunnerOptions {
  int limit = 0;                          // jobs to run at most; 0 = all ready
  std::optional<Duration> max_runtime;    // stop claiming after this long
  std::optional<Duration> lease;          // default: the type's
  std::optional<Duration> retry_delay;    // default: the type's
  std::string owner;                      // lease_owner, e.g. "host:pid"
  // When set, a second connection (to this conninfo) extends the lease of
  // the running job every lease/3, so jobs may run longer than --lease.
  std::optional<std::string> heartbeat_conninfo;
  int rescue_batch = 100;
};

struct RunStats {
  int completed = 0;      // "Ran N FooJobs."
  int not_completed = 0;  // "N FooJobs did not complete."
  int rescued = 0;        // expired leases found at the start
  int lease_lost = 0;     // finishes refused because the lease was lost
};

class Runner {
 public:
  Runner(pg::Connection& conn, JobType type, RunnerOptions options, NotificationHook& hook);

  // Rescues this type's RUNNING jobs whose lease expired: WAITING again, or
  // FAILED with an error report when their attempts are spent.
  int rescue_expired();

  // Runs one job that this runner has claimed and records its outcome.
  // Returns true when it COMPLETED. Throws DatabaseUnavailable only.
  bool run_claimed(const Job& job, RunStats& stats);

  // Cron mode: rescue, then claim and run ready jobs one at a time until none
  // is ready, the limit is reached or max_runtime has passed.
  RunStats run_once();

  const JobType& type() const noexcept { return type_; }

 private:
  void record_failure(const Job& job, const Outcome& outcome, RunStats& stats);
  RetryPolicy policy() const;

  Duration lease() const;

  pg::Connection& conn_;
  std::optional<pg::Connection> heartbeat_conn_;  // opened on first use
  JobType type_;
  pg::JobStore store_;
  RunnerOptions options_;
  NotificationHook& hook_;
};

}  // namespace jobrunner
