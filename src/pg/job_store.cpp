#include "jobrunner/pg/job_store.hpp"

#include <algorithm>
#include <map>

#include "job_row.hpp"
#include "queries.hpp"
#include "sqlstate.hpp"

namespace jobrunner::pg {
namespace {

Param ids_of(const std::vector<Job>& jobs) {
  std::vector<std::int64_t> ids;
  ids.reserve(jobs.size());
  for (const auto& job : jobs) ids.push_back(job.id);
  return to_array_param(ids);
}

Param tokens_of(const std::vector<Job>& jobs) {
  std::vector<std::optional<std::string>> tokens;
  tokens.reserve(jobs.size());
  for (const auto& job : jobs) tokens.push_back(job.lease_token);
  return to_array_param(tokens);
}

std::vector<std::int64_t> ids_in(const Rows& rows, std::string_view column) {
  std::vector<std::int64_t> ids;
  ids.reserve(rows.size());
  for (const auto& row : rows) ids.push_back(row.integer(column));
  return ids;
}

std::string attempt_line(const Job& job, const std::string& line) {
  return "attempt " + std::to_string(job.attempt_count) + ": " + line;
}

// "attempt N: <line>" for each job, as one array parameter.
Param attempt_lines(const std::vector<Job>& jobs, const std::string& line) {
  std::vector<std::string> lines;
  lines.reserve(jobs.size());
  for (const auto& job : jobs) lines.push_back(attempt_line(job, line));
  return to_array_param(lines);
}

// The type row's fields, from a row that has them; `metadata_column` is
// the type row's json_data under whatever name the statement gave it. A job
// whose type row is missing keeps target_id 0: running it reports that.
void set_type_fields(Job& job, const Row& row, std::string_view metadata_column) {
  job.target_id = row.integer("target_id");
  job.type_code = static_cast<int>(row.integer("type_code"));
  job.metadata = row.json(metadata_column);
}

}  // namespace

Job job_from_row(const Row& row) {
  Job job;
  job.id = row.integer("id");
  job.job_type = row.text("job_type");
  const auto code = row.integer("status");
  const auto status = status_from_code(static_cast<int>(code));
  if (!status) throw Error("job " + std::to_string(job.id) + " has an invalid status " + std::to_string(code));
  job.status = *status;
  job.requester = row.opt_text("requester");
  job.reason = row.opt_text("reason");
  job.priority = static_cast<int>(row.integer("priority"));
  job.scheduled_start = row.opt_time_us("scheduled_start_us");
  job.lease_expires = row.opt_time_us("lease_expires_us");
  job.lease_owner = row.opt_text("lease_owner");
  job.lease_token = row.opt_text("lease_token");
  job.attempt_count = static_cast<int>(row.integer("attempt_count"));
  job.max_retries = static_cast<int>(row.integer("max_retries"));
  job.log = row.text("log");
  job.date_created = *row.opt_time_us("date_created_us");
  job.date_started = row.opt_time_us("date_started_us");
  job.date_finished = row.opt_time_us("date_finished_us");
  job.json_data = row.json("json_data");
  return job;
}

ErrorReport error_report_from_row(const Row& row) {
  ErrorReport r;
  r.id = row.integer("id");
  r.job = row.opt_int("job");
  r.date_created = *row.opt_time_us("date_created_us");
  r.error_type = row.text("error_type");
  r.message = row.text("message");
  r.variables = row.json("variables");
  return r;
}

JobStore::JobStore(JobTypeSpec spec)
    : spec_(std::move(spec)),
      type_row_insert_sql_(type_query("type_row_insert", spec_)),
      type_row_pending_sql_(type_query("type_row_pending", spec_)),
      type_row_pending_many_sql_(type_query("type_row_pending_many", spec_)),
      target_missing_sql_(type_query("target_missing", spec_)),
      job_insert_many_sql_(type_query("job_insert_many", spec_)),
      type_row_load_sql_(type_query("type_row_load", spec_)),
      job_claim_with_type_row_sql_(type_query("job_claim_with_type_row", spec_)) {}

void JobStore::check(const EnqueueRequest& request) const {
  if (!request.metadata.is_object()) {
    throw BadInput("the metadata of a " + spec_.display_name + " must be a JSON object, not " +
                   std::string(request.metadata.type_name()));
  }
  if (request.max_retries && *request.max_retries < 0) {
    throw BadInput("max_retries must be 0 or more, not " + std::to_string(*request.max_retries));
  }
}

std::string JobStore::no_target_message(std::int64_t target_id) const {
  return "there is no " + spec_.target_table + " with id " + std::to_string(target_id);
}

std::int64_t JobStore::enqueue(Transaction& tx, const EnqueueRequest& request) const {
  check(request);
  if (spec_.one_pending_per_target) {
    // Serialises enqueues for one target so the check below cannot race.
    tx.exec(query("enqueue_lock"), spec_.name, std::to_string(request.target_id));
    auto pending = tx.exec(type_row_pending_sql_, request.target_id, spec_.type_code);
    if (!pending.empty()) {
      throw DuplicateJob("a " + spec_.display_name + " for " + spec_.target_table + " " +
                         std::to_string(request.target_id) + " is already pending (job " +
                         pending.front().text("job") + ")");
    }
  }
  try {
    auto rows = tx.exec(query("job_insert"), spec_.name, request.requester, request.reason,
                        request.priority, request.scheduled_start,
                        request.max_retries.value_or(spec_.default_max_retries), std::nullopt);
    const auto id = rows.front().integer("id");
    tx.exec(type_row_insert_sql_, id, request.target_id, spec_.type_code, request.metadata);
    return id;
  } catch (const SqlError& e) {
    if (e.sqlstate() == sqlstate::foreign_key_violation) {
      throw BadInput(no_target_message(request.target_id));
    }
    if (sqlstate::is_bad_time_input(e.sqlstate())) {
      throw BadInput("invalid start time '" + request.scheduled_start.value_or("") + "': " + e.what());
    }
    throw;
  }
}

std::vector<std::int64_t> JobStore::enqueue_many(
    Transaction& tx, const std::vector<EnqueueRequest>& requests,
    const std::function<std::string(std::size_t)>& name_of) const {
  if (requests.empty()) return {};
  const auto name = [&](std::size_t index) {
    if (name_of) return name_of(index);
    return "job " + std::to_string(index + 1) + " of " + std::to_string(requests.size());
  };
  // The first request about each target, in target order.
  std::map<std::int64_t, std::size_t> first_for_target;
  std::vector<std::int64_t> targets;
  std::vector<nlohmann::json> metadata;
  std::vector<std::optional<std::string>> starts, requesters, reasons;
  std::vector<int> max_retries, priorities;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    try {
      check(r);
    } catch (const BadInput& e) {
      throw BadInput(name(i) + ": " + e.what());
    }
    const auto [first, inserted] = first_for_target.emplace(r.target_id, i);
    if (!inserted && spec_.one_pending_per_target) {
      throw DuplicateJob(name(i) + ": a " + spec_.display_name + " for " + spec_.target_table +
                         " " + std::to_string(r.target_id) + " is already pending (" +
                         name(first->second) + ")");
    }
    targets.push_back(r.target_id);
    metadata.push_back(r.metadata);
    starts.push_back(r.scheduled_start);
    max_retries.push_back(r.max_retries.value_or(spec_.default_max_retries));
    priorities.push_back(r.priority);
    requesters.push_back(r.requester);
    reasons.push_back(r.reason);
  }
  std::vector<std::int64_t> distinct;
  for (const auto& [target, index] : first_for_target) distinct.push_back(target);
  const auto distinct_param = to_array_param(distinct);
  if (auto missing = tx.exec(target_missing_sql_, distinct_param); !missing.empty()) {
    const auto target = missing.front().integer("id");
    throw BadInput(name(first_for_target.at(target)) + ": " + no_target_message(target));
  }
  if (spec_.one_pending_per_target) {
    // The same locks as enqueue(), taken in target order so that two batches
    // cannot deadlock.
    tx.exec(query("enqueue_lock_many"), spec_.name, distinct_param);
    auto pending = tx.exec(type_row_pending_many_sql_, distinct_param, spec_.type_code);
    if (!pending.empty()) {
      const auto target = pending.front().integer("target");
      throw DuplicateJob(name(first_for_target.at(target)) + ": a " + spec_.display_name +
                         " for " + spec_.target_table + " " + std::to_string(target) +
                         " is already pending (job " + pending.front().text("job") + ")");
    }
  }
  try {
    return ids_in(tx.exec(job_insert_many_sql_, spec_.name, to_array_param(targets),
                          to_array_param(metadata), to_array_param(starts),
                          to_array_param(max_retries), to_array_param(priorities),
                          to_array_param(requesters), to_array_param(reasons), spec_.type_code),
                  "id");
  } catch (const SqlError& e) {
    // Only the start times are cast from text here; the targets were checked
    // above, unless one was deleted since.
    if (sqlstate::is_bad_time_input(e.sqlstate())) {
      throw BadInput(std::string("invalid start time in the batch: ") + e.what());
    }
    if (e.sqlstate() == sqlstate::foreign_key_violation) {
      throw BadInput("a " + spec_.target_table + " named in the batch was deleted meanwhile: " +
                     e.what());
    }
    throw;
  }
}

