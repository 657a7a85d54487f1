#pragma once
// The PostgreSQL store of one job type: every read and write of the job
// table and the type's own table, if it has one (JobTypeSpec::has_table();
// a type without one keeps each job's metadata in job.json_data). Methods are named after the SQL blocks
// they run (sql/queries/job.sql). All take the caller's transaction, so an
// application enqueues inside its own transaction and a job's work commits
// with its status.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobrunner/core/attempt_output.hpp"
#include "jobrunner/core/decision.hpp"
#include "jobrunner/core/job.hpp"
#include "jobrunner/core/job_type_spec.hpp"
#include "jobrunner/core/outcome.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner::pg {

struct EnqueueRequest {
  // What the job is about (the foo's id): required for a type with a table
  // of its own, refused (BadInput) for a type without one.
  std::optional<std::int64_t> target_id;
  nlohmann::json metadata = nlohmann::json::object();  // an object; null means {}
  // Parsed by PostgreSQL as timestamptz (ISO 8601, or 'now', ...).
  std::optional<std::string> scheduled_start;
  std::optional<int> max_retries;  // default: the type's
  int priority = 0;
  std::optional<std::string> requester;
  std::optional<std::string> reason;
};

// The bounded size of job.log, in characters.
inline constexpr int kJobLogLimit = 8000;

class JobStore {
 public:
  // ConfigError when the spec's table fields disagree (check_table_fields)
  // or name something that is not a plain SQL identifier.
  explicit JobStore(JobTypeSpec spec);
  const JobTypeSpec& spec() const noexcept { return spec_; }

  // Inserts the job and its type row with jobrunner_enqueue() (SQL, which
  // applies every rule: docs/enqueue-from-sql.md); returns the job id. The
  // type's registry row gives the default max_retries. Throws BadInput
  // (metadata not an object, unknown target, bad scheduled_start,
  // negative max_retries, priority out of range), DuplicateJob (a pending
  // job of this type already exists for the target; for a type without a
  // table and with the one-pending rule, a pending job of the type) or
  // ConfigError (the type is not registered), and writes nothing then. A
  // target is required for a type with a table, refused without one
  // (BadInput).
  [[nodiscard]] std::int64_t enqueue(Transaction& tx, const EnqueueRequest& request) const;

  // Bulk enqueue with jobrunner_enqueue_many(): one statement, no lock per
  // target; returns the ids in the order of `requests`. All or nothing: the
  // same errors as enqueue(), prefixed with the name of the first offending
  // request (`name_of(index)`, by default "job <index + 1> of <n>"; a
  // duplicate within the batch names the earlier request too), and nothing
  // written then. Daemons get one notification for the whole batch.
  [[nodiscard]] std::vector<std::int64_t> enqueue_many(
      Transaction& tx, const std::vector<EnqueueRequest>& requests,
      const std::function<std::string(std::size_t)>& name_of = {}) const;

  // The job of this type with that id; NotFound if there is none or it is of
  // another type.
  [[nodiscard]] Job get(Transaction& tx, std::int64_t id) const;

  // Ready jobs in claim order, not locked (Launchpad's iterReady).
  [[nodiscard]] std::vector<Job> ready(Transaction& tx, int limit) const;

  // Atomically claims up to `limit` ready jobs (job_claim): RUNNING, attempt
  // + 1, a fresh lease token, lease_expires = now + lease. With their type
  // rows (job_claim_with_type_row), or for a type without a table, alone.
  [[nodiscard]] std::vector<Job> claim(Transaction& tx, int limit, Duration lease,
                                       const std::string& owner) const;

  // Extends the lease; false when the lease was lost.
  [[nodiscard]] bool heartbeat(Transaction& tx, const Job& job, Duration lease) const;
  // Extends the leases of all `jobs` in one statement; returns the ids whose
  // lease is still held (the others were lost).
  [[nodiscard]] std::vector<std::int64_t> heartbeat_many(Transaction& tx,
                                                         const std::vector<Job>& jobs,
                                                         Duration lease) const;

  // RUNNING jobs of this type whose lease expired, locked for rescue.
  [[nodiscard]] std::vector<Job> lock_expired(Transaction& tx, int limit) const;

