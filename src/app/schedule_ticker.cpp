#include "jobrunner/app/schedule_ticker.hpp"

#include <memory>

#include <spdlog/spdlog.h>

#include "jobrunner/app/cli_support.hpp"
#include "jobrunner/core/misfire.hpp"

namespace jobrunner::app {
void log_tick(const pg::TickResult& result, bool each_enqueued) {
  for (const auto& s : result.schedules) {
    if (s.error) spdlog::warn("schedule '{}': {}", s.name, *s.error);
    for (const auto& o : s.occurrences) {
      const auto late = o.catch_up ? caught_up_note(s.misfire) : std::string();
      if (o.skipped) {
        spdlog::info("schedule '{}' {}: skipped: {}", s.name, format_instant(o.at), *o.skipped);
      } else if (each_enqueued && o.job) {
        spdlog::info("schedule '{}' {}: enqueued {} job {}{}", s.name, format_instant(o.at),
                     s.job_type, *o.job, late);
      }
    }
    if (s.left_out > 0) {
      spdlog::warn("schedule '{}': misfire policy {} {}", s.name, to_string(s.misfire),
                   describe_left_out(s.left_out, s.left_out_at_least, *s.left_out_first,
                                     *s.left_out_last));
    }
  }
}

std::function<ScheduleTickResult(pg::Connection&)> schedule_ticker(std::string job_type) {
  auto refused = std::make_shared<bool>(false);
  return [job_type = std::move(job_type), refused](pg::Connection& conn) -> ScheduleTickResult {
    if (*refused) return {};
    pg::TickRequest request;
    request.job_types = {job_type};
    request.clock = test_clock_from_env();
    try {
      const auto result = pg::tick_schedules(conn, request);
      log_tick(result, true);
      ScheduleTickResult out{.enqueued = result.enqueued()};
      if (!result.next_due_in) {
        spdlog::debug("job type '{}' has no unpaused schedule", job_type);
        return out;
      }
      spdlog::debug("schedules of job type '{}': the next is due in {}", job_type,
                    format_duration(*result.next_due_in));
      out.next_due_in = std::chrono::duration_cast<Duration>(*result.next_due_in);
      return out;
    } catch (const pg::SqlError& e) {
      if (e.sqlstate() != kInsufficientPrivilege) throw;
      *refused = true;
      spdlog::warn("this runner's role may not tick the schedules of job type '{}' ({}); it "
                   "runs its jobs but ticks none of them until restarted. Grant what "
                   "docs/schedules.md#grants lists (SELECT, UPDATE on job_schedule; SELECT, "
                   "INSERT, UPDATE on job_schedule_occurrence; INSERT on job and the type's "
                   "table; EXECUTE on jobrunner_enqueue), or run 'jobctl schedule tick' from cron",
                   job_type, e.what());
      return {};
    }
  };
}

}  // namespace jobrunner::app