std::vector<Job> JobStore::load(Transaction& tx, Rows rows) const {
  std::vector<Job> jobs;
  jobs.reserve(rows.size());
  for (const auto& row : rows) jobs.push_back(job_from_row(row));
  if (jobs.empty()) return jobs;
  std::map<std::int64_t, const Row*> by_job;
  auto type_rows = tx.exec(type_row_load_sql_, ids_of(jobs));
  for (const auto& row : type_rows) by_job[row.integer("job")] = &row;
  for (auto& job : jobs) {
    auto it = by_job.find(job.id);
    if (it != by_job.end()) set_type_fields(job, *it->second, "json_data");
  }
  return jobs;
}

Job JobStore::get(Transaction& tx, std::int64_t id) const {
  auto jobs = load(tx, tx.exec(query("job_get"), id));
  if (jobs.empty() || jobs.front().job_type != spec_.name || jobs.front().target_id == 0 ||
      jobs.front().type_code != spec_.type_code) {
    throw NotFound("no " + spec_.display_name + " with id " + std::to_string(id));
  }
  return std::move(jobs.front());
}

std::vector<Job> JobStore::ready(Transaction& tx, int limit) const {
  return load(tx, tx.exec(query("job_ready"), spec_.name, limit));
}

std::vector<Job> JobStore::claim(Transaction& tx, int limit, Duration lease,
                                 const std::string& owner) const {
  std::vector<Job> jobs;
  for (const auto& row :
       tx.exec(job_claim_with_type_row_sql_, spec_.name, limit, owner, lease.count())) {
    jobs.push_back(job_from_row(row));
    if (!row.is_null("target_id")) set_type_fields(jobs.back(), row, "type_json_data");
  }
  // UPDATE ... RETURNING does not keep the CTE's order.
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
  });
  return jobs;
}

