#pragma once
// The one place where what a job threw becomes an Outcome.

#include <exception>

#include "jobrunner/core/outcome.hpp"

namespace jobrunner {

// Classifies an exception thrown by RunnableJob::run() or by committing its
// work. DatabaseUnavailable is not an outcome of the job: it is rethrown so
// the runner stops (the job's lease expires and the job is rescued).
Outcome outcome_of(std::exception_ptr error);

}  // namespace jobrunner
