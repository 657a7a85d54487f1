#pragma once
// Job statuses and Launchpad's transition table, plus CANCELLED (jobrunner's
// own: an operator stopped a job that must not run).

#include <cstdint>
#include <optional>
#include <string_view>

namespace jobrunner {

// Values 0-4 are Launchpad's; all are stored in job.status.
enum class JobStatus : std::int16_t {
  waiting = 0,
  running = 1,
  completed = 2,
  failed = 3,
  suspended = 4,
  cancelled = 5,  // jobctl cancel: a WAITING or SUSPENDED job that must not run
};

// "WAITING", "RUNNING", ... as operators see them.
std::string_view to_string(JobStatus status) noexcept;

// Accepts the names above in any case; nullopt for anything else.
std::optional<JobStatus> parse_status(std::string_view text) noexcept;

// The status a job.status value stands for; nullopt when out of range.
std::optional<JobStatus> status_from_code(int code) noexcept;

// True when the transition table allows moving from `from` to `to`
// (Launchpad's, plus the CANCELLED edges):
//   WAITING   -> RUNNING, SUSPENDED, CANCELLED
//   RUNNING   -> COMPLETED, FAILED, SUSPENDED, WAITING
//   FAILED    -> WAITING
//   COMPLETED -> WAITING
//   SUSPENDED -> WAITING, CANCELLED
//   CANCELLED -> WAITING
bool can_transition(JobStatus from, JobStatus to) noexcept;

// Throws InvalidTransition (naming both states) unless can_transition().
void check_transition(JobStatus from, JobStatus to);

// COMPLETED, FAILED and CANCELLED: the job will not run again unless retried
// by hand; it has a date_finished and may be pruned.
bool is_finished(JobStatus status) noexcept;

}  // namespace jobrunner
