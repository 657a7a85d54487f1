#include "jobrunner/pg/admin.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "job_row.hpp"
#include "queries.hpp"
#include "sqlstate.hpp"

namespace jobrunner::pg {
namespace {

template <typename T, typename F>
std::optional<std::string> array_literal(const std::vector<T>& values, F to_text) {
  if (values.empty()) return std::nullopt;
  std::string out = "{";
  for (const auto& value : values) {
    if (out.size() > 1) out += ',';
    out += to_text(value);
  }
  return out + "}";
}

std::optional<std::string> id_array(const std::vector<std::int64_t>& ids) {
  return array_literal(ids, [](std::int64_t id) { return std::to_string(id); });
}

std::optional<std::string> status_array(const std::vector<JobStatus>& statuses) {
  return array_literal(statuses,
                       [](JobStatus s) { return std::to_string(static_cast<int>(s)); });
}

std::string status_list(const std::vector<JobStatus>& statuses, std::string_view last_joiner) {
  std::string out;
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    if (i > 0) out += i + 1 == statuses.size() ? std::string(last_joiner) : std::string(", ");
    out += to_string(statuses[i]);
  }
  return out;
}

Rows exec_match(Transaction& tx, const JobMatch& m, std::string_view tail,
                std::optional<int> limit) {
  std::string sql = query("job_match");
  sql += tail;
  Params params{id_array(m.ids),         to_param(m.job_type),        status_array(m.statuses),
                to_param(m.requester),   to_param(m.created_before),  to_param(m.created_after),
                to_param(m.finished_before), to_param(m.finished_after), to_param(m.before_id)};
  if (limit) params.push_back(std::to_string(*limit));
  return tx.exec_params(sql, params);
}

std::string_view order_by(JobOrder order) {
  switch (order) {
    case JobOrder::newest: return "ORDER BY j.id DESC";
    case JobOrder::oldest: return "ORDER BY j.id";
    case JobOrder::finished: return "ORDER BY j.date_finished DESC NULLS LAST, j.id DESC";
    case JobOrder::claim: return "ORDER BY j.priority, j.id";
  }
  return "ORDER BY j.id DESC";
}

RunnerRun runner_run_from_row(const Row& row) {
  RunnerRun r;
  r.id = row.integer("id");
  r.job_type = row.text("job_type");
  r.hostname = row.text("hostname");
  r.pid = static_cast<int>(row.integer("pid"));
  r.date_started = *row.opt_time_us("date_started_us");
  r.date_finished = row.opt_time_us("date_finished_us");
  r.jobs_run = opt_int32(row, "jobs_run");
  r.jobs_not_completed = opt_int32(row, "jobs_not_completed");
  r.exit_code = opt_int32(row, "exit_code");
  r.last_seen = row.opt_time_us("last_seen_us");
  r.alive = row.boolean("alive");
  return r;
}

JobTypePause pause_from_row(const Row& row) {
  return JobTypePause{row.text("job_type"), *row.opt_time_us("paused_at_us"),
                      row.text("paused_by"), row.opt_text("reason")};
}

}  // namespace

// ---- Times -----------------------------------------------------------------

std::string resolve_time(Transaction& tx, const std::string& text, std::string_view option,
                         bool durations_mean_ago) {
  const std::string hint =
      durations_mean_ago ? " (examples: 2026-12-01T08:00:00Z, '2026-12-01 08:00+02', or a "
                           "duration meaning that long ago: 90m, 7d)"
                         : " (examples: 2026-12-01T08:00:00Z, '2026-12-01 08:00+02')";
  if (text.empty()) throw BadInput(std::string(option) + ": an empty time" + hint);
  // A duration ("7d") means that long ago.
  if (durations_mean_ago && std::isdigit(static_cast<unsigned char>(text.front())) != 0 &&
      text.find_first_of("-:/ T.") == std::string::npos) {
    Duration ago{};
    try {
      ago = parse_duration(text);
    } catch (const BadInput&) {
      throw BadInput(std::string(option) + ": invalid time or duration '" + text + "'" + hint);
    }
    return time_from_now(tx, -ago);
  }
  try {
    auto rows = tx.exec(query("time_resolve"), text);
    const auto value = rows.front().opt_text("t");
    if (!value) throw BadInput(std::string(option) + ": '" + text + "' is not a finite time" + hint);
    return *value;
  } catch (const SqlError& e) {
    if (sqlstate::is_bad_time_input(e.sqlstate())) {
      throw BadInput(std::string(option) + ": invalid time '" + text + "'" + hint);
    }
    throw;
  }
}

