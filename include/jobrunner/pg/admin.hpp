#pragma once
// The operator's view of the store, type-independent: find and move jobs by
// filter, queue statistics, runner runs, error reports, per-type pauses and
// pruning. jobctl is its main user; runners use the pause check and pruning
// (retention). Each function runs the SQL block of sql/queries/admin.sql
// that carries the name given in its comment.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobrunner/core/duration.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/core/job.hpp"
#include "jobrunner/core/status.hpp"
#include "jobrunner/pg/connection.hpp"
#include "jobrunner/pg/job_store.hpp"

namespace jobrunner::pg {

// ---- Times -----------------------------------------------------------------

// An operator's time: an absolute time that PostgreSQL's timestamptz accepts
// (ISO 8601 such as 2026-12-01T08:00:00Z, or 'today', ...) or, when
// `durations_mean_ago`, a duration meaning that long ago ("7d", "90m").
// Returns it as UTC ISO 8601 text. Throws BadInput naming `option` for
// anything else, and for infinity (time_resolve).
std::string resolve_time(Transaction& tx, const std::string& text, std::string_view option,
                         bool durations_mean_ago = true);

// now() plus `offset` (negative: ago) as UTC ISO 8601 text (time_shift).
std::string time_from_now(Transaction& tx, Duration offset);

// ---- Finding and moving jobs -----------------------------------------------

// Which jobs a command is about. Unset fields match every job; times are
// ISO 8601 text (see resolve_time).
struct JobMatch {
  std::vector<std::int64_t> ids;
  std::optional<std::string> job_type;
  std::vector<JobStatus> statuses;
  std::optional<std::string> requester;
  std::optional<std::string> created_before;
  std::optional<std::string> created_after;
  std::optional<std::string> finished_before;
  std::optional<std::string> finished_after;
  // Only jobs whose id is below this one: keyset paging, newest first (the
  // next page of jobctl web's jobs list starts below the last id shown).
  std::optional<std::int64_t> before_id;

