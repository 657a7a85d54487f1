#include "runner_under_test.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <spdlog/spdlog.h>

#include "failure.hpp"
#include "foo/foo_job.hpp"
#include "noop/noop_job.hpp"
#include "queue.hpp"
#include "results.hpp"

namespace jobrunner::bench {
namespace {

using namespace std::chrono_literals;

constexpr auto kDrainPoll = 20ms;
constexpr auto kStartTimeout = 30s;
constexpr auto kStopTimeout = 60s;
// After its runner_run row appears, a daemon still has to LISTEN and find
// the queue empty; jobs committed before that would wait a poll interval.
constexpr auto kSettle = 300ms;

// Fails a drain whose queue has not moved for kStallTimeout. Counts at most
// once a second: the count is dearer than the 20 ms poll.
class StallWatch {
 public:
  StallWatch(pg::Connection& conn, std::string_view job_type) : conn_(conn), job_type_(job_type) {}
  void check(const Process& runner) {
    const auto now = Clock::now();
    if (now < next_count_) return;
    next_count_ = now + 1s;
    const auto unfinished = count_unfinished(conn_, job_type_);
    if (unfinished != last_unfinished_) {
      last_unfinished_ = unfinished;
      last_progress_ = now;
    } else if (now - last_progress_ > kStallTimeout) {
      throw MeasureFailed("the runner neither finished a job nor exited for " +
                          std::to_string(kStallTimeout.count()) + " s; " +
                          std::to_string(unfinished) + " jobs still WAITING or RUNNING\n" +
                          runner.stderr_tail());
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  pg::Connection& conn_;
  std::string_view job_type_;
  Clock::time_point next_count_ = Clock::now();
  Clock::time_point last_progress_ = Clock::now();
  std::int64_t last_unfinished_ = -1;
};

}  // namespace

std::string_view executable_name(Program program) {
  return program == Program::foo ? "run-foo-jobs" : "run-noop-jobs";
}

const std::string& job_type_name(Program program) {
  return program == Program::foo ? foo::foo_job_type().spec.name
                                 : noop::noop_job_type().spec.name;
}

std::string RunMode::label() const {
  return drain_label(daemon, concurrency, isolate) + (durable_claims ? " durable claims" : "") +
         (program == Program::foo ? ", FooJobs" : "");
}

RunnerUnderTest::RunnerUnderTest(std::filesystem::path bin_dir, std::string conninfo,
                                 std::optional<int> prefetch)
    : bin_dir_(std::move(bin_dir)), conninfo_(std::move(conninfo)), prefetch_(prefetch) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "jobrunner-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw MeasureFailed("cannot create a temporary directory from " + pattern);
  }
  log_dir_ = pattern;
}

RunnerUnderTest::~RunnerUnderTest() {
  std::error_code ignored;
  if (!keep_logs_) std::filesystem::remove_all(log_dir_, ignored);
}

std::filesystem::path RunnerUnderTest::executable(Program program) const {
  return bin_dir_ / executable_name(program);
}

Process RunnerUnderTest::spawn(Program program, const std::vector<std::string>& options,
                               const std::string& label) {
  const auto exe = executable(program);
  if (access(exe.c_str(), X_OK) != 0) {
    throw MeasureFailed("no executable " + exe.string() + " (build the " +
                        std::string(executable_name(program)) + " target, or pass --bin-dir)");
  }
  std::vector<std::string> args{exe.string(), "--log-level", "warn", "--db", conninfo_};
  for (const auto& option : options) args.push_back(option);
  std::string file = std::to_string(++runs_) + "-" + label + ".stderr";
  for (auto& c : file) {
    if (c == ' ') c = '-';
  }
  return Process::spawn(args, log_dir_ / file);
}

std::vector<std::string> RunnerUnderTest::run_options(const RunMode& mode) const {
  std::vector<std::string> args;
  if (mode.daemon) args.emplace_back("--daemon");
  // A cron run at concurrency 1 gets no option, as cron starts it.
  if (mode.daemon || mode.concurrency != 1) {
    args.insert(args.end(), {"--concurrency", std::to_string(mode.concurrency)});
  }
  if (mode.isolate) args.emplace_back("--isolate");
  if (mode.durable_claims) args.emplace_back("--durable-claims");
  if (prefetch_) args.insert(args.end(), {"--prefetch", std::to_string(*prefetch_)});
  return args;
}

Process RunnerUnderTest::start_cron(const RunMode& mode) {
  RunMode cron = mode;
  cron.daemon = false;
  return spawn(cron.program, run_options(cron), cron.label());
}

Process RunnerUnderTest::start_version_only() {
  return spawn(Program::noop, {"--version"}, "version");
}

Process RunnerUnderTest::start_daemon(const RunMode& mode, pg::Connection& conn) {
  RunMode daemon_mode = mode;
  daemon_mode.daemon = true;
  auto daemon = spawn(mode.program, run_options(daemon_mode), daemon_mode.label());
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  for (;;) {
    if (auto exit = daemon.poll()) {
      throw MeasureFailed(mode.label() + " " + exit->describe() + " at start\n" +
                          daemon.stderr_tail());
    }
    auto tx = conn.begin();
    const bool up = tx.exec("SELECT EXISTS (SELECT 1 FROM runner_run WHERE pid = $1"
                            " AND date_finished IS NULL) AS up",
                            static_cast<int>(daemon.pid()))
                        .at(0)
                        .boolean("up");
    tx.commit();
    if (up) break;
    if (std::chrono::steady_clock::now() > deadline) {
      throw MeasureFailed(mode.label() + " was not up after " +
                          std::to_string(kStartTimeout.count()) + " s\n" + daemon.stderr_tail());
    }
    std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(kSettle);
  return daemon;
}

void wait_until_drained(pg::Connection& conn, Process& runner, std::string_view job_type) {
  StallWatch stall(conn, job_type);
  for (;;) {
    if (!any_unfinished(conn, job_type)) return;
    if (auto exit = runner.poll()) {
      throw MeasureFailed("the runner " + exit->describe() + " before the queue was drained\n" +
                          runner.stderr_tail());
    }
    stall.check(runner);
    std::this_thread::sleep_for(kDrainPoll);
  }
}

ExitInfo wait_for_exit(pg::Connection& conn, Process& runner, std::string_view job_type) {
  StallWatch stall(conn, job_type);
  for (;;) {
    if (auto exit = runner.wait_for(1s)) return *exit;
    stall.check(runner);
  }
}

std::int64_t stop_daemon(Process& daemon) {
  const auto peak_rss_kib = daemon.peak_rss_kib();
  daemon.signal(SIGTERM);
  auto exit = daemon.wait_for(kStopTimeout);
  if (!exit) {
    daemon.signal(SIGKILL);
    throw MeasureFailed("the daemon did not exit within " + std::to_string(kStopTimeout.count()) +
                        " s of SIGTERM\n" + daemon.stderr_tail());
  }
  expect_success(daemon, *exit, "the daemon, after SIGTERM,");
  return peak_rss_kib;
}

void expect_success(const Process& runner, const ExitInfo& exit, const std::string& what) {
  if (!exit.success()) {
    throw MeasureFailed(what + " " + exit.describe() + "\n" + runner.stderr_tail());
  }
}

}  // namespace jobrunner::bench