std::string time_from_now(Transaction& tx, Duration offset) {
  return tx.exec(query("time_shift"), static_cast<std::int64_t>(offset.count())).front().text("t");
}

// ---- Finding and moving jobs -----------------------------------------------

bool JobMatch::matches_everything() const noexcept {
  return ids.empty() && !job_type && statuses.empty() && !requester && !created_before &&
         !created_after && !finished_before && !finished_after && !before_id;
}

std::vector<Job> find_jobs(Transaction& tx, const JobMatch& match, JobOrder order, int limit) {
  const std::string tail = std::string(order_by(order)) + "\nLIMIT $10";
  std::vector<Job> jobs;
  for (const auto& row : exec_match(tx, match, tail, limit)) jobs.push_back(job_from_row(row));
  return jobs;
}

namespace {

bool is_pending(JobStatus status) {
  return status == JobStatus::waiting || status == JobStatus::running ||
         status == JobStatus::suspended;
}

// The one-pending rule (job__one_pending__idx): a move must not make a job
// pending beside another pending job of its type and target.
void refuse_second_pending(Transaction& tx, const std::vector<JobMove>& moves,
                           const MoveRequest& request) {
  std::vector<std::int64_t> ids;
  ids.reserve(moves.size());
  for (const auto& m : moves) ids.push_back(m.id);
  const auto rows = tx.exec(query("job_move_pending_conflict"), to_array_param(ids));
  if (rows.empty()) return;
  const auto& row = rows.front();
  const auto from = status_from_code(static_cast<int>(row.integer("status")));
  std::string what = "a " + row.text("display_name");
  if (!row.is_null("target_table")) {
    what += " for " + row.text("target_table") + " " + row.text("pending_key");
  }
  auto message = "job " + row.text("id") + " is " + std::string(to_string(*from)) + ": " +
                 request.verb + " refused, " + what +
                 (row.boolean("pending_now") ? " is already pending (job " + row.text("pending") + ")"
                                             : " would be pending twice (job " + row.text("pending") +
                                                   " is moved too)");
  if (moves.size() > 1) message += "; no job was changed";
  throw JobMoveRefused(row.integer("id"), *from, request.to, message);
}

}  // namespace

std::optional<MoveRequest> operator_move(std::string_view verb) {
  using enum JobStatus;
  const std::string name(verb);
  if (verb == "suspend") return MoveRequest{suspended, {waiting, running}, name, {}, {}};
  if (verb == "resume") return MoveRequest{waiting, {suspended}, name, {}, {}};
  if (verb == "retry") return MoveRequest{waiting, {failed, completed, cancelled}, name, {}, {}};
  if (verb == "cancel") return MoveRequest{cancelled, {waiting, suspended}, name, {}, {}};
  return std::nullopt;
}

std::vector<JobMove> move_jobs(Transaction& tx, const JobMatch& match, const MoveRequest& request) {
  std::vector<Job> jobs;
  for (const auto& row : exec_match(tx, match, "ORDER BY j.id\nFOR UPDATE OF j", std::nullopt)) {
    jobs.push_back(job_from_row(row));
  }
  if (!match.ids.empty()) {
    std::set<std::int64_t> found;
    for (const auto& job : jobs) found.insert(job.id);
    for (const auto id : match.ids) {
      if (!found.contains(id)) throw NotFound("no job with id " + std::to_string(id));
    }
  }
  const auto to_name = std::string(to_string(request.to));
  nlohmann::json lines = nlohmann::json::array();
  std::vector<JobMove> moves;
  for (const auto& job : jobs) {
    const bool listed = std::find(request.from.begin(), request.from.end(), job.status) !=
                        request.from.end();
    if (!listed || !can_transition(job.status, request.to)) {
      const auto from_name = std::string(to_string(job.status));
      std::string message = "job " + std::to_string(job.id) + " is " + from_name + ": ";
      if (can_transition(job.status, request.to)) {
        message += request.verb + " moves only " + status_list(request.from, " or ") +
                   " jobs to " + to_name + ", not " + from_name + " ones";
      } else {
        message += "a job cannot go from " + from_name + " to " + to_name;
      }
      if (jobs.size() > 1) message += "; no job was changed";
      throw JobMoveRefused(job.id, job.status, request.to, message);
    }
    std::string line = "moved from " + std::string(to_string(job.status)) + " to " + to_name +
                       " by " + request.by.value_or("an operator") + " (" + request.verb + ")";
    if (request.reason) line += ": " + *request.reason;
    lines.push_back({{"id", job.id}, {"line", line}});
    moves.push_back(JobMove{job.id, job.job_type, job.status, request.to});
  }
  if (moves.empty()) return moves;
  if (is_pending(request.to)) refuse_second_pending(tx, moves, request);
  try {
    tx.exec(query("job_move"), lines, static_cast<int>(request.to), request.reason, kJobLogLimit);
  } catch (const SqlError& e) {
    // A job of the same type and target enqueued since the check above.
    if (e.sqlstate() != sqlstate::unique_violation) throw;
    throw DuplicateJob(request.verb + " refused: a job of the same type and target became "
                       "pending meanwhile (" + e.what() + "); no job was changed");
  }
  return moves;
}

