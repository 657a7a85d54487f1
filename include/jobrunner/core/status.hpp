#pragma once
// Job statuses and Launchpad's transition table.

#include <cstdint>
#include <optional>
#include <string_view>

namespace jobrunner {

// Values are Launchpad's and are stored in job.status.
enum class JobStatus : std::int16_t {
  waiting = 0,
  running = 1,
  completed = 2,
  failed = 3,
  suspended = 4,
};

// "WAITING", "RUNNING", ... as operators see them.
std::string_view to_string(JobStatus status) noexcept;

// Accepts the names above in any case; nullopt for anything else.
std::optional<JobStatus> parse_status(std::string_view text) noexcept;

// The status a job.status value stands for; nullopt when out of range.
std::optional<JobStatus> status_from_code(int code) noexcept;

// True when Launchpad's table allows moving from `from` to `to`:
//   WAITING   -> RUNNING, SUSPENDED
//   RUNNING   -> COMPLETED, FAILED, SUSPENDED, WAITING
//   FAILED    -> WAITING
//   COMPLETED -> WAITING
//   SUSPENDED -> WAITING
bool can_transition(JobStatus from, JobStatus to) noexcept;

// Throws InvalidTransition (naming both states) unless can_transition().
void check_transition(JobStatus from, JobStatus to);

// COMPLETED and FAILED: the job will not run again unless retried by hand.
bool is_finished(JobStatus status) noexcept;

}  // namespace jobrunner
