#include "jobrunner/pg/job_store.hpp"

#include <algorithm>
#include <map>
#include <regex>

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

// `text` as valid UTF-8 without NUL (what a text column and libpq's
// parameters take): each byte that does not start or continue a well-formed
// sequence (overlong forms, surrogates and values past U+10FFFF included),
// and each NUL, becomes U+FFFD. A program's output may hold anything, and a
// tail may be cut inside a character.
std::string valid_utf8(std::string_view text) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char b = byte(i);
    if (b != 0 && b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    // The length of the sequence b starts and the range of its second byte.
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      length = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      length = 3;
      if (b == 0xE0) low = 0xA0;
      if (b == 0xED) high = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      length = 4;
      if (b == 0xF0) low = 0x90;
      if (b == 0xF4) high = 0x8F;
    }
    bool ok = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; ok && k < length; ++k) {
      const unsigned char c = byte(i + k);
      ok = k == 1 ? (c >= low && c <= high) : (c >= 0x80 && c <= 0xBF);
    }
    if (ok) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  return out;
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
// whose type row is missing keeps no target: running it reports that.
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
  if (!row.is_null("result")) job.result = row.json("result");
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

namespace {

// A type's statement that names its tables, or "" for a type without any.
std::string type_statement(std::string_view name, const JobTypeSpec& spec) {
  check_table_fields(spec);
  return spec.has_table() ? type_query(name, spec) : std::string();
}

}  // namespace

JobStore::JobStore(JobTypeSpec spec)
    : spec_(std::move(spec)),
      type_row_load_sql_(type_statement("type_row_load", spec_)),
      job_claim_with_type_row_sql_(type_statement("job_claim_with_type_row", spec_)) {}

namespace {

// The JSON object of one job, as jobrunner_enqueue_many() reads it.
nlohmann::json enqueue_element(const EnqueueRequest& r) {
  nlohmann::json job = {{"metadata", r.metadata}, {"priority", r.priority}};
  // The function checks the target against the type (required with a
  // table, refused without one): the rules have one implementation.
  if (r.target_id) job["target"] = *r.target_id;
  if (r.scheduled_start) job["scheduled_start"] = *r.scheduled_start;
  if (r.max_retries) job["max_retries"] = *r.max_retries;
  if (r.requester) job["requester"] = *r.requester;
  if (r.reason) job["reason"] = *r.reason;
  return job;
}

// A refusal of jobrunner_enqueue_many() (sql/migrations/0011) as the store's
// error: its SQLSTATE picks the class, and the elements it names ("job 3 of
// 10: ...", "(job 2 of 10)") are renamed by `name` (their index from 0).
[[noreturn]] void rethrow_refusal(const SqlError& e, std::size_t count,
                                  const std::function<std::string(std::size_t)>& name) {
  const auto& state = e.sqlstate();
  const bool bad_input = state.starts_with("22") || state == "23502" ||
                         state == sqlstate::foreign_key_violation;
  const bool duplicate = state == sqlstate::unique_violation;
  if (!bad_input && !duplicate && state != sqlstate::undefined_object) throw;
  std::string message = e.what();
  if (const auto at = message.find("ERROR:  "); at != std::string::npos) {
    message.erase(0, at + 8);
  }
  if (name) {
    static const std::regex kElement("job ([0-9]+) of ([0-9]+)");
    std::smatch m;
    std::string renamed;
    auto rest = message;
    while (std::regex_search(rest, m, kElement) && std::stoul(m[2].str()) == count) {
      renamed += m.prefix().str() + name(std::stoul(m[1].str()) - 1);
      rest = m.suffix().str();
    }
    message = renamed + rest;
    // A call with one job names none: name it as the caller does.
    if (count == 1 && state != sqlstate::undefined_object) message = name(0) + ": " + message;
  }
  if (duplicate) throw DuplicateJob(message);
  if (bad_input) throw BadInput(message);
  throw ConfigError(message);
}

}  // namespace

std::int64_t JobStore::enqueue(Transaction& tx, const EnqueueRequest& request) const {
  try {
    return tx.exec(query("job_enqueue"), spec_.name, request.target_id, request.metadata,
                   request.scheduled_start, request.priority, request.max_retries,
                   request.requester, request.reason)
        .front()
        .integer("id");
  } catch (const SqlError& e) {
    // The one cast outside the function: the start time, from text.
    if (e.sqlstate() == "22007" || e.sqlstate() == "22008") {
      throw BadInput("invalid start time '" + request.scheduled_start.value_or("") + "': " +
                     e.what());
    }
    rethrow_refusal(e, 1, {});
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
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto& r : requests) jobs.push_back(enqueue_element(r));
  try {
    return ids_in(tx.exec(query("job_enqueue_many"), spec_.name, jobs), "id");
  } catch (const SqlError& e) {
    rethrow_refusal(e, requests.size(), name);
  }
}

std::vector<Job> JobStore::load(Transaction& tx, Rows rows) const {
  std::vector<Job> jobs;
  jobs.reserve(rows.size());
  for (const auto& row : rows) jobs.push_back(job_from_row(row));
  if (!spec_.has_table()) {
    for (auto& job : jobs) job.metadata = job.json_data;
    return jobs;
  }
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
  // A job of a type with a table is this type's only with its type row.
  if (jobs.empty() || jobs.front().job_type != spec_.name ||
      (spec_.has_table() &&
       (!jobs.front().target_id || jobs.front().type_code != spec_.type_code))) {
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
  if (spec_.has_table()) {
    for (const auto& row :
         tx.exec(job_claim_with_type_row_sql_, spec_.name, limit, owner, lease.count())) {
      jobs.push_back(job_from_row(row));
      if (!row.is_null("target_id")) set_type_fields(jobs.back(), row, "type_json_data");
    }
  } else {
    // No type row to join: the job row is the whole job.
    for (const auto& row : tx.exec(query("job_claim"), spec_.name, limit, owner, lease.count())) {
      jobs.push_back(job_from_row(row));
      jobs.back().metadata = jobs.back().json_data;
    }
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

bool JobStore::finish(Transaction& tx, const Job& job, const Decision& decision,
                      const AttemptOutput& output) const {
  check_transition(JobStatus::running, decision.next);
  std::optional<std::int64_t> retry_ms;
  if (decision.retry_after) retry_ms = decision.retry_after->count();
  // A plain success writes no log line (docs/performance.md, "Cheaper rows").
  std::optional<std::string> line;
  if (decision.next != JobStatus::completed || !output.log.empty()) {
    line = valid_utf8(attempt_line(job, decision.log_line + output.log));
  }
  std::optional<std::string> result;
  if (output.result) result = output.result->dump();
  auto rows = tx.exec(query("job_finish"), job.id, job.lease_token,
                      static_cast<int>(decision.next), retry_ms, line, kJobLogLimit, result);
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
  tx.exec(query("job_append_log"), job.id, valid_utf8(line), kJobLogLimit);
}

std::int64_t JobStore::file_error_report(Transaction& tx, const Job& job, const Outcome& outcome,
                                         const nlohmann::json& variables) const {
  auto rows = tx.exec(query("error_report_insert"), job.id,
                      outcome.error_type.empty() ? std::string("Error") : outcome.error_type,
                      valid_utf8(outcome.message), variables);
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