// ---- Notifications and error reports ---------------------------------------

std::vector<Notification> list_notifications(Transaction& tx, std::int64_t job_id) {
  std::vector<Notification> out;
  for (const auto& row : tx.exec(query("job_notification_list"), job_id)) {
    out.push_back(Notification{row.integer("id"), row.opt_text("recipient"), row.text("subject"),
                               row.text("body"), *row.opt_time_us("date_created_us")});
  }
  return out;
}

std::vector<ErrorReport> find_error_reports(Transaction& tx, const ErrorReportMatch& match) {
  std::vector<ErrorReport> out;
  for (const auto& row :
       tx.exec(query("error_report_find"), match.job, match.job_type, match.since, match.limit)) {
    out.push_back(error_report_from_row(row));
  }
  return out;
}

std::optional<ErrorReport> get_error_report(Transaction& tx, std::int64_t id) {
  auto rows = tx.exec(query("error_report_get"), id);
  if (rows.empty()) return std::nullopt;
  return error_report_from_row(rows.front());
}

// ---- Statistics and runner runs --------------------------------------------

std::vector<RunnerRun> list_runner_runs(Transaction& tx, const std::optional<std::string>& job_type,
                                        int limit) {
  std::vector<RunnerRun> out;
  for (const auto& row : tx.exec(query("runner_run_list"), job_type, limit,
                                 static_cast<std::int64_t>(kRunnerAliveWithin.count()))) {
    out.push_back(runner_run_from_row(row));
  }
  return out;
}

std::vector<RunnerRun> list_live_runner_runs(Transaction& tx,
                                             const std::optional<std::string>& job_type) {
  std::vector<RunnerRun> out;
  for (const auto& row : tx.exec(query("runner_run_alive"), job_type,
                                 static_cast<std::int64_t>(kRunnerAliveWithin.count()))) {
    out.push_back(runner_run_from_row(row));
  }
  return out;
}

void touch_runner_run(Transaction& tx, std::int64_t run_id) {
  tx.exec(query("runner_run_seen"), run_id);
}

std::vector<MinuteCount> finished_per_minute(Transaction& tx, int minutes) {
  if (minutes < 1 || minutes > 24 * 60) {
    throw BadInput("a throughput window of " + std::to_string(minutes) +
                   " minutes: give 1 to 1440");
  }
  std::vector<MinuteCount> out;
  for (const auto& row : tx.exec(query("job_throughput"), minutes)) {
    const auto status = status_from_code(static_cast<int>(row.integer("status")));
    if (!status) continue;
    out.push_back(MinuteCount{row.text("job_type"), row.integer("minute_unix"), *status,
                              row.integer("n")});
  }
  return out;
}

namespace {

// Figures per type, by name: `job_type` alone, or every type a query finds
// plus `known_types` (so a type with nothing to count still shows).
template <typename Figures>
class ByType {
 public:
  ByType(const std::optional<std::string>& job_type, const std::vector<std::string>& known_types) {
    if (job_type) {
      entry(*job_type);
    } else {
      for (const auto& name : known_types) entry(name);
    }
  }
  Figures& entry(const std::string& name) {
    auto& figures = types_[name];
    figures.job_type = name;
    return figures;
  }
  std::vector<Figures> take() {
    std::vector<Figures> out;
    out.reserve(types_.size());
    for (auto& [name, figures] : types_) out.push_back(std::move(figures));
    return out;
  }

 private:
  std::map<std::string, Figures> types_;
};

}  // namespace

