#pragma once
// The pure function at the heart of the runner: given a job that has just
// run (or was found with an expired lease) and how it ended, what happens
// next. No I/O; the store writes what this decides.

#include <functional>
#include <optional>
#include <string>

#include "jobrunner/core/duration.hpp"
#include "jobrunner/core/outcome.hpp"
#include "jobrunner/core/status.hpp"

namespace jobrunner {

// How long a job that will be retried waits (docs/architecture.md, "Retry
// delays and backoff").
//
// Without backoff (the default, and every type registered before patch
// 0014): every retry waits retry_delay.
//
// With backoff: the wait doubles with each attempt, from retry_delay up to
// max_retry_delay, with "equal jitter": after attempt n the ceiling is
// min(max_retry_delay, retry_delay * 2^(n-1)) and the wait is half the
// ceiling plus a random part of the other half. Equal rather than full
// jitter (a random part of the whole ceiling): full jitter spreads clients a
// little better but may draw a wait near zero, a retry at once against a
// receiver that just said it is overloaded; equal jitter keeps every wait at
// least half its ceiling, so waits still grow with each attempt, while
// jobs that failed together (a receiver's outage) spread over half the
// ceiling instead of coming back at the same instant.
//
// Either way a retry never comes sooner than the outcome's min_delay (a
// RetryError's, e.g. an HTTP Retry-After), which also wins over the cap.
struct RetryPolicy {
  Duration retry_delay = std::chrono::seconds(30);
  bool backoff = false;
  Duration max_retry_delay = std::chrono::hours(1);

  friend bool operator==(const RetryPolicy&, const RetryPolicy&) = default;
};

// A source of uniform values in [0, 1): the random part of a backoff delay.
// The runtime passes a random one (random_jitter()); tests pass a fixed one,
// so decide() stays a pure function of its arguments. An empty source means
// no jitter: the whole ceiling.
using JitterSource = std::function<double()>;

// A source backed by a per-thread pseudo-random generator, seeded from
// std::random_device; safe to call from any thread.
[[nodiscard]] JitterSource random_jitter();

// The wait before the retry after attempt `attempt_count` (1 for the first
// attempt) by `policy` alone, before any minimum delay; `jitter` as for
// decide(). Never negative; saturates at max_retry_delay with backoff.
[[nodiscard]] Duration retry_delay_for(const RetryPolicy& policy, int attempt_count,
                                       const JitterSource& jitter = {});

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
// timeout files an error report either way. A retry waits
// retry_delay_for(policy, attempt_count, jitter), but never less than
// outcome.min_delay; an expired lease is retried at once (its attempt did
// not fail, its runner did).
[[nodiscard]] Decision decide(const Outcome& outcome, int attempt_count, int max_retries,
                              const RetryPolicy& policy, const JitterSource& jitter = {});

}  // namespace jobrunner
