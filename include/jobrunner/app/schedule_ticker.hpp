#pragma once
// Ticking recurring schedules from a process (docs/schedules.md#who-ticks):
// the runners' ticker and the log lines a tick leaves, shared with jobctl
// schedule tick.

#include <functional>
#include <optional>
#include <string>

#include "jobrunner/core/duration.hpp"
#include "jobrunner/pg/connection.hpp"
#include "jobrunner/pg/schedules.hpp"
#include "jobrunner/runtime/runner.hpp"

namespace jobrunner::app {

// Logs what a tick did: a warning per schedule it could not compute and per
// range of missed occurrences its misfire policy left out, an info line per
// skipped occurrence and, when `each_enqueued`, per enqueued one.
void log_tick(const pg::TickResult& result, bool each_enqueued);

// RunnerOptions::tick_schedules of a runner of `job_type`: ticks that
// type's schedules (pg::tick_schedules) on the given connection, at the
// test clock when one is set (test_clock_from_env, read at every tick),
// logs what it did and returns how many jobs it enqueued and how long until
// the next one is due. A role
// without the grants a tick needs (SQLSTATE 42501: a package's runner role
// written before schedules) gets one warning naming them, and the ticker
// then does nothing for the rest of the process: the runner still runs its
// jobs, and jobctl schedule tick can tick for it.
std::function<ScheduleTickResult(pg::Connection&)> schedule_ticker(std::string job_type);

}  // namespace jobrunner::app