std::vector<QueueDepth> queue_depths(Transaction& tx, const std::optional<std::string>& job_type,
                                     const std::vector<std::string>& known_types) {
  ByType<QueueDepth> types(job_type, known_types);
  const auto entry = [&](const std::string& name) -> QueueDepth& { return types.entry(name); };
  for (const auto& row : tx.exec(query("job_stats_depths"), job_type)) {
    auto& depth = entry(row.text("job_type"));
    const auto n = row.integer("n");
    switch (status_from_code(static_cast<int>(row.integer("status"))).value_or(JobStatus::completed)) {
      case JobStatus::waiting:
        depth.waiting = n;
        break;
      case JobStatus::running:
        depth.running = n;
        break;
      case JobStatus::suspended:
        depth.suspended = n;
        break;
      default:
        break;
    }
  }
  for (const auto& row : tx.exec(query("job_stats_ready"), job_type)) {
    auto& depth = entry(row.text("job_type"));
    depth.ready = row.integer("ready");
    if (auto ms = row.opt_int("oldest_ready_ms")) {
      depth.oldest_ready_age = Duration(std::max<std::int64_t>(*ms, 0));
    }
  }
  return types.take();
}

QueueStats queue_stats(Transaction& tx, const std::optional<std::string>& job_type,
                       const std::vector<std::string>& known_types, Duration finished_window,
                       int running_limit) {
  if (finished_window <= Duration::zero()) {
    throw BadInput("the window of finished jobs must be longer than 0, not " +
                   format_duration(finished_window));
  }
  QueueStats out;
  out.finished_window = finished_window;
  out.finished_since = time_from_now(tx, -finished_window);
  ByType<TypeStats> types(job_type, known_types);
  const auto entry = [&](const std::string& name) -> TypeStats& { return types.entry(name); };
  for (const auto& depth : queue_depths(tx, job_type, {})) {
    auto& stats = entry(depth.job_type);
    if (depth.waiting > 0) stats.counts[JobStatus::waiting] = depth.waiting;
    if (depth.running > 0) stats.counts[JobStatus::running] = depth.running;
    if (depth.suspended > 0) stats.counts[JobStatus::suspended] = depth.suspended;
    stats.ready = depth.ready;
    stats.oldest_ready_age = depth.oldest_ready_age;
  }
  for (const auto& row : tx.exec(query("job_stats_finished_since"), job_type, out.finished_since)) {
    const auto status = status_from_code(static_cast<int>(row.integer("status")));
    if (status) entry(row.text("job_type")).finished_in_window[*status] = row.integer("n");
  }
  out.job_rows_estimate = tx.exec(query("job_stats_rows_estimate")).front().opt_int("n");
  const std::int64_t hour_ms = 60LL * 60 * 1000;
  for (const auto& row : tx.exec(query("job_stats_failed_recently"), job_type, hour_ms)) {
    entry(row.text("job_type")).failed_last_hour = row.integer("n");
  }
  for (const auto& row : tx.exec(query("runner_run_last"), job_type,
                                 static_cast<std::int64_t>(kRunnerAliveWithin.count()))) {
    auto run = runner_run_from_row(row);
    entry(run.job_type).last_run = std::move(run);
  }
  for (const auto& row : tx.exec(query("job_type_pause_list"))) {
    auto pause = pause_from_row(row);
    if (job_type && pause.job_type != *job_type) continue;
    entry(pause.job_type).pause = std::move(pause);
  }
  out.types = types.take();
  for (const auto& row : tx.exec(query("job_running"), job_type, running_limit)) {
    out.running.push_back(RunningJob{job_from_row(row), Duration(row.opt_int("lease_left_ms").value_or(0))});
  }
  for (const auto& stats : out.types) {
    if (auto it = stats.counts.find(JobStatus::running); it != stats.counts.end()) {
      out.running_total += it->second;
    }
  }
  return out;
}

// ---- Pauses ----------------------------------------------------------------

std::optional<JobTypePause> find_pause(Transaction& tx, const std::string& job_type) {
  auto rows = tx.exec(query("job_type_pause_get"), job_type);
  if (rows.empty()) return std::nullopt;
  return pause_from_row(rows.front());
}

std::vector<JobTypePause> list_pauses(Transaction& tx) {
  std::vector<JobTypePause> out;
  for (const auto& row : tx.exec(query("job_type_pause_list"))) out.push_back(pause_from_row(row));
  return out;
}

JobTypePause pause_job_type(Transaction& tx, const std::string& job_type,
                            const std::optional<std::string>& by,
                            const std::optional<std::string>& reason) {
  auto rows = tx.exec(query("job_type_pause_insert"), job_type, by, reason);
  if (rows.empty()) {
    const auto existing = find_pause(tx, job_type);
    throw BadInput("job type '" + job_type + "' is already " +
                   (existing ? describe_pause(*existing) : std::string("paused")) +
                   "; nothing was changed");
  }
  return pause_from_row(rows.front());
}

