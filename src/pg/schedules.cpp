#include "jobrunner/pg/schedules.hpp"

#include <algorithm>
#include <regex>

#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/pg/registry.hpp"
#include "job_row.hpp"
#include "queries.hpp"
#include "sqlstate.hpp"

namespace jobrunner::pg {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

sys_seconds instant(std::int64_t epoch_seconds) { return sys_seconds(seconds(epoch_seconds)); }
std::int64_t epoch(sys_seconds at) { return at.time_since_epoch().count(); }

Schedule schedule_from_row(const Row& row) {
  Schedule s;
  s.id = row.integer("id");
  s.name = row.text("name");
  s.job_type = row.text("job_type");
  s.target = row.opt_int("target");
  s.metadata = row.json("metadata");
  s.priority = opt_int32(row, "priority");
  s.max_retries = opt_int32(row, "max_retries");
  s.cron = row.text("cron");
  s.time_zone = row.text("time_zone");
  s.misfire = parse_misfire_policy(row.text("misfire"));
  s.misfire_limit = static_cast<int>(row.integer("misfire_limit"));
  s.misfire_grace = seconds(row.integer("misfire_grace_s"));
  s.paused = row.boolean("paused");
  s.next_due = instant(row.integer("next_due_s"));
  if (const auto last = row.opt_int("last_occurrence_s")) s.last_occurrence = instant(*last);
  s.last_job = row.opt_int("last_job");
  s.last_skipped = row.opt_text("last_skipped");
  s.date_created = *row.opt_time_us("date_created_us");
  s.date_updated = *row.opt_time_us("date_updated_us");
  return s;
}

std::vector<Schedule> schedules_of(const Rows& rows) {
  std::vector<Schedule> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(schedule_from_row(row));
  return out;
}

const std::regex kScheduleName("[a-z0-9][a-z0-9_.-]{0,99}");

// The registered type (jobctl names the registered ones before it gets here).
RegisteredType registered_type(Transaction& tx, const std::string& name) {
  if (auto type = find_registered_type(tx, name)) return std::move(*type);
  throw BadInput("there is no job type '" + name + "'");
}

// The job a schedule enqueues for occurrence `at` (`at` unset: a trial).
EnqueueRequest request_of(const std::string& name, const std::optional<std::int64_t>& target,
                          const nlohmann::json& metadata, const std::optional<int>& priority,
                          const std::optional<int>& max_retries,
                          std::optional<sys_seconds> at) {
  EnqueueRequest r;
  r.target_id = target;
  r.metadata = metadata;
  r.priority = priority.value_or(0);
  r.max_retries = max_retries;
  r.requester = "schedule:" + name;
  if (at) r.reason = "schedule " + name + ", occurrence " + format_instant(*at);
  return r;
}

// Thrown inside a savepoint to undo a trial enqueue.
struct TrialDone {};

std::string plural(std::int64_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// The record of the missed occurrences a policy left out.
std::string left_out_reason(const Schedule& s, const OccurrencePlan& plan, sys_seconds now) {
  std::string text = "missed: " + (plan.left_out_at_least ? std::string("at least ") : "") +
                     plural(plan.left_out, "occurrence") + " from " +
                     format_instant(*plan.left_out_first) + " to " +
                     format_instant(*plan.left_out_last) + " were more than " +
                     format_duration(s.misfire_grace) + " late at the tick at " +
                     format_instant(now) + "; misfire policy " + std::string(to_string(s.misfire));
  switch (s.misfire) {
    case MisfirePolicy::skip: return text + " enqueues no missed occurrence";
    case MisfirePolicy::once: return text + " enqueued the latest missed one only";
    case MisfirePolicy::all:
      return text + " enqueued the latest " + std::to_string(s.misfire_limit) +
             " (its misfire limit)";
  }
  return text;
}

}  // namespace

sys_seconds schedule_now(Transaction& tx, const ScheduleClock& clock) {
  try {
    return instant(tx.exec(query("schedule_clock"), clock).front().integer("now_s"));
  } catch (const SqlError& e) {
    if (clock && sqlstate::is_bad_time_input(e.sqlstate())) {
      throw BadInput("the test clock '" + *clock + "' is not a time (use ISO 8601, such as " +
                     "2026-01-05T10:00:00Z)");
    }
    throw;
  }
}

Schedule add_schedule(Transaction& tx, const NewSchedule& n, const ScheduleClock& clock) {
  if (!std::regex_match(n.name, kScheduleName)) {
    throw BadInput("schedule name '" + n.name +
                   "' is not valid: use 1 to 100 lower case letters, digits, _, . and -, "
                   "starting with a letter or digit");
  }
  const auto cron = CronSchedule::parse(n.cron, n.time_zone);  // BadSchedule
  if (n.misfire_limit < 1 || n.misfire_limit > kMaxMisfireLimit) {
    throw BadInput("the misfire limit must be between 1 and " + std::to_string(kMaxMisfireLimit) +
                   ", not " + std::to_string(n.misfire_limit));
  }
  if (n.misfire_grace < seconds(0) || n.misfire_grace > kMaxMisfireGrace) {
    throw BadInput("the misfire grace must be between 0s and 1d, not " +
                   format_duration(n.misfire_grace));
  }
  if (!n.metadata.is_object()) {
    throw BadInput("the metadata of a schedule must be a JSON object, not " +
                   std::string(n.metadata.type_name()));
  }
  const auto type = registered_type(tx, n.job_type);
  // The enqueue's own rules, tried and undone: a target the type needs or
  // refuses, an unknown target, priority and max_retries out of range. A
  // pending job that would make this one a duplicate is no reason to refuse.
  const JobStore store(type.spec);
  const auto trial = tx.try_in_savepoint([&] {
    (void)store.enqueue(tx, request_of(n.name, n.target, n.metadata, n.priority, n.max_retries,
                                       std::nullopt));
    throw TrialDone{};
  });
  try {
    std::rethrow_exception(trial);
  } catch (const TrialDone&) {
  } catch (const DuplicateJob&) {
  } catch (const BadInput& e) {
    throw BadInput("schedule " + n.name + ": " + e.what());
  }
  const auto now = schedule_now(tx, clock);
  std::optional<sys_seconds> latest;
  if (n.due_now) latest = cron.latest_at_or_before(now, kDueNowLookback);
  const auto next_due = latest ? *latest : cron.next_after(now);
  try {
    return schedule_from_row(
        tx.exec(query("schedule_insert"), n.name, n.job_type, n.target, n.metadata, n.priority,
                n.max_retries, cron.expression().text(), cron.zone().name(),
                std::string(to_string(n.misfire)), n.misfire_limit,
                static_cast<std::int64_t>(n.misfire_grace.count()), n.paused, epoch(next_due))
            .front());
  } catch (const SqlError& e) {
    if (e.sqlstate() == sqlstate::unique_violation) {
      throw BadInput("a schedule named '" + n.name + "' exists already (jobctl schedule show " +
                     n.name + ")");
    }
    throw;
  }
}

std::vector<Schedule> list_schedules(Transaction& tx, const std::optional<std::string>& job_type) {
  return schedules_of(tx.exec(query("schedule_list"), std::nullopt, job_type));
}

Schedule get_schedule(Transaction& tx, const std::string& name) {
  auto found = schedules_of(tx.exec(query("schedule_list"), name, std::nullopt));
  if (found.empty()) throw NotFound("no schedule named '" + name + "' (jobctl schedule list)");
  return std::move(found.front());
}

Schedule pause_schedule(Transaction& tx, const std::string& name) {
  auto rows = tx.exec(query("schedule_set_paused"), name, true, std::nullopt);
  if (rows.empty()) {
    get_schedule(tx, name);  // NotFound
    throw BadInput("schedule " + name + " is paused already");
  }
  return schedule_from_row(rows.front());
}

Schedule resume_schedule(Transaction& tx, const std::string& name, const ScheduleClock& clock) {
  const auto current = get_schedule(tx, name);
  if (!current.paused) throw BadInput("schedule " + name + " is not paused");
  const auto next_due = current.cron_schedule().next_after(schedule_now(tx, clock));
  auto rows = tx.exec(query("schedule_set_paused"), name, false, epoch(next_due));
  if (rows.empty()) throw BadInput("schedule " + name + " is not paused");
  return schedule_from_row(rows.front());
}

std::int64_t remove_schedule(Transaction& tx, const std::string& name) {
  auto rows = tx.exec(query("schedule_delete"), name);
  if (rows.empty()) throw NotFound("no schedule named '" + name + "' (jobctl schedule list)");
  return rows.front().integer("records");
}

std::vector<OccurrenceRecord> list_occurrences(Transaction& tx, std::int64_t schedule_id,
                                               int limit) {
  std::vector<OccurrenceRecord> out;
  for (const auto& row : tx.exec(query("schedule_occurrence_list"), schedule_id, limit)) {
    out.push_back({instant(row.integer("occurs_at_s")), row.opt_int("job"),
                   row.opt_text("skipped"), *row.opt_time_us("date_recorded_us")});
  }
  return out;
}

// ---- The tick ----------------------------------------------------------------

namespace {

template <typename Predicate>
std::int64_t count_occurrences(const std::vector<TickedSchedule>& schedules, Predicate predicate) {
  std::int64_t n = 0;
  for (const auto& s : schedules) {
    n += std::count_if(s.occurrences.begin(), s.occurrences.end(), predicate);
  }
  return n;
}

}  // namespace

std::int64_t TickResult::enqueued() const noexcept {
  return count_occurrences(schedules, [](const TickOccurrence& o) { return o.job.has_value(); });
}

std::int64_t TickResult::skipped() const noexcept {
  return count_occurrences(schedules,
                           [](const TickOccurrence& o) { return o.skipped.has_value(); });
}

namespace {

// One due schedule, locked in `tx`: its occurrences up to `now`.
TickedSchedule tick_one(Transaction& tx, const Schedule& s, sys_seconds now) {
  TickedSchedule t;
  t.id = s.id;
  t.name = s.name;
  t.job_type = s.job_type;
  t.misfire = s.misfire;
  std::optional<CronSchedule> cron;
  try {
    cron = s.cron_schedule();
  } catch (const BadSchedule& e) {
    t.error = e.what();
    return t;
  }
  const auto plan = plan_occurrences(*cron, s.next_due, now, s.misfire,
                                     static_cast<std::size_t>(s.misfire_limit), s.misfire_grace);
  t.left_out = plan.left_out;
  t.left_out_at_least = plan.left_out_at_least;
  t.left_out_first = plan.left_out_first;
  t.left_out_last = plan.left_out_last;
  std::optional<sys_seconds> last;
  if (plan.left_out > 0 &&
      !tx.exec(query("schedule_occurrence_insert"), s.id, epoch(*plan.left_out_last),
               left_out_reason(s, plan, now))
           .empty()) {
    last = plan.left_out_last;
  }
  const JobStore store(registered_type(tx, s.job_type).spec);
  for (const auto& item : plan.enqueue) {
    // Recorded already: another tick enqueued it (or skipped it).
    if (tx.exec(query("schedule_occurrence_insert"), s.id, epoch(item.at), std::nullopt).empty()) {
      continue;
    }
    TickOccurrence o{item.at, item.catch_up, std::nullopt, std::nullopt};
    std::int64_t id = 0;
    const auto refused = tx.try_in_savepoint([&] {
      id = store.enqueue(tx, request_of(s.name, s.target, s.metadata, s.priority, s.max_retries,
                                        item.at));
    });
    if (!refused) {
      o.job = id;
    } else {
      try {
        std::rethrow_exception(refused);
      } catch (const DuplicateJob& e) {
        o.skipped = e.what();
      } catch (const BadInput& e) {
        o.skipped = std::string("the enqueue was refused: ") + e.what();
      }
    }
    tx.exec(query("schedule_occurrence_set"), s.id, epoch(item.at), o.job, o.skipped);
    last = last ? std::max(*last, item.at) : item.at;
    t.occurrences.push_back(std::move(o));
  }
  t.next_due = cron->next_after(last ? std::max(now, *last) : now);
  tx.exec(query("schedule_advance"), s.id, epoch(*t.next_due),
          last ? std::optional<std::int64_t>(epoch(*last)) : std::nullopt);
  return t;
}

}  // namespace

TickResult tick_schedules(Connection& conn, const TickRequest& request) {
  TickResult result;
  const Param types =
      request.job_types.empty() ? Param(std::nullopt) : to_array_param(request.job_types);
  std::vector<std::int64_t> handled;
  for (int i = 0;; ++i) {
    auto tx = conn.begin();
    const auto now = schedule_now(tx, request.clock);
    const auto rows = i < request.max_schedules
                          ? tx.exec_params(query("schedule_due_lock"),
                                           {to_param(epoch(now)), types, to_array_param(handled)})
                          : Rows();
    if (rows.empty()) {
      const auto due = tx.exec_params(query("schedule_next_due"), {to_param(epoch(now)), types});
      if (const auto in = due.front().opt_int("due_in_s")) {
        result.next_due_in = std::chrono::seconds(std::max<std::int64_t>(0, *in));
      }
      tx.commit();
      break;
    }
    const auto schedule = schedule_from_row(rows.front());
    handled.push_back(schedule.id);
    auto ticked = tick_one(tx, schedule, now);
    tx.commit();
    result.schedules.push_back(std::move(ticked));
  }
  return result;
}

}  // namespace jobrunner::pg
