#pragma once
// What the store needs to know about a job type: its name and its table.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jobrunner/core/decision.hpp"
#include "jobrunner/core/duration.hpp"

namespace jobrunner {

struct JobTypeSpec {
  // job.job_type, the advisory lock key and the runner's name ("foo").
  std::string name;
  // For log lines: "Ran 3 FooJobs."
  std::string display_name;
  // The type's own table and its columns: <table>(job, <target_column>,
  // job_type, json_data), <target_column> referencing <target_table>(id).
  // All three empty for a type without a table of its own (a nightly
  // report): its jobs have no target, and their metadata is job.json_data.
  std::string table;
  std::string target_column;
  std::string target_table;
  // The value of <table>.job_type for this type (Launchpad's FooJobType);
  // 0 for a type without a table.
  int type_code = 0;
  RetryPolicy retry;
  Duration lease = std::chrono::minutes(5);
  int default_max_retries = 3;
  // Launchpad: "if there's already a job for the foo, don't create a new one".
  bool one_pending_per_target = true;
  // Run each job in a forked child process (Launchpad's TwistedJobRunner),
  // so a crash, a hang or a leak costs one job, not the runner.
  bool isolate = false;
  // With isolation: kill a job that runs longer than this.
  std::optional<Duration> job_timeout;
  // With isolation: RLIMIT_AS of the child, in bytes.
  std::optional<std::uint64_t> memory_limit;
  // The type's jobs do no database work of their own (they implement
  // NonTransactionalJob), so COMPLETED need not commit with their work: a
  // runner writes the completions of many jobs in one statement. The price:
  // a runner that dies between a job's end and that write (at most a few
  // milliseconds) leaves a job that ran, which is rescued and runs again.
  bool batch_completions = false;

  // Whether the type's jobs have a table of their own (foojob), and so a
  // target. check_table_fields() says whether the fields agree on it.
  bool has_table() const noexcept { return !table.empty(); }
};

// A spec names its table, target column and target table together, or none
// of them (and then type code 0), as the registry requires: ConfigError
// naming the type and the fields otherwise.
void check_table_fields(const JobTypeSpec& spec);

// What a runner's compiled spec and the type's registry row (job_type) must
// agree on: name, table, target column, type code and batch completions.
// One line per difference, naming the field and both values; empty when
// they agree. The defaults (retries, retry delay, lease) may differ: the
// registry's win.
std::vector<std::string> spec_differences(const JobTypeSpec& compiled,
                                          const JobTypeSpec& registered);

}  // namespace jobrunner
