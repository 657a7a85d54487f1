#pragma once
// CommandJob: runs one command of the runner's allowlist (allowlist.hpp,
// docs/command-jobs.md) as a program of its own, never through a shell. A
// type without a table of its own: no target, its metadata in
// job.json_data:
//
//   {"command": "nightly-export", "args": {"since": "2026-11-01", "limit": 500}}
//
// What a job does (perform()):
//  1. the allowlist turns the metadata into an argv, or throws UserError
//     (an unknown command, a field that fails its checks): nothing runs;
//  2. runs it with run_process (jobrunner/runtime/subprocess.hpp): its own
//     process group, stdin /dev/null, the allowlist's environment, directory,
//     user, memory limit and timeout (the runner's --job-timeout too, when
//     shorter); a lost lease ends it at once;
//  3. gives back, whatever the outcome: the last 2 KiB of stdout and of
//     stderr for job.log (with the exit status), and as job.result the last
//     line of stdout if it is a JSON object;
//  4. maps how it ended to an outcome by the command's exit_codes: returns
//     (COMPLETED), or throws RetryError, UserError, SuspendJob or
//     CommandFailed (an error report).
//
// Its jobs do no database work of their own, so the type has batch
// completions: a worker holds no transaction (nor connection) while a
// command runs.

#include <functional>
#include <stdexcept>

#include "command/allowlist.hpp"
#include "jobrunner/runtime/runnable_job.hpp"

namespace jobrunner::command {

// How much of stdout and of stderr goes into job.log (which keeps its newest
// 8000 characters, so two attempts' tails fit), and the longest last line of
// stdout read as the result.
inline constexpr std::size_t kLogTailBytes = 2048;
inline constexpr std::size_t kResultLineBytes = 65536;

// A command that failed: it exited with a status mapped to "error", was
// killed by a signal, timed out, or could not be started.
class CommandFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class CommandJob : public NonTransactionalJob {
 public:
  CommandJob(Job job, const Allowlist& allowlist) : NonTransactionalJob(std::move(job)), allowlist_(allowlist) {}
  void perform() override;
  // Adds the command's name to job_id and job_type.
  nlohmann::json oops_vars() const override;

 private:
  const Allowlist& allowlist_;
};

// The type as the registry knows it: name "command", no table, batch
// completions.
JobTypeSpec command_job_spec();

// The type, whose jobs run the commands of `allowlist()`, asked when each job
// is made (so it may be loaded after the type is built: run-command-jobs
// loads it in RunnerExtension::configure).
JobType command_job_type(std::function<const Allowlist&()> allowlist);

}  // namespace jobrunner::command
