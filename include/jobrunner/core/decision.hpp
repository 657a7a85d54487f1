#pragma once
// The pure function at the heart of the runner: given a job that has just
// run (or was found with an expired lease) and how it ended, what happens
// next. No I/O; the store writes what this decides.

#include <optional>
#include <string>

#include "jobrunner/core/duration.hpp"
#include "jobrunner/core/outcome.hpp"
#include "jobrunner/core/status.hpp"

namespace jobrunner {

struct RetryPolicy {
  Duration retry_delay = std::chrono::seconds(30);
};

struct Decision {
  JobStatus next = JobStatus::completed;
  // Set when the job goes back to WAITING: scheduled_start = now + this.
  std::optional<Duration> retry_after;
  bool file_error_report = false;
  bool notify_requester = false;
  // One line for the job's log and the runner's log.
  std::string log_line;
};

// attempt_count counts the attempt that just ended. A retryable outcome
// (retry, lease_expired, timeout) is queued again while attempt_count <=
// max_retries, and fails with an error report after that (retries spent). A
// timeout files an error report either way.
[[nodiscard]] Decision decide(const Outcome& outcome, int attempt_count, int max_retries,
                              const RetryPolicy& policy);

}  // namespace jobrunner
