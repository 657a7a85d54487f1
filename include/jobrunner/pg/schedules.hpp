#pragma once
// Recurring schedules (tables job_schedule and job_schedule_occurrence,
// patch 0012; docs/schedules.md): adding, listing, pausing and removing
// them, and the tick that enqueues their due occurrences exactly once,
// however many processes tick at once. Each function runs the SQL blocks of
// sql/queries/schedule.sql named in its comment.
//
// "now" is a parameter everywhere: `ScheduleClock` holds either nothing
// (the database's now()) or a fixed instant that tests set
// (JOBRUNNER_TEST_NOW, app::test_clock_from_env()).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobrunner/core/cron_schedule.hpp"
#include "jobrunner/core/duration.hpp"
#include "jobrunner/core/job.hpp"
#include "jobrunner/core/misfire.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner::pg {

// Which clock is "now": nullopt is the database's now(); otherwise a time
// PostgreSQL reads as timestamptz (ISO 8601), for tests only.
using ScheduleClock = std::optional<std::string>;

// The instant "now" of `clock` in `tx`, to the second (schedule_clock).
// BadInput when a test clock is not a time PostgreSQL reads.
std::chrono::sys_seconds schedule_now(Transaction& tx, const ScheduleClock& clock);

// What jobctl schedule add gives.
struct NewSchedule {
  std::string name;
  std::string job_type;
  std::optional<std::int64_t> target;
  nlohmann::json metadata = nlohmann::json::object();
  std::optional<int> priority;
  std::optional<int> max_retries;
  std::string cron;
  std::string time_zone = "UTC";
  MisfirePolicy misfire = MisfirePolicy::once;
  int misfire_limit = 100;
  std::chrono::seconds misfire_grace{300};
  bool paused = false;
  // Due at once: next_due is the latest occurrence at or before now (within
  // kDueNowLookback) instead of the first after it, so the next tick
  // enqueues it (on time within misfire_grace, otherwise as the misfire
  // policy says). Without such an occurrence, the first after now.
  bool due_now = false;
};

inline constexpr std::chrono::seconds kDueNowLookback{366 * 86400};

// A stored schedule: what was added, and its state.
struct Schedule : NewSchedule {
  std::int64_t id = 0;
  std::chrono::sys_seconds next_due{};
  std::optional<std::chrono::sys_seconds> last_occurrence;
  // The record of last_occurrence: its job, or why it was skipped.
  std::optional<std::int64_t> last_job;
  std::optional<std::string> last_skipped;
  TimePoint date_created;
  TimePoint date_updated;

  // Its cron expression in its zone (parsed again; BadSchedule if the zone
  // left the system's tzdata).
  CronSchedule cron_schedule() const { return CronSchedule::parse(cron, time_zone); }
};

inline constexpr int kMaxMisfireLimit = 10000;
inline constexpr std::chrono::seconds kMaxMisfireGrace{86400};

// Adds a schedule whose next_due is its first occurrence after now. Checks
// everything first and writes nothing when it refuses: BadSchedule (a bad
// cron expression or zone, naming the field), BadInput (a malformed name,
// an unknown type, a target the type does not take or that does not
// exist, metadata that is not an object, a misfire limit or grace out of
// range, a name already taken). The type, target and metadata are checked
// by a trial jobrunner_enqueue() in a savepoint that is rolled back, so the
// rules are the enqueue's own (schedule_insert).
Schedule add_schedule(Transaction& tx, const NewSchedule& schedule, const ScheduleClock& clock);

// Every schedule by name, or one type's (schedule_list).
std::vector<Schedule> list_schedules(Transaction& tx,
                                     const std::optional<std::string>& job_type = std::nullopt);
// NotFound naming it when there is none (schedule_list).
Schedule get_schedule(Transaction& tx, const std::string& name);

// Pauses it (BadInput if paused already), or resumes it (BadInput if not
// paused) with next_due = its first occurrence after now, so a resumed
// schedule fires no backlog (schedule_set_paused).
Schedule pause_schedule(Transaction& tx, const std::string& name);
Schedule resume_schedule(Transaction& tx, const std::string& name, const ScheduleClock& clock);

// Deletes the schedule and its occurrence records; its jobs stay
// (schedule_delete). Returns how many occurrence records went with it.
std::int64_t remove_schedule(Transaction& tx, const std::string& name);

struct OccurrenceRecord {
  std::chrono::sys_seconds occurs_at;
  std::optional<std::int64_t> job;
  std::optional<std::string> skipped;
  TimePoint date_recorded;
};
// The latest `limit` records of a schedule, newest first
// (schedule_occurrence_list).
std::vector<OccurrenceRecord> list_occurrences(Transaction& tx, std::int64_t schedule_id,
                                               int limit);

// ---- The tick ----------------------------------------------------------------

struct TickRequest {
  std::vector<std::string> job_types;  // empty: every type
  ScheduleClock clock;
  int max_schedules = 1000;  // schedules handled by one call, at most
};

struct TickOccurrence {
  std::chrono::sys_seconds at;
  bool catch_up = false;              // missed, enqueued by the misfire policy
  std::optional<std::int64_t> job;    // enqueued
  std::optional<std::string> skipped; // refused: a duplicate pending job, ...
};

struct TickedSchedule {
  std::int64_t id = 0;
  std::string name;
  std::string job_type;
  MisfirePolicy misfire = MisfirePolicy::once;
  std::vector<TickOccurrence> occurrences;
  // Missed occurrences the policy left out (OccurrencePlan).
  std::int64_t left_out = 0;
  bool left_out_at_least = false;
  std::optional<std::chrono::sys_seconds> left_out_first;
  std::optional<std::chrono::sys_seconds> left_out_last;
  std::optional<std::chrono::sys_seconds> next_due;  // none when `error`
  // Its cron expression or zone cannot be read any more (a zone gone from
  // tzdata): nothing was done; it stays due.
  std::optional<std::string> error;
};

struct TickResult {
  std::vector<TickedSchedule> schedules;  // in the order handled
  // From the tick's last "now" to the earliest next_due of the unpaused
  // schedules of its types (0 when one is still due: max_schedules was
  // reached, or another tick holds it); none when they have no schedule.
  // A runner sets its timer to it.
  std::optional<std::chrono::seconds> next_due_in;
  std::int64_t enqueued() const noexcept;
  std::int64_t skipped() const noexcept;
};

// The tick: repeatedly, in one transaction each, locks one due schedule
// (unpaused, next_due <= now, of `job_types`) FOR UPDATE SKIP LOCKED, so
// that concurrent ticks share the work and never wait, plans its
// occurrences in [next_due, now] (plan_occurrences: the misfire policy) and,
// for each, inserts its record (ON CONFLICT DO NOTHING: recorded already,
// nothing more) and enqueues its job with jobrunner_enqueue() in a
// savepoint; a refusal (a duplicate pending job, a target deleted since) is
// rolled back to the savepoint and recorded as the skip reason. Missed
// occurrences left out get one record, at the latest of them, saying how
// many. Then last_occurrence and next_due (the first occurrence after now)
// are set and the transaction commits. Stops when no schedule is due or
// after max_schedules, and then reads next_due_in (schedule_due_lock,
// schedule_occurrence_insert, schedule_occurrence_set, schedule_advance,
// schedule_next_due; the enqueue is JobStore's).
TickResult tick_schedules(Connection& conn, const TickRequest& request);

}  // namespace jobrunner::pg
