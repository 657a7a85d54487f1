#pragma once
// FooJob: the example job type, after Launchpad's "Implementing a job type".
// A FooJob "frozzles" a Foo: it writes one foo_frozzle row in the job's own
// transaction, so that row exists exactly when the job COMPLETED.
//
// Demonstration knobs, read from the job's metadata (foojob.json_data):
//   "work_ms": N                 sleep N milliseconds first (simulated work)
//   "outcome": "success"         (default) frozzle and complete
//              "retry"           raise a RetryError (retried after the delay)
//              "user_error"      raise a UserError (failed, requester notified)
//              "error"           raise an unexpected error (failed, error report)
//              "suspend"         ask to be suspended
//   "succeed_on_attempt": N      with "retry": succeed from attempt N on
//   "message": "..."             the text of the raised error
//   "allocate_mb": N             allocate and touch N MiB first (to meet
//                                --memory-limit)
//   "crash": "segv" | "abort" | "exit"
//                                end the process abruptly first (to show what
//                                --isolate does; without it the runner dies)
//   "stderr": "..."              write this line to stderr first
//   "report_pid": true           write "foo job <id> ran in process <pid>"
//                                to stderr first
// Every outcome but success writes its frozzle first, to show that the
// failure paths roll the job's work back.

#include "jobrunner/runtime/runnable_job.hpp"

namespace jobrunner::foo {

// foojob.job_type values (Launchpad's FooJobType).
enum class FooJobType : int {
  do_foo = 0,  // Do Foo: this job frozzles a Foo.
};

class DoFooJob : public RunnableJob {
 public:
  using RunnableJob::RunnableJob;
  void run(pg::Statements& db) override;
  // Adds foo_id and foo_job_type to job_id and job_type.
  nlohmann::json oops_vars() const override;
};

// The type as runners and jobctl know it: name "foo", table foojob.
const JobType& foo_job_type();

}  // namespace jobrunner::foo
