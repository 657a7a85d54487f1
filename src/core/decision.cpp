#include "jobrunner/core/decision.hpp"

#include <algorithm>
#include <random>

namespace jobrunner {
namespace {

// A jitter value, clamped to [0, 1] so that a bad source cannot make a wait
// negative or longer than its ceiling.
double draw(const JitterSource& jitter) {
  if (!jitter) return 1.0;
  const double value = jitter();
  if (!(value >= 0.0)) return 0.0;  // also NaN
  return std::min(value, 1.0);
}

std::string describe(const Outcome& outcome) {
  if (outcome.error_type.empty()) return outcome.message;
  return outcome.error_type + ": " + outcome.message;
}

}  // namespace

JitterSource random_jitter() {
  return [] {
    thread_local std::mt19937_64 generator{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
  };
}

Duration retry_delay_for(const RetryPolicy& policy, int attempt_count,
                         const JitterSource& jitter) {
  const auto base = std::max(policy.retry_delay, Duration::zero());
  if (!policy.backoff) return base;
  const auto cap = std::max(policy.max_retry_delay, base);
  // The ceiling doubles from the base: base * 2^(attempt - 1), saturating at
  // the cap (doubling in a loop never overflows: it stops at the cap).
  auto ceiling = base;
  for (int n = 1; n < attempt_count && ceiling < cap; ++n) {
    ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
  }
  ceiling = std::min(ceiling, cap);
  // Equal jitter: half the ceiling, plus a random part of the other half.
  const double part = draw(jitter);
  if (part >= 1.0) return ceiling;
  const auto half = ceiling / 2;
  const auto spread = ceiling - half;
  return half +
         Duration(static_cast<Duration::rep>(static_cast<double>(spread.count()) * part));
}

Decision decide(const Outcome& outcome, int attempt_count, int max_retries,
                const RetryPolicy& policy, const JitterSource& jitter) {
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
        if (outcome.kind == Kind::lease_expired) {
          d.retry_after = Duration::zero();
        } else {
          d.retry_after = std::max(retry_delay_for(policy, attempt_count, jitter),
                                   outcome.min_delay.value_or(Duration::zero()));
        }
        d.log_line = "attempt " + std::to_string(attempt_count) + " of " +
                     std::to_string(max_retries + 1) + " will be retried";
        // The wait is worth a word when it is not the type's one fixed delay.
        if (outcome.kind != Kind::lease_expired && (policy.backoff || outcome.min_delay)) {
          d.log_line += " in " + format_duration(*d.retry_after);
        }
        d.log_line += ": " + describe(outcome);
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
