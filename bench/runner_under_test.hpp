#pragma once
// The runners as the bench starts and watches them (run-noop-jobs, and
// run-foo-jobs for the transactional drain): against the bench database,
// logging warnings only, each run's stderr in a file of its own under a
// temporary directory (kept, and named, when a measure failed).

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "jobrunner/pg/connection.hpp"
#include "process.hpp"

namespace jobrunner::bench {

// The job types the bench drains, each with its runner executable.
enum class Program {
  noop,  // run-noop-jobs: NoopJobs, no work, batched completions
  foo,   // run-foo-jobs: FooJobs, one foo_frozzle row in each job's transaction
};
std::string_view executable_name(Program program);  // "run-noop-jobs"
const std::string& job_type_name(Program program);  // job.job_type: "noop", "foo"

struct RunMode {
  Program program = Program::noop;
  bool daemon = true;  // --daemon; false: one cron run
  int concurrency = 1;
  bool isolate = false;
  bool durable_claims = false;  // --durable-claims
  // "daemon c4 isolated", "cron c16 in-process", "daemon c1 in-process durable
  // claims", "daemon c16 in-process, FooJobs".
  std::string label() const;
};

class RunnerUnderTest {
 public:
  // Creates the log directory; the runners are looked for at each start, so
  // the measures that need none run without them. `prefetch`, when set, is
  // passed as --prefetch N to every runner started (not to --version).
  RunnerUnderTest(std::filesystem::path bin_dir, std::string conninfo,
                  std::optional<int> prefetch);
  // Removes the log directory unless keep_logs() was called.
  ~RunnerUnderTest();
  RunnerUnderTest(const RunnerUnderTest&) = delete;
  RunnerUnderTest& operator=(const RunnerUnderTest&) = delete;

  // The run-noop-jobs measured.
  std::filesystem::path executable() const { return executable(Program::noop); }
  std::filesystem::path executable(Program program) const;
  const std::filesystem::path& log_dir() const noexcept { return log_dir_; }
  void keep_logs() noexcept { keep_logs_ = true; }

  // The starts throw MeasureFailed when bin_dir has no such executable.
  //
  // One cron run: run-noop-jobs --log-level warn --db X [--concurrency N]
  // [--isolate] [--prefetch N] (mode.daemon is ignored).
  Process start_cron(const RunMode& mode = {.daemon = false});
  // run-noop-jobs --version: what starting the process costs, without any
  // database work (the baseline of an idle tick).
  Process start_version_only();
  // run-noop-jobs (or run-foo-jobs) --log-level warn --db X --daemon
  // --concurrency N [--isolate] [--durable-claims] [--prefetch N], returned
  // once it is up and idle: its runner_run row exists, and a moment has
  // passed for it to LISTEN. Throws MeasureFailed if it exits or is not up
  // within 30 s.
  Process start_daemon(const RunMode& mode, pg::Connection& conn);

 private:
  Process spawn(Program program, const std::vector<std::string>& options,
                const std::string& label);
  std::vector<std::string> run_options(const RunMode& mode) const;
  std::filesystem::path bin_dir_;
  std::string conninfo_;
  std::optional<int> prefetch_;
  std::filesystem::path log_dir_;
  bool keep_logs_ = false;
  int runs_ = 0;  // numbers the stderr files
};

// How long a drain may go without a single job finishing before the bench
// calls it stuck.
inline constexpr std::chrono::seconds kStallTimeout{60};

// Waits, polling every 20 ms, until no job of `job_type` is WAITING or
// RUNNING. Throws MeasureFailed (with the runner's stderr) when the runner
// exits meanwhile or the queue does not move for kStallTimeout.
void wait_until_drained(pg::Connection& conn, Process& runner, std::string_view job_type);

// Waits for a cron run to exit; throws MeasureFailed when the queue of
// `job_type` does not move for kStallTimeout meanwhile. The exit is seen at
// once.
ExitInfo wait_for_exit(pg::Connection& conn, Process& runner, std::string_view job_type);

// Reads the daemon's peak RSS (VmHWM, before it starts shutting down), then
// sends SIGTERM and waits for it to exit (SIGKILL after 60 s). Returns the
// peak RSS in KiB; throws MeasureFailed unless it exited 0.
std::int64_t stop_daemon(Process& daemon);

// Throws MeasureFailed, with the tail of the runner's stderr, unless
// `exit` is a success.
void expect_success(const Process& runner, const ExitInfo& exit, const std::string& what);

}  // namespace jobrunner::bench
