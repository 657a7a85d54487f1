#pragma once
// How a job's run ended. A job signals the Launchpad outcomes by throwing one
// of the exceptions below from run(); the runner turns whatever it caught into
// an Outcome in exactly one place (runtime/outcome_of.cpp).

#include <stdexcept>
#include <string>

namespace jobrunner {

// Transient trouble: run the job again after the type's retry delay, while
// attempts remain (Launchpad's retry_error_types).
class RetryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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
};

}  // namespace jobrunner