bool JobStore::heartbeat(Transaction& tx, const Job& job, Duration lease) const {
  return !heartbeat_many(tx, {job}, lease).empty();
}

std::vector<std::int64_t> JobStore::heartbeat_many(Transaction& tx, const std::vector<Job>& jobs,
                                                   Duration lease) const {
  if (jobs.empty()) return {};
  return ids_in(tx.exec(query("job_heartbeat"), ids_of(jobs), tokens_of(jobs), lease.count()),
                "id");
}

std::vector<std::int64_t> JobStore::complete_many(Transaction& tx,
                                                  const std::vector<Job>& jobs) const {
  if (jobs.empty()) return {};
  return ids_in(tx.exec(query("job_complete_many"), ids_of(jobs), tokens_of(jobs)), "id");
}

std::optional<Duration> JobStore::next_due(Transaction& tx) const {
  const auto due = tx.exec(query("job_next_due"), spec_.name).front().opt_int("due_in_ms");
  if (!due) return std::nullopt;
  return Duration(std::max<std::int64_t>(*due, 0));
}

std::vector<Job> JobStore::lock_expired(Transaction& tx, int limit) const {
  return load(tx, tx.exec(query("job_lock_expired"), spec_.name, limit));
}

bool JobStore::finish(Transaction& tx, const Job& job, const Decision& decision) const {
  check_transition(JobStatus::running, decision.next);
  std::optional<std::int64_t> retry_ms;
  if (decision.retry_after) retry_ms = decision.retry_after->count();
  // A success writes no log line (docs/performance.md, "Cheaper rows").
  std::optional<std::string> line;
  if (decision.next != JobStatus::completed) line = attempt_line(job, decision.log_line);
  auto rows = tx.exec(query("job_finish"), job.id, job.lease_token,
                      static_cast<int>(decision.next), retry_ms, line, kJobLogLimit);
  return !rows.empty();
}

