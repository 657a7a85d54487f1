#pragma once
// run-noop-jobs as the bench starts and watches it: against the bench
// database, logging warnings only, each run's stderr in a file of its own
// under a temporary directory (kept, and named, when a measure failed).

#include <chrono>
#include <filesystem>
#include <string>

#include "jobrunner/pg/connection.hpp"
#include "process.hpp"

namespace jobrunner::bench {

struct DaemonMode {
  int concurrency = 1;
  bool isolate = false;
  bool durable_claims = false;  // run-noop-jobs --durable-claims
  std::string label() const;    // "daemon c4 isolated", "daemon c1 in-process durable claims"
};

class RunnerUnderTest {
 public:
  // Creates the log directory; the runner is looked for at each start, so
  // the measures that need none run without it.
  RunnerUnderTest(const std::filesystem::path& bin_dir, std::string conninfo);
  // Removes the log directory unless keep_logs() was called.
  ~RunnerUnderTest();
  RunnerUnderTest(const RunnerUnderTest&) = delete;
  RunnerUnderTest& operator=(const RunnerUnderTest&) = delete;

  const std::filesystem::path& executable() const noexcept { return executable_; }
  const std::filesystem::path& log_dir() const noexcept { return log_dir_; }
  void keep_logs() noexcept { keep_logs_ = true; }

  // Both starts throw MeasureFailed when bin_dir has no executable
  // run-noop-jobs.
  //
  // One cron run: run-noop-jobs --log-level warn --db X.
  Process start_cron();
  // run-noop-jobs --version: what starting the process costs, without any
  // database work (the baseline of an idle tick).
  Process start_version_only();
  // run-noop-jobs --log-level warn --db X --daemon --concurrency N
  // [--isolate] [--durable-claims], returned once it is up and idle: its runner_run row
  // exists, and a moment has passed for it to LISTEN. Throws MeasureFailed
  // if it exits or is not up within 30 s.
  Process start_daemon(const DaemonMode& mode, pg::Connection& conn);

 private:
  Process spawn(const std::vector<std::string>& options, const std::string& label);
  std::filesystem::path executable_;
  std::string conninfo_;
  std::filesystem::path log_dir_;
  bool keep_logs_ = false;
  int runs_ = 0;  // numbers the stderr files
};

// How long a drain may go without a single job finishing before the bench
// calls it stuck.
inline constexpr std::chrono::seconds kStallTimeout{60};

// Waits, polling every 20 ms, until no NoopJob is WAITING or RUNNING.
// Throws MeasureFailed (with the runner's stderr) when the runner exits
// meanwhile or the queue does not move for kStallTimeout.
void wait_until_drained(pg::Connection& conn, Process& runner);

// Waits for a cron run to exit; throws MeasureFailed when the queue does
// not move for kStallTimeout meanwhile. The exit is seen at once.
ExitInfo wait_for_exit(pg::Connection& conn, Process& runner);

// Reads the daemon's peak RSS (VmHWM, before it starts shutting down), then
// sends SIGTERM and waits for it to exit (SIGKILL after 60 s). Returns the
// peak RSS in KiB; throws MeasureFailed unless it exited 0.
std::int64_t stop_daemon(Process& daemon);

// Throws MeasureFailed, with the tail of the runner's stderr, unless
// `exit` is a success.
void expect_success(const Process& runner, const ExitInfo& exit, const std::string& what);

}  // namespace jobrunner::bench
