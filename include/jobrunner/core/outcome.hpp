#pragma once
// How a job's run ended. A job signals the Launchpad outcomes by throwing one
// of the exceptions below from run(); the runner turns whatever it caught into
// an Outcome in exactly one place (runtime/outcome_of.cpp).

#include <optional>
#include <stdexcept>
#include <string>

#include "jobrunner/core/duration.hpp"

namespace jobrunner {

// Transient trouble: run the job again after the type's retry delay, while
// attempts remain (Launchpad's retry_error_types). A minimum delay (e.g. an
// HTTP Retry-After) makes the retry wait at least that long, whatever the
// type's policy says (decide()).
class RetryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  RetryError(const std::string& message, Duration min_delay)
      : std::runtime_error(message), min_delay_(min_delay) {}
  std::optional<Duration> min_delay() const noexcept { return min_delay_; }

 private:
  std::optional<Duration> min_delay_;
};

// The requester asked for something that cannot be done: fail the job and
// notify the requester, file no error report (Launchpad's user_error_types).
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Park the job as SUSPENDED until someone resumes it.
class SuspendJob : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Outcome {
  enum class Kind {
    success,
    retry,          // RetryError
    user_error,     // UserError
    suspend,        // SuspendJob
    unexpected,     // any other exception: an error report
    lease_expired,  // the runner lost the job: it died (found by rescue), or its
                    // connection failed mid-job
    timeout,        // an isolated job ran past its timeout and was killed
  };
  Kind kind = Kind::success;
  std::string error_type;  // e.g. the exception's type name
  std::string message;
  // retry: the shortest wait before the next attempt (RetryError's).
  std::optional<Duration> min_delay;
};

}  // namespace jobrunner
