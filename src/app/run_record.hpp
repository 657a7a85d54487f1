#pragma once
// The runner_run row of one run of a runner (Launchpad's ScriptActivity).
// It is the one place that records how a run ended: started once the run
// holds its lock, then finished exactly once, with the exit code (and, in
// the same transaction, the type's cron lock released), on every
// path that can still reach the database: the normal end (0), an error that
// run_guarded mapped to 70, 75 or 78, and a graceful stop whose grace period
// ran out (0, from the lease keeper's thread just before it ends the
// process). Only a second signal (128 + N) ends the process without it.

#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <string>

#include "jobrunner/pg/connection.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/runtime/runner.hpp"

namespace jobrunner::app {

class RunRecord {
 public:
  RunRecord(std::string conninfo, const JobTypeSpec& spec, std::string hostname, int pid);

  // Inserts the row on `conn` and commits; the run holds the type's cron
  // lock with `type_lock_token`, if given. Throws what the insert throws
  // (the run then has no row, finish() does nothing, and the lock lapses).
  void start(pg::Connection& conn, std::optional<std::string> type_lock_token = {});

  // Records the end of the run (date_finished, exit code, figures): on
  // `conn` when given and still open, and if that fails (or there is none)
  // once on a fresh connection, which gives up after the connect timeout. Returns nullptr
  // when it is recorded, or when there is nothing to record (the run never
  // started, or its end was recorded already); else the last error, after
  // logging that the row stays without date_finished. Thread-safe; never
  // throws.
  std::exception_ptr finish(int exit_code, const RunStats& stats, pg::Connection* conn) noexcept;

  // The run's runner_run id once started (RunnerOptions::run_id).
  std::optional<std::int64_t> id() const;

 private:
  void write(pg::Connection& conn, int exit_code, const RunStats& stats) const;

  const std::string conninfo_;
  const pg::JobStore store_;
  const std::string hostname_;
  const int pid_;
  mutable std::mutex mutex_;
  std::optional<std::int64_t> id_;  // set once started
  std::optional<std::string> type_lock_token_;
  bool finished_ = false;
};

}  // namespace jobrunner::app