  // Writes a decision about a RUNNING job that `job.lease_token` still holds;
  // false (and nothing written) when the lease was lost. Appends
  // "attempt N: <decision.log_line><output.log>" to the job's log unless the
  // decision is COMPLETED and output.log is empty: a plain success writes no
  // log line. Sets job.result to output.result (NULL for none). Text that is
  // not valid UTF-8 (a program's output) is written with U+FFFD in place of
  // each bad byte, and NUL as U+FFFD too.
  [[nodiscard]] bool finish(Transaction& tx, const Job& job, const Decision& decision,
                            const AttemptOutput& output = {}) const;

  // Records COMPLETED for many jobs in one statement (batch completions),
  // without a log line. Returns the ids completed; a job missing there had
  // lost its lease, and nothing was written for it.
  [[nodiscard]] std::vector<std::int64_t> complete_many(Transaction& tx,
                                                        const std::vector<Job>& jobs) const;

  // How long until the next scheduled WAITING job of this type comes due;
  // nullopt when none is scheduled.
  [[nodiscard]] std::optional<Duration> next_due(Transaction& tx) const;

  // Returns RUNNING jobs this runner holds to WAITING without counting their
  // attempts (graceful shutdown), in one statement, logging "attempt N given
  // back: <why>"; returns the ids given back (a job missing there had lost
  // its lease).
  [[nodiscard]] std::vector<std::int64_t> give_back(Transaction& tx, const std::vector<Job>& jobs,
                                                    const std::string& why) const;
  // The same for one job; false when its lease was already lost.
  [[nodiscard]] bool give_back(Transaction& tx, const Job& job, const std::string& why) const;

  // Adds a line to the job's log (e.g. the tail of an isolated job's stderr;
  // made valid UTF-8 as finish() does).
  void append_log(Transaction& tx, const Job& job, const std::string& line) const;

  // Files an error report (an OOPS) with the job's variables; returns its id.
  [[nodiscard]] std::int64_t file_error_report(Transaction& tx, const Job& job,
                                               const Outcome& outcome,
                                               const nlohmann::json& variables) const;

  // The cron lock of this type (table runner_lock): one holder at a time,
  // for `lease` unless extended. A lock whose lease expired (its run died
  // or lost the database) is taken over. A leased row rather than an
  // advisory lock, so that it holds through a connection pooler.
  struct TypeLockAttempt {
    std::optional<std::string> token;            // set when the lock was taken
    std::optional<std::string> previous_holder;  // the holder found, if any
    std::optional<TimePoint> previous_expires;
    bool taken_over = false;  // taken from a holder whose lease had expired
  };
  [[nodiscard]] TypeLockAttempt try_lock_type(Transaction& tx, const std::string& holder,
                                              Duration lease) const;
  // False when the lock was taken over (or released) meanwhile.
  [[nodiscard]] bool extend_type_lock(Transaction& tx, const std::string& token,
                                      Duration lease) const;
  void release_type_lock(Transaction& tx, const std::string& token) const;

 private:
  std::vector<Job> load(Transaction& tx, Rows rows) const;

  JobTypeSpec spec_;
  // The blocks of sql/queries/job.sql that name the type's tables, for this
  // type (type_query), each named after its block; empty for a type without
  // a table, whose claim is job_claim.
  std::string type_row_load_sql_;
  std::string job_claim_with_type_row_sql_;
};

// ---- Type-independent operations -------------------------------------------

// Reads a job row as it is (without its type row); nullopt if there is none.
[[nodiscard]] std::optional<Job> find_job(Transaction& tx, std::int64_t id);

// An error report (an OOPS), as find_error_reports() in admin.hpp lists them.
struct ErrorReport {
  std::int64_t id = 0;
  std::optional<std::int64_t> job;
  TimePoint date_created;
  std::string error_type;
  std::string message;
  nlohmann::json variables;
};

// Records a notice for the requester of a job (job_notification).
std::int64_t record_notification(Statements& db, const Job& job, const std::string& subject,
                                 const std::string& body);

// The runner_run row of one run of a runner.
[[nodiscard]] std::int64_t start_runner_run(Transaction& tx, const std::string& job_type,
                                            const std::string& hostname, int pid);
void finish_runner_run(Transaction& tx, std::int64_t run_id, int jobs_run,
                       int jobs_not_completed, int exit_code);

}  // namespace jobrunner::pg
