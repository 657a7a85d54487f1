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
#include "jobrunner/runtime/stop_signal.hpp"

namespace jobrunner {

struct RunStats {
  int completed = 0;      // "Ran N FooJobs."
  int not_completed = 0;  // "N FooJobs did not complete."
  int rescued = 0;        // expired leases found
  int lease_lost = 0;     // finishes refused because the lease was lost
  int reconnects = 0;     // daemon mode: times the database came back
};

struct RunnerOptions {
  int limit = 0;                          // jobs to run at most; 0 = all ready
  std::optional<Duration> max_runtime;    // stop claiming after this long
  std::optional<Duration> lease;          // default: the type's
  std::optional<Duration> retry_delay;    // default: the type's
  std::string owner;                      // lease_owner, e.g. "host:pid"
  int rescue_batch = 100;
  // The runner's database. When set, a LeaseKeeper on its own connection
  // extends the leases of the running jobs every lease/3 (so jobs may
  // outlive --lease) and gives them back on a graceful stop; workers and
  // isolated children connect with it, and a daemon reconnects with it.
  std::optional<std::string> conninfo;
  // How many jobs run at once (threads, each with its own connection; with
  // isolation, as many child processes). More than 1 needs conninfo.
  int concurrency = 1;
  // Isolation; each defaults to the type's (JobTypeSpec).
  std::optional<bool> isolate;
  std::optional<Duration> job_timeout;
  std::optional<std::uint64_t> memory_limit;
  // After SIGTERM/SIGINT: how long the running jobs may take to finish before
  // they are given back (WAITING, the attempt not counted) and the process
  // exits 0, after calling before_exit on the keeper's connection with the
  // figures so far.
  Duration grace = std::chrono::seconds(30);
  std::function<void(pg::Connection&, const RunStats&)> before_exit;
  // Daemon mode: the longest wait when no job is ready (new jobs wake the
  // daemon at once by NOTIFY unless listen is false; scheduled jobs when
  // they come due); also how often expired leases are rescued and
  // housekeeping runs.
  Duration poll_interval = std::chrono::seconds(1);
  bool listen = true;
  // false (the default): the claim transaction (claims plus batched
  // completions) commits without waiting for the WAL flush, so a server
  // crash right after it can undo it (docs/crash-safety.md). true: it waits,
  // like every other commit, at the cost of one more flush per claim.
  bool durable_claims = false;
  // Daemon mode: after losing the database, wait reconnect_delay, doubling
  // up to reconnect_max_delay, between attempts to connect again.
  Duration reconnect_delay = std::chrono::seconds(1);
  Duration reconnect_max_delay = std::chrono::seconds(30);
  // Daemon mode: called on the runner's own connection and thread every
  // poll_interval (e.g. to see whether the type was paused); returning false
  // stops the daemon.
  std::function<bool(pg::Connection&)> housekeeping;
};

// The most --concurrency a runner accepts (isolated children are tracked for
// signals in a fixed table).
inline constexpr int kMaxConcurrency = kMaxRunningChildren;

class Runner {
 public:
  // `conn` is the runner's own connection: it claims, rescues and (with
  // concurrency 1) runs the jobs. A daemon that reconnects replaces it.
  Runner(pg::Connection& conn, JobType type, RunnerOptions options, NotificationHook& hook);
  ~Runner();

  // Rescues this type's RUNNING jobs whose lease expired: WAITING again, or
  // FAILED with an error report when their attempts are spent.
  int rescue_expired();

  // Cron mode: rescue, then claim and run ready jobs, up to `concurrency` at
  // once, until none is ready, the limit is reached, max_runtime has passed
  // or a stop was requested (stop_signal.hpp). Throws DatabaseUnavailable.
  RunStats run_once();

  // Daemon mode: like run_once, but when no job is ready it waits for a
  // NOTIFY, the next scheduled job or poll_interval, rescuing expired leases
  // every poll_interval, and it reconnects after losing the database; until a
  // stop is requested, the limit or max_runtime is reached, or housekeeping
  // says stop.
  RunStats run_daemon();

  const JobType& type() const noexcept { return type_; }
  bool isolated() const noexcept;

 private:
  struct Attempt;
  class Loop;
  Attempt attempt_in_process(pg::Connection& conn, const Job& job);
  Attempt attempt_in_child(pg::Connection& conn, const Job& job);
  // Runs a claimed job on `conn` and records how it ended; true when it ran
  // and its COMPLETED awaits a batch (JobTypeSpec::batch_completions).
  bool run_claimed(pg::Connection& conn, const Job& job, RunStats& stats);
  void record_failure(pg::Connection& conn, const Job& job, const Outcome& outcome,
                      const std::string& detail, RunStats& stats);
  RetryPolicy policy() const;
  Duration lease() const;

  pg::Connection& conn_;
  JobType type_;
  pg::JobStore store_;
  RunnerOptions options_;
  NotificationHook& hook_;
};

}  // namespace jobrunner
