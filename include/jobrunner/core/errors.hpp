#pragma once
// The error classes of jobrunner. Each says what went wrong in words an
// operator can act on; executables map each class to one exit code.

#include <stdexcept>
#include <string>

#include "jobrunner/core/status.hpp"

namespace jobrunner {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A status change that Launchpad's transition table forbids.
class InvalidTransition : public Error {
 public:
  InvalidTransition(JobStatus from, JobStatus to);
  JobStatus from() const noexcept { return from_; }
  JobStatus to() const noexcept { return to_; }

 private:
  JobStatus from_;
  JobStatus to_;
};

// No such job (or a job of another type), foo, error report, ...
class NotFound : public Error {
 public:
  using Error::Error;
};

// A second pending job of the same type for the same target.
class DuplicateJob : public Error {
 public:
  using Error::Error;
};

// Input that cannot be accepted: malformed JSON, a bad duration, an unknown
// reference. Nothing has been written when this is thrown.
class BadInput : public Error {
 public:
  using Error::Error;
};

// A schedule that cannot be accepted: a malformed cron expression (the
// message names the field and its text), one that can never fire, or an
// unknown time zone. A kind of bad input: nothing has been written.
class BadSchedule : public BadInput {
 public:
  using BadInput::BadInput;
};

// The installation is not usable as configured: schema not migrated, an
// edited migration, an unreadable permissions file.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// The database cannot be reached or the connection broke. Retrying later
// may succeed (sysexits' EX_TEMPFAIL).
class DatabaseUnavailable : public Error {
 public:
  using Error::Error;
};

}  // namespace jobrunner
