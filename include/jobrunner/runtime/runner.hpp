#pragma once
// Runs the ready jobs of one type (Launchpad's JobRunner.runAll), in this
// process or each in a forked child.

#include <cstdint>
#include <functional>
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
  int rescue_batch = 100;
  // The runner's database. When set, a second connection extends the lease of
  // the running job every lease/3 (so jobs may outlive --lease) and gives it
  // back on a graceful stop; isolated children connect with it too.
  std::optional<std::string> conninfo;
  // Isolation; each defaults to the type's (JobTypeSpec).
  std::optional<bool> isolate;
  std::optional<Duration> job_timeout;
  std::optional<std::uint64_t> memory_limit;
  // After SIGTERM/SIGINT: how long the running job may take to finish before
  // it is given back (WAITING, the attempt not counted) and the runner exits.
  Duration grace = std::chrono::seconds(30);
  // Daemon mode: wait this long when no job is ready, then look again.
  Duration poll_interval = std::chrono::seconds(1);
  // Daemon mode: called on the runner's own connection and thread every
  // poll_interval (e.g. to see whether the type was paused); returning false
  // stops the daemon. On the runner's thread, so no thread exists at fork().
  std::function<bool(pg::Connection&)> housekeeping;
};

struct RunStats {
  int completed = 0;      // "Ran N FooJobs."
  int not_completed = 0;  // "N FooJobs did not complete."
  int rescued = 0;        // expired leases found
  int lease_lost = 0;     // finishes refused because the lease was lost
};

class Runner {
 public:
  Runner(pg::Connection& conn, JobType type, RunnerOptions options, NotificationHook& hook);
  ~Runner();

  // Rescues this type's RUNNING jobs whose lease expired: WAITING again, or
  // FAILED with an error report when their attempts are spent.
  int rescue_expired();

  // Runs one job that this runner has claimed and records its outcome.
  // Returns true when it COMPLETED. Throws DatabaseUnavailable only.
  bool run_claimed(const Job& job, RunStats& stats);

  // Cron mode: rescue, then claim and run ready jobs one at a time until none
  // is ready, the limit is reached, max_runtime has passed or a stop was
  // requested (stop_signal.hpp).
  RunStats run_once();

  // Daemon mode: like run_once, but when no job is ready it waits
  // poll_interval and looks again (rescuing expired leases each time), until
  // a stop is requested or the limit or max_runtime is reached.
  RunStats run_daemon();

  const JobType& type() const noexcept { return type_; }
  bool isolated() const noexcept;

 private:
  struct Attempt;
  RunStats run_loop(bool daemon);
  Attempt attempt_in_process(const Job& job);
  Attempt attempt_in_child(const Job& job);
  void record_failure(const Job& job, const Outcome& outcome, const std::string& detail,
                      RunStats& stats);
  RetryPolicy policy() const;
  Duration lease() const;

  pg::Connection& conn_;
  std::optional<pg::Connection> watch_conn_;  // for the LeaseKeeper, opened on first use
  JobType type_;
  pg::JobStore store_;
  RunnerOptions options_;
  NotificationHook& hook_;
};

}  // namespace jobrunner