std::vector<std::int64_t> JobStore::give_back(Transaction& tx, const std::vector<Job>& jobs,
                                              const std::string& why) const {
  check_transition(JobStatus::running, JobStatus::waiting);
  if (jobs.empty()) return {};
  return ids_in(tx.exec(query("job_give_back"), ids_of(jobs), tokens_of(jobs),
                        attempt_lines(jobs, "given back: " + why), kJobLogLimit),
                "id");
}

bool JobStore::give_back(Transaction& tx, const Job& job, const std::string& why) const {
  return !give_back(tx, std::vector<Job>{job}, why).empty();
}

void JobStore::append_log(Transaction& tx, const Job& job, const std::string& line) const {
  tx.exec(query("job_append_log"), job.id, line, kJobLogLimit);
}

std::int64_t JobStore::file_error_report(Transaction& tx, const Job& job, const Outcome& outcome,
                                         const nlohmann::json& variables) const {
  auto rows = tx.exec(query("error_report_insert"), job.id,
                      outcome.error_type.empty() ? std::string("Error") : outcome.error_type,
                      outcome.message, variables);
  return rows.front().integer("id");
}

JobStore::TypeLockAttempt JobStore::try_lock_type(Transaction& tx, const std::string& holder,
                                                  Duration lease) const {
  const auto row = tx.exec(query("runner_lock_try"), spec_.name, holder, lease.count()).front();
  TypeLockAttempt attempt{row.opt_text("token"), row.opt_text("previous_holder"),
                          row.opt_time_us("previous_expires_us"), false};
  attempt.taken_over = attempt.token && row.boolean("previous_expired");
  return attempt;
}

bool JobStore::extend_type_lock(Transaction& tx, const std::string& token, Duration lease) const {
  return !tx.exec(query("runner_lock_extend"), spec_.name, token, lease.count()).empty();
}

void JobStore::release_type_lock(Transaction& tx, const std::string& token) const {
  tx.exec(query("runner_lock_release"), spec_.name, token);
}

// ---- Type-independent operations -------------------------------------------

std::optional<Job> find_job(Transaction& tx, std::int64_t id) {
  auto rows = tx.exec(query("job_get"), id);
  if (rows.empty()) return std::nullopt;
  return job_from_row(rows.front());
}

std::int64_t record_notification(Statements& db, const Job& job, const std::string& subject,
                                 const std::string& body) {
  return db.exec(query("job_notification_insert"), job.id, job.requester, subject, body)
      .front()
      .integer("id");
}

std::int64_t start_runner_run(Transaction& tx, const std::string& job_type,
                              const std::string& hostname, int pid) {
  return tx.exec(query("runner_run_start"), job_type, hostname, pid).front().integer("id");
}

void finish_runner_run(Transaction& tx, std::int64_t run_id, int jobs_run,
                       int jobs_not_completed, int exit_code) {
  tx.exec(query("runner_run_finish"), run_id, jobs_run, jobs_not_completed, exit_code);
}

}  // namespace jobrunner::pg