void unpause_job_type(Transaction& tx, const std::string& job_type) {
  if (tx.exec(query("job_type_pause_delete"), job_type).empty()) {
    throw BadInput("job type '" + job_type + "' is not paused");
  }
}

std::string describe_pause(const JobTypePause& pause) {
  std::string out = "paused by " + pause.paused_by + " since " + format_time(pause.paused_at);
  if (pause.reason && !pause.reason->empty()) out += ": " + *pause.reason;
  return out;
}

// ---- Pruning ---------------------------------------------------------------

PruneResult prune_jobs(Connection& conn, const PruneRequest& request) {
  std::vector<JobStatus> statuses = request.statuses;
  if (statuses.empty()) statuses = {JobStatus::completed, JobStatus::failed, JobStatus::cancelled};
  for (const auto status : statuses) {
    if (!is_finished(status)) {
      throw BadInput("prune deletes only finished jobs (COMPLETED, FAILED, CANCELLED), never " +
                     std::string(to_string(status)) + " ones");
    }
  }
  if (request.batch_size < 1) {
    throw BadInput("the batch size must be 1 or more, not " + std::to_string(request.batch_size));
  }
  if (request.older_than < Duration::zero()) throw BadInput("the age must not be negative");
  PruneResult result;
  const auto statuses_param = status_array(statuses);
  {
    auto tx = conn.begin();
    // Fixed once, so the batches end even while jobs keep finishing.
    result.cutoff = time_from_now(tx, -request.older_than);
    if (request.dry_run) {
      for (const auto& row : tx.exec(query("job_prune_count"), result.cutoff, statuses_param,
                                     request.job_type)) {
        const auto status = status_from_code(static_cast<int>(row.integer("status")));
        if (status) result.by_status[*status] += row.integer("n");
        result.total += row.integer("n");
      }
      const auto runs = tx.exec(query("runner_run_prune_count"), result.cutoff, request.job_type)
                            .front();
      const auto unfinished = runs.integer("unfinished");
      result.runs = runs.integer("finished") + (request.abandoned_runs ? unfinished : 0);
      result.unfinished_runs = request.abandoned_runs ? unfinished : 0;
      result.unfinished_runs_kept = request.abandoned_runs ? 0 : unfinished;
      result.occurrences = tx.exec(query("schedule_occurrence_prune_count"), result.cutoff,
                                   request.job_type)
                               .front()
                               .integer("n");
      tx.commit();
      return result;
    }
    tx.commit();
  }
  for (;;) {
    auto tx = conn.begin();
    const auto rows = tx.exec(query("job_prune_batch"), result.cutoff, statuses_param,
                              request.job_type, request.batch_size);
    tx.commit();
    if (!rows.empty()) ++result.batches;
    for (const auto& row : rows) {
      const auto status = status_from_code(static_cast<int>(row.integer("status")));
      if (status) ++result.by_status[*status];
      ++result.total;
    }
    // Fewer than a batch: the rest is locked by others or gone.
    if (static_cast<int>(rows.size()) < request.batch_size) break;
  }
  for (;;) {
    auto tx = conn.begin();
    const auto rows = tx.exec(query("runner_run_prune_batch"), result.cutoff, request.job_type,
                              request.abandoned_runs, request.batch_size);
    tx.commit();
    for (const auto& row : rows) {
      ++result.runs;
      if (row.boolean("unfinished")) ++result.unfinished_runs;
    }
    if (static_cast<int>(rows.size()) < request.batch_size) break;
  }
  {
    auto tx = conn.begin();
    result.occurrences_not_permitted =
        !tx.exec(query("schedule_occurrence_may_prune")).front().boolean("may");
    tx.commit();
  }
  while (!result.occurrences_not_permitted) {
    auto tx = conn.begin();
    const auto rows = tx.exec(query("schedule_occurrence_prune_batch"), result.cutoff,
                              request.job_type, request.batch_size);
    tx.commit();
    result.occurrences += static_cast<std::int64_t>(rows.size());
    if (static_cast<int>(rows.size()) < request.batch_size) break;
  }
  if (!request.abandoned_runs) {
    auto tx = conn.begin();
    result.unfinished_runs_kept =
        tx.exec(query("runner_run_prune_count"), result.cutoff, request.job_type)
            .front()
            .integer("unfinished");
    tx.commit();
  }
  return result;
}

}  // namespace jobrunner::pg
