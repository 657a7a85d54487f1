#include "runner_under_test.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <spdlog/spdlog.h>

#include "failure.hpp"
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
  explicit StallWatch(pg::Connection& conn) : conn_(conn) {}
  void check(const Process& runner) {
    const auto now = Clock::now();
    if (now < next_count_) return;
    next_count_ = now + 1s;
    const auto unfinished = count_unfinished(conn_);
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
  Clock::time_point next_count_ = Clock::now();
  Clock::time_point last_progress_ = Clock::now();
  std::int64_t last_unfinished_ = -1;
};

}  // namespace

std::string DaemonMode::label() const {
  return drain_label(true, concurrency, isolate) + (durable_claims ? " durable claims" : "");
}

RunnerUnderTest::RunnerUnderTest(const std::filesystem::path& bin_dir, std::string conninfo)
    : executable_(bin_dir / "run-noop-jobs"), conninfo_(std::move(conninfo)) {
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

Process RunnerUnderTest::spawn(const std::vector<std::string>& options, const std::string& label) {
  if (access(executable_.c_str(), X_OK) != 0) {
    throw MeasureFailed("no executable " + executable_.string() +
                        " (build the run-noop-jobs target, or pass --bin-dir)");
  }
  std::vector<std::string> args{executable_.string(), "--log-level", "warn", "--db", conninfo_};
  for (const auto& option : options) args.push_back(option);
  std::string file = std::to_string(++runs_) + "-" + label + ".stderr";
  for (auto& c : file) {
    if (c == ' ') c = '-';
  }
  return Process::spawn(args, log_dir_ / file);
}

Process RunnerUnderTest::start_cron() { return spawn({}, "cron"); }

Process RunnerUnderTest::start_version_only() { return spawn({"--version"}, "version"); }

Process RunnerUnderTest::start_daemon(const DaemonMode& mode, pg::Connection& conn) {
  std::vector<std::string> args{"--daemon", "--concurrency", std::to_string(mode.concurrency)};
  if (mode.isolate) args.emplace_back("--isolate");
  if (mode.durable_claims) args.emplace_back("--durable-claims");
  auto daemon = spawn(args, mode.label());
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

void wait_until_drained(pg::Connection& conn, Process& runner) {
  StallWatch stall(conn);
  for (;;) {
    if (!any_unfinished(conn)) return;
    if (auto exit = runner.poll()) {
      throw MeasureFailed("the runner " + exit->describe() + " before the queue was drained\n" +
                          runner.stderr_tail());
    }
    stall.check(runner);
    std::this_thread::sleep_for(kDrainPoll);
  }
}

ExitInfo wait_for_exit(pg::Connection& conn, Process& runner) {
  StallWatch stall(conn);
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
