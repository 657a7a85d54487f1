#include "jobrunner/core/decision.hpp"

namespace jobrunner {
namespace {

std::string describe(const Outcome& outcome) {
  if (outcome.error_type.empty()) return outcome.message;
  return outcome.error_type + ": " + outcome.message;
}

}  // namespace

Decision decide(const Outcome& outcome, int attempt_count, int max_retries,
                const RetryPolicy& policy) {
  using Kind = Outcome::Kind;
  Decision d;
  switch (outcome.kind) {
    case Kind::success:
      d.next = JobStatus::completed;
      d.log_line = "completed on attempt " + std::to_string(attempt_count);
      return d;
    case Kind::user_error:
      d.next = JobStatus::failed;
      d.notify_requester = true;
      d.log_line = "failed with a user error: " + outcome.message;
      return d;
    case Kind::suspend:
      d.next = JobStatus::suspended;
      d.log_line = "suspended: " + outcome.message;
      return d;
    case Kind::unexpected:
      d.next = JobStatus::failed;
      d.file_error_report = true;
      d.log_line = "failed: " + describe(outcome);
      return d;
    case Kind::retry:
    case Kind::lease_expired:
    case Kind::timeout:
      // A timeout is retried like a retry error, but always reported: a job
      // that hangs is a bug to look at even when a later attempt succeeds.
      d.file_error_report = outcome.kind == Kind::timeout;
      if (attempt_count <= max_retries) {
        d.next = JobStatus::waiting;
        d.retry_after = outcome.kind == Kind::lease_expired ? Duration::zero() : policy.retry_delay;
        d.log_line = "attempt " + std::to_string(attempt_count) + " of " +
                     std::to_string(max_retries + 1) + " will be retried: " + describe(outcome);
      } else {
        d.next = JobStatus::failed;
        d.file_error_report = true;
        d.log_line = "failed after " + std::to_string(attempt_count) +
                     " attempts (retries spent): " + describe(outcome);
      }
      return d;
  }
  return d;
}

}  // namespace jobrunner
