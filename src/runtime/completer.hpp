#pragma once
// The completer: the one writer of a job's state after its claim. It
// decides what an ended attempt means (decide() is called here and nowhere
// else) and owns the SQL of every such write:
//  - a transactional job's COMPLETED: the statement, which the worker runs
//    in the job's own transaction (the one transaction rule);
//  - everything else a worker reports (batched completions, failures and
//    retries, attempts lost with a connection), written by flush(), many at
//    once, in a transaction of the flushing thread;
//  - give-backs at shutdown, and rescues of expired leases.
// Workers call report() from any thread; the completion flusher's thread
// (completion_flusher.hpp) flushes on a connection of its own, the
// dispatcher when there is none, and for the last reports of a run.

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/common.h>

#include "jobrunner/core/decision.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/runtime/notification_hook.hpp"
#include "jobrunner/runtime/runnable_job.hpp"
#include "jobrunner/runtime/runner.hpp"
#include "jobrunner/runtime/runner_metrics.hpp"

namespace jobrunner {

class LeaseKeeper;

// The type's retry policy with the runner's --retry-delay.
RetryPolicy retry_policy_of(const JobType& type, const RunnerOptions& options);

// How a worker's attempt at a claimed job ended.
struct AttemptEnd {
  enum class Kind {
    committed,  // its work and COMPLETED committed together (complete_in)
    refused,    // complete_in found the lease lost: its work was rolled back
    ran,        // a job with batch completions ended well: COMPLETED to write
    failed,     // `outcome` says how; its work (if any) was rolled back
    abandoned,  // given up because its lease certainly expired: nothing to write
    left,       // an internal error, not the job's: left for a rescue
  };
  Job job;
  Kind kind = Kind::committed;
  Outcome outcome;     // failed
  std::string detail;  // failed: appended to the log line (an isolated job's stderr)
  // What the job gave back (RunnableJob::output()): written with the end by
  // flush() (ran, failed); a committed job's was written by complete_in().
  AttemptOutput output;
  // How long the attempt ran, from its start to its end (for the runner's
  // metrics); none for a job that was not started.
  std::optional<std::chrono::nanoseconds> ran_for;
};

class Completer {
 public:
  // `keeper` (may be null) holds the leases of the jobs until their end is
  // written; `on_report` is called after each report(), also of an end that
  // needed no write (to wake the dispatcher: a worker is free).
  // `metrics` (may be null) counts the ends once written, and the rescues.
  Completer(const JobType& type, RetryPolicy policy, NotificationHook& hook, LeaseKeeper* keeper,
            RunnerMetrics* metrics, std::function<void()> on_report = {});

  // In the job's own transaction, before it commits: COMPLETED with what the
  // attempt gave back (its result, its log text), fenced by the lease. False
  // (nothing written) when the lease was lost; the caller then rolls the
  // transaction back. Const and thread-safe: an isolated child runs it too.
  bool complete_in(pg::Transaction& tx, const Job& job, const AttemptOutput& output = {}) const;

  // From any thread, once the attempt's own transaction (if any) is over.
  void report(AttemptEnd end);
  // The reports not yet flushed: how many, and when the oldest came.
  struct Pending {
    std::size_t count = 0;
    SteadyTime oldest;
  };
  std::optional<Pending> pending() const;
  // When the waiting reports are due for a flush: once kFlushBatch of them
  // wait, or the oldest waited `delay`; nullopt when none waits.
  static constexpr std::size_t kFlushBatch = 500;
  std::optional<SteadyTime> flush_due_at(Duration delay) const;
  // Whether they are due now; `now_anyway`: due as soon as one waits (e.g.
  // no job runs, so no more reports come soon to share the transaction).
  bool flush_due(Duration delay, bool now_anyway) const;

  // What one flush() wrote, until it is settled or unsettled.
  class Batch;

 private:
  // The log line and counts of an end, kept until its write committed.
  struct WrittenLine {
    std::int64_t job_id = 0;
    int attempt = 0;
    spdlog::level::level_enum level = spdlog::level::info;
    std::string line;
    RunStats counts;
    // What a failed attempt recorded (FAILED, WAITING for a retry,
    // SUSPENDED), for the runner's metrics; none for any other end.
    std::optional<JobStatus> recorded;
  };

 public:
  class Batch {
   public:
    bool empty() const { return ends_.empty(); }
    std::size_t size() const { return ends_.size(); }
    // It wrote a failure, whose commit must then wait for the disk (an
    // error report or a user error's notice must not vanish in a crash).
    bool durable() const { return durable_; }

   private:
    friend class Completer;
    using Written = WrittenLine;
    std::vector<AttemptEnd> ends_;
    std::vector<Written> written_;
    bool durable_ = false;
  };
  // The reports waiting plus those in a batch not yet settled: zero when
  // every reported end is written (or needed no write).
  std::size_t unsettled() const;

  // Takes every waiting report into `batch` and writes them into `tx` (a
  // transaction of the flushing thread's own connection). Then exactly one
  // of: settle() once tx committed (logs, counts, lets the leases go), or
  // unsettle() when it did not, also after flush() threw (the reports wait
  // again for the next flush; the keeper keeps extending their leases).
  // Any thread may flush, also two at once (each batch is its own).
  void flush(pg::Transaction& tx, Batch& batch);
  void settle(Batch& batch);
  void unsettle(Batch& batch);

  // Returns `jobs` (claimed, not run, or running past the grace period) to
  // WAITING without counting their attempts, in one transaction on `conn`,
  // and lets their leases go.
  void give_back(pg::Connection& conn, const std::vector<Job>& jobs, const std::string& why);

  // Rescues the type's RUNNING jobs whose lease expired (their runner died):
  // WAITING again, or FAILED with an error report when their attempts are
  // spent; `batch` per transaction on `conn`. Returns how many.
  int rescue_expired(pg::Connection& conn, int batch);

  // Counts of what was written (settled) so far, and of rescues.
  RunStats stats() const;

 private:
  using Written = WrittenLine;
  std::optional<Written> needs_no_write(const AttemptEnd& end) const;
  void write_completions(pg::Transaction& tx, const std::vector<Job>& ran, Batch& batch);
  void write_completion(pg::Transaction& tx, const AttemptEnd& end, Batch& batch);
  static Written completion(const Job& job, bool written);
  void write_failure(pg::Transaction& tx, AttemptEnd& end, Batch& batch);
  bool abandoned(const AttemptEnd& end) const;
  // Logs, counts, and lets the jobs' leases go.
  void settle(const std::vector<Written>& written, const std::vector<std::int64_t>& ids);

  const JobType& type_;
  const pg::JobStore store_;
  const RetryPolicy policy_;
  const JitterSource jitter_;  // random_jitter(): per-thread, so any thread may flush
  NotificationHook& hook_;
  LeaseKeeper* const keeper_;
  RunnerMetrics* const metrics_;
  const std::function<void()> on_report_;

  mutable std::mutex mutex_;  // guards reports_, in_flight_ and stats_
  std::vector<AttemptEnd> reports_;
  SteadyTime oldest_report_;
  std::size_t in_flight_ = 0;  // taken by a flush, not yet settled
  RunStats stats_;
  // The hook is called by one flush at a time (hooks need not be
  // thread-safe).
  std::mutex hook_mutex_;
};

}  // namespace jobrunner