  // True when no criterion is set (it would match every job).
  bool matches_everything() const noexcept;
};

enum class JobOrder {
  newest,    // id descending
  oldest,    // id ascending
  finished,  // most recently finished first, unfinished last
  claim,     // the order runners claim in: priority, then id
};

// At most `limit` jobs that match, in `order` (job_match).
std::vector<Job> find_jobs(Transaction& tx, const JobMatch& match, JobOrder order, int limit);

// A move refused for one job of a bulk move: names the job and both states.
class JobMoveRefused : public InvalidTransition {
 public:
  JobMoveRefused(std::int64_t job_id, JobStatus from, JobStatus to, std::string message)
      : InvalidTransition(from, to), job_id_(job_id), message_(std::move(message)) {}
  std::int64_t job_id() const noexcept { return job_id_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::int64_t job_id_;
  std::string message_;
};

struct JobMove {
  std::int64_t id = 0;
  std::string job_type;
  JobStatus from = JobStatus::waiting;
  JobStatus to = JobStatus::waiting;
};

struct MoveRequest {
  JobStatus to = JobStatus::waiting;
  // The states this command moves jobs out of (each must also be allowed by
  // the transition table), and the command's name for messages ("retry").
  std::vector<JobStatus> from;
  std::string verb;
  std::optional<std::string> reason;
  // Who moves them, for each job's log line ("moved from FAILED to WAITING
  // by alice via jobctl web (retry)"); default "an operator".
  std::optional<std::string> by;
};

// The operator's moves, as jobctl suspend, resume, retry and cancel and the
// dashboard's actions make them: the request of `verb` (reason and by
// unset), or nullopt for another word.
std::optional<MoveRequest> operator_move(std::string_view verb);

// Locks every matching job (in id order) and moves all of them, or none:
// NotFound for an id that does not exist, JobMoveRefused (an
// InvalidTransition) naming the first job whose state the request does not
// move, or that the move would make a second pending job of its type and
// target (the one-pending rule; the message names the pending job). Returns the moves, in id order; empty when nothing matches. Writes
// in the caller's transaction (job_match ... FOR UPDATE, job_move).
std::vector<JobMove> move_jobs(Transaction& tx, const JobMatch& match, const MoveRequest& request);

// ---- What jobctl show adds to a job ----------------------------------------

struct Notification {
  std::int64_t id = 0;
  std::optional<std::string> recipient;
  std::string subject;
  std::string body;
  TimePoint date_created;
};
// The requester notices of a job, oldest first (job_notification_list).
std::vector<Notification> list_notifications(Transaction& tx, std::int64_t job_id);

// ---- Error reports ---------------------------------------------------------

struct ErrorReportMatch {
  std::optional<std::int64_t> job;
  std::optional<std::string> job_type;
  std::optional<std::string> since;  // ISO 8601
  int limit = 50;
};
// Newest first (error_report_find).
std::vector<ErrorReport> find_error_reports(Transaction& tx, const ErrorReportMatch& match);
// One report (error_report_get); nullopt if there is none.
std::optional<ErrorReport> get_error_report(Transaction& tx, std::int64_t id);

// ---- Statistics and runner runs --------------------------------------------

// A runner's lease keeper refreshes its run's runner_run.last_seen at least
// this often (with every heartbeat, and on this interval when it holds no
// lease); a run is alive while it has no end and was seen within
// kRunnerAliveWithin (three refreshes missed: a stalled or dead runner).
inline constexpr Duration kRunnerSeenInterval = std::chrono::seconds(10);
inline constexpr Duration kRunnerAliveWithin = 3 * kRunnerSeenInterval;

struct RunnerRun {
  std::int64_t id = 0;
  std::string job_type;
  std::string hostname;
  int pid = 0;
  TimePoint date_started;
  std::optional<TimePoint> date_finished;  // null: still running, or it died
  std::optional<int> jobs_run;
  std::optional<int> jobs_not_completed;
  std::optional<int> exit_code;
  std::optional<TimePoint> last_seen;  // null: recorded before patch 0015
  bool alive = false;  // no end, and seen within kRunnerAliveWithin
};
// Newest first (runner_run_list).
std::vector<RunnerRun> list_runner_runs(Transaction& tx, const std::optional<std::string>& job_type,
                                        int limit);
// The runs alive now, by type then newest first (runner_run_alive).
std::vector<RunnerRun> list_live_runner_runs(Transaction& tx,
                                             const std::optional<std::string>& job_type);
// Marks the run alive now (runner_run.last_seen; runner_run_seen): the lease
// keeper's heartbeat. A finished run is left alone.
void touch_runner_run(Transaction& tx, std::int64_t run_id);

// Jobs finished in one minute, per type and final status (COMPLETED,
// FAILED or CANCELLED).
struct MinuteCount {
  std::string job_type;
  std::int64_t minute_unix = 0;  // the minute's start, seconds since the epoch
  JobStatus status = JobStatus::completed;
  std::int64_t count = 0;
};
// The counts of the last `minutes` minutes, the current one included; the
// minutes with none are absent (job_throughput, through
// job__date_finished__idx). BadInput for minutes outside 1..1440.
std::vector<MinuteCount> finished_per_minute(Transaction& tx, int minutes);

struct JobTypePause {
  std::string job_type;
  TimePoint paused_at;
  std::string paused_by;
  std::optional<std::string> reason;
};

struct TypeStats {
  std::string job_type;
  // Exact, from the partial indexes: WAITING, RUNNING and SUSPENDED only;
  // statuses with no job are absent.
  std::map<JobStatus, std::int64_t> counts;
  // COMPLETED, FAILED and CANCELLED jobs that finished within the window
  // (QueueStats::finished_since); statuses with none are absent.
  std::map<JobStatus, std::int64_t> finished_in_window;
  std::int64_t ready = 0;                    // WAITING and due now
  std::optional<Duration> oldest_ready_age;  // queue lag; none when nothing is ready
  std::int64_t failed_last_hour = 0;
  std::optional<JobTypePause> pause;
  std::optional<RunnerRun> last_run;
};

struct RunningJob {
  Job job;
  Duration lease_left{};  // negative: expired, awaiting rescue
};

struct QueueStats {
  std::vector<TypeStats> types;     // by name
  std::vector<RunningJob> running;  // lease closest to expiry first
  std::int64_t running_total = 0;   // may exceed running.size()
  Duration finished_window{};       // the window of TypeStats::finished_in_window
  std::string finished_since;       // its start, ISO 8601
  // The planner's estimate of all rows in job, finished or not (none before
  // the table's first ANALYZE); not a count.
  std::optional<std::int64_t> job_rows_estimate;
};

// Every type that has jobs, runs or a pause, plus `known_types` (so a type
// with no jobs yet still shows); one type only when `job_type` is set. Reads
// indexes only, never all of job: unfinished jobs through their partial
// indexes, finished ones within `finished_window` through
// job__date_finished__idx (job_stats_depths, job_stats_finished_since,
// job_stats_rows_estimate, job_stats_ready, job_stats_failed_recently,
// job_running, runner_run_last, job_type_pause_list). Throws BadInput for a
// window that is not positive.
QueueStats queue_stats(Transaction& tx, const std::optional<std::string>& job_type,
                       const std::vector<std::string>& known_types, Duration finished_window,
                       int running_limit = 50);

// ---- Queue depths (metrics) -------------------------------------------------

// A type's unfinished jobs, exactly (the figures of jobctl stats' first
// columns, without the finished ones): what /metrics, a cron run's metrics
// file and jobctl metrics report (docs/metrics.md).
struct QueueDepth {
  std::string job_type;
  std::int64_t waiting = 0;
  std::int64_t running = 0;
  std::int64_t suspended = 0;
  std::int64_t ready = 0;                    // WAITING and due now
  std::optional<Duration> oldest_ready_age;  // queue lag; none when nothing is ready
};

// The depths of `job_type`, or of every type that has unfinished jobs plus
// `known_types` (so a type with none shows zeros), by name. Reads the
// partial indexes of the unfinished statuses only (job_stats_depths,
// job_stats_ready), however many finished jobs the table holds.
std::vector<QueueDepth> queue_depths(Transaction& tx, const std::optional<std::string>& job_type,
                                     const std::vector<std::string>& known_types);

// ---- Pauses ----------------------------------------------------------------

// The pause of a type, if it is paused (job_type_pause_get).
std::optional<JobTypePause> find_pause(Transaction& tx, const std::string& job_type);
std::vector<JobTypePause> list_pauses(Transaction& tx);
// Pauses a type; `by` defaults to the database user. Throws BadInput (naming
// who paused it, when and why) if it is paused already
// (job_type_pause_insert).
JobTypePause pause_job_type(Transaction& tx, const std::string& job_type,
                            const std::optional<std::string>& by,
                            const std::optional<std::string>& reason);
// Throws BadInput if the type is not paused (job_type_pause_delete).
void unpause_job_type(Transaction& tx, const std::string& job_type);

// "paused by alice since 2026-...Z: database maintenance"
std::string describe_pause(const JobTypePause& pause);

// ---- Pruning ---------------------------------------------------------------

struct PruneRequest {
  Duration older_than{};  // date_finished before now() - older_than
  // Only COMPLETED, FAILED and CANCELLED are accepted; empty means all three.
  // Narrows the jobs only: runs have no status.
  std::vector<JobStatus> statuses;
  std::optional<std::string> job_type;  // jobs of this type, runs of its runner
  int batch_size = 1000;
  bool dry_run = false;  // count only
  // Also delete runs that never recorded an end and started before the
  // cutoff. Off by default: a daemon's run has no end until it stops, so
  // such a run may be alive; only an operator can tell.
  bool abandoned_runs = false;
};

struct PruneResult {
  std::map<JobStatus, std::int64_t> by_status;
  std::int64_t total = 0;
  int batches = 0;
  std::string cutoff;  // ISO 8601: jobs finished before this
  // runner_run rows deleted (dry run: that would be), of which unfinished
  // (only with abandoned_runs).
  std::int64_t runs = 0;
  std::int64_t unfinished_runs = 0;
  // Runs without an end that started before the cutoff and were kept
  // (running, or died); 0 with abandoned_runs.
  std::int64_t unfinished_runs_kept = 0;
  // Skipped occurrence records of schedules (job_schedule_occurrence rows
  // without a job) recorded before the cutoff, deleted (dry run: that would
  // be). Records of enqueued jobs go with their jobs. When the connected
  // role may not delete them (a package's runner role without the grant),
  // they are kept and occurrences_not_permitted is set.
  std::int64_t occurrences = 0;
  bool occurrences_not_permitted = false;
};

// Deletes finished jobs (and, by ON DELETE CASCADE, their type rows, error
// reports, notices, frozzles and schedule occurrence records) in batches of batch_size, each in its own
// short transaction, until none is left; never a WAITING, RUNNING or
// SUSPENDED job. Then deletes, the same way, the runner_run rows that ended
// before the cutoff (with abandoned_runs, also those without an end that
// started before it), and the skipped schedule occurrence records of the
// type's schedules recorded before it. Throws BadInput for another status or a batch size
// < 1, having deleted nothing (job_prune_batch, job_prune_count,
// runner_run_prune_batch, runner_run_prune_count,
// schedule_occurrence_prune_batch, schedule_occurrence_prune_count).
PruneResult prune_jobs(Connection& conn, const PruneRequest& request);

}  // namespace jobrunner::pg
