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
#include "jobrunner/runtime/runner_metrics.hpp"
#include "jobrunner/runtime/stop_signal.hpp"

namespace jobrunner {

struct RunStats {
  int completed = 0;      // "Ran N FooJobs."
  int not_completed = 0;  // "N FooJobs did not complete."
  int rescued = 0;        // expired leases found
  int lease_lost = 0;     // finishes refused because the lease was lost
  int reconnects = 0;     // daemon mode: times the database came back
};

// The cron lock of a type as a run holds it: its token, and the lease it
// was taken with.
struct TypeLockHold {
  std::string token;
  Duration lease;
};

// The longest lease of a cron lock: a run that died keeps the next runs out
// (exit 69) for at most this long after its last extension, however long the
// jobs' --lease.
inline constexpr Duration kMaxTypeLockLease = std::chrono::seconds(30);

// The default of RunnerOptions::prefetch (chosen by measurement:
// docs/performance.md) and its most.
inline constexpr int kDefaultPrefetch = 256;
inline constexpr int kMaxPrefetch = 10000;

// What RunnerOptions::tick_schedules did.
struct ScheduleTickResult {
  std::int64_t enqueued = 0;            // jobs enqueued (the run claims again)
  std::optional<Duration> next_due_in;  // until the next is due; none: no schedule
};

struct RunnerOptions {
  int limit = 0;                          // jobs to run at most; 0 = all ready
  std::optional<Duration> max_runtime;    // stop claiming after this long
  std::optional<Duration> lease;          // default: the type's
  std::optional<Duration> retry_delay;    // default: the type's
  std::string owner;                      // lease_owner, e.g. "host:pid"
  int rescue_batch = 100;
  // The runner's database. When set, the jobs run on worker threads (each
  // with its own connection) or in their children, a LeaseKeeper on its own
  // connection extends the leases of every held job (prefetched or running)
  // every lease/3, so jobs may outlive --lease, and a daemon reconnects with
  // it. Without it the jobs run one at a time on the runner's connection.
  std::optional<std::string> conninfo;
  // How many jobs run at once (threads, each with its own connection; with
  // isolation, as many child processes). More than 1 needs conninfo.
  int concurrency = 1;
  // How many jobs a runner claims ahead of its free workers, into a local
  // queue (needs conninfo; without it jobs are claimed one at a time). The
  // claims and the writes of completions then take many jobs per
  // transaction. The price: a job enqueued later with a more urgent
  // priority waits behind at most this many, and one runner holds up to
  // concurrency + prefetch jobs that other runners cannot take.
  // Prefetched jobs are held by the same heartbeats as running ones, and
  // given back at once when the run stops.
  int prefetch = kDefaultPrefetch;
  // Isolation; each defaults to the type's (JobTypeSpec).
  std::optional<bool> isolate;
  std::optional<Duration> job_timeout;
  std::optional<std::uint64_t> memory_limit;
  // With isolation: how many jobs one child process runs before it is
  // replaced by a fresh one (0: no limit; a child that crashed, timed out or
  // ran out of memory is replaced anyway).
  int max_jobs_per_child = 0;
  // After SIGTERM/SIGINT: how long the running jobs may take to finish before
  // they are given back (WAITING, the attempt not counted) and the process
  // exits 0, after calling before_exit on the runner's connection with the
  // figures so far. (Prefetched jobs are given back at once.)
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
  // Ticks the type's recurring schedules (app::schedule_ticker) on the
  // runner's own connection and thread: once the run has connected (so a
  // cron-mode run enqueues what is due, then runs it), then whenever the
  // last tick said the next occurrence comes due, and at least every
  // poll_interval (a schedule added or resumed meanwhile).
  std::function<ScheduleTickResult(pg::Connection&)> tick_schedules;
  // The type's cron lock that this run took (JobStore::try_lock_type): the
  // lease keeper extends it with the jobs' leases (at least every third of
  // its lease). Once it is lost the run throws DatabaseUnavailable (another
  // run may hold the lock). Needs conninfo.
  std::optional<TypeLockHold> type_lock;
  // The run's runner_run row (app::RunRecord): the lease keeper refreshes
  // its last_seen with every heartbeat, at least every
  // pg::kRunnerSeenInterval even when it holds no lease, so that a
  // long-running daemon shows as alive (jobctl web). Needs conninfo.
  std::optional<std::int64_t> run_id;
};

// The most --concurrency a runner accepts (isolated children are tracked for
// signals in a fixed table of this size).
inline constexpr int kMaxConcurrency = 256;

// The least a runner accepts of each duration; less is refused (a runner's
// command line: exit 64; a JobTypeSpec or RunnerOptions: ConfigError, 78).
// A lease is renewed every third of it: below 1 s a heartbeat's round trip
// and commit would take a noticeable part of it, and 0 leaves a claimed job
// rescuable at once, so two runners could run it.
inline constexpr Duration kMinLease = std::chrono::seconds(1);
// An isolated job killed before it could even connect is no timeout.
inline constexpr Duration kMinJobTimeout = std::chrono::seconds(1);
// A daemon that polls every 0 s spins on the database.
inline constexpr Duration kMinPollInterval = std::chrono::milliseconds(100);

// Throws ConfigError naming the type and the setting when the type's spec
// sets a lease or job timeout below its minimum, or names some but not all
// of its table fields (check_table_fields).
void check_job_type_spec(const JobTypeSpec& spec);
// Throws ConfigError naming the setting when `options` set a lease, job
// timeout or poll interval below its minimum, or a concurrency outside 1 to
// kMaxConcurrency (more than 1 needs conninfo), or a prefetch outside 0 to
// kMaxPrefetch. max_runtime and grace may be
// 0 here: a run that stops claiming at once, a stop that gives back at once.
void check_runner_options(const RunnerOptions& options);

class Runner {
 public:
  // `conn` is the runner's own connection: it claims, rescues and writes
  // the ends of the attempts (and, without conninfo, runs the jobs). A
  // daemon that reconnects replaces it.
  // Throws ConfigError for a spec or options that check_job_type_spec or
  // check_runner_options refuse.
  Runner(pg::Connection& conn, JobType type, RunnerOptions options, NotificationHook& hook);
  ~Runner();

  // Rescues this type's RUNNING jobs whose lease expired: WAITING again, or
  // FAILED with an error report when their attempts are spent.
  int rescue_expired();

  // Cron mode: rescue, then claim and run ready jobs, up to `concurrency` at
  // once and `prefetch` ahead, until none is ready, the limit is reached, max_runtime has passed
  // or a stop was requested (stop_signal.hpp). Throws DatabaseUnavailable.
  RunStats run_once();

  // Daemon mode: like run_once, but when no job is ready it waits for a
  // NOTIFY, the next scheduled job or poll_interval, rescuing expired leases
  // every poll_interval, and it reconnects after losing the database; until a
  // stop is requested, the limit or max_runtime is reached, or housekeeping
  // says stop.
  RunStats run_daemon();

  // The figures of the last run_once() or run_daemon(), also of one that
  // ended with an exception (what it completed before): for the record of
  // the run.
  const RunStats& last_stats() const noexcept { return last_stats_; }

  const JobType& type() const noexcept { return type_; }
  bool isolated() const noexcept;
  // What this runner did so far, over all its runs, as it happens (read from
  // any thread: docs/metrics.md).
  const RunnerMetrics& metrics() const noexcept { return metrics_; }

 private:
  pg::Connection& conn_;
  JobType type_;
  RunnerOptions options_;
  NotificationHook& hook_;
  RunStats last_stats_;
  RunnerMetrics metrics_;
};

}  // namespace jobrunner
