// Isolation and leases at run time: heartbeats that keep a long job's lease,
// --job-timeout, --memory-limit, crashing children and their stderr, through
// the real run-foo-jobs executable and through jobrunner::Runner in-process.
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "foo/foo_job.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/runtime/notification_hook.hpp"
#include "jobrunner/runtime/runner.hpp"
#include "program.hpp"
#include "runner_process_test.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::eventually;
using testing::Program;
using testing::ProcessResult;

constexpr std::uint64_t kMiB = 1024 * 1024;



struct ErrorReportRow {
  std::string error_type;
  std::string message;
};

class IsolationTest : public testing::RunnerProcessTest {
 protected:
  ProcessResult run_foo_jobs(const std::vector<std::string>& options) const {
    return testing::run_program(runner_argv(options));
  }

  // An in-process runner of FooJobs with `options` (owner filled in).
  RunStats run_in_process(RunnerOptions options) {
    if (options.owner.empty()) options.owner = "isolation-test";
    auto conn = db.connect();
    RecordingNotificationHook hook;
    Runner runner(conn, foo::foo_job_type(), std::move(options), hook);
    return runner.run_once();
  }

  std::vector<ErrorReportRow> error_reports_of(std::int64_t id) const {
    std::vector<ErrorReportRow> out;
    for (const auto& row :
         db.sql("SELECT error_type, message FROM error_report WHERE job = $1 ORDER BY id", id)) {
      out.push_back({row.text("error_type"), row.text("message")});
    }
    return out;
  }
};

// ---- Leases and heartbeats --------------------------------------------------

TEST_F(IsolationTest, heartbeats_keep_the_lease_of_a_job_that_runs_longer_than_its_lease) {
  const auto id = enqueue({{"work_ms", 3000}});
  Program runner(runner_argv({"--lease", "1s"}));

  ASSERT_TRUE(eventually([&] { return status_of(id) != kWaiting; })) << "never claimed";
  int samples = 0, samples_past_first_lease = 0, expired_samples = 0;
  auto conn = db.connect();
  for (;;) {
    auto tx = conn.begin();
    const auto rows = tx.exec(
        "SELECT status, lease_expires > now() AS live, "
        "now() > date_started + interval '1500 milliseconds' AS past_first_lease "
        "FROM job WHERE id = $1",
        id);
    tx.commit();
    const auto& row = rows.at(0);
    if (row.integer("status") != kRunning) break;
    ++samples;
    if (!row.boolean("live")) ++expired_samples;
    if (row.boolean("past_first_lease")) ++samples_past_first_lease;
    std::this_thread::sleep_for(200ms);
  }
  const auto result = runner.wait();

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(expired_samples, 0) << "of " << samples << " samples while RUNNING";
  // Without heartbeats the 1 s lease would have run out by these samples.
  EXPECT_GE(samples_past_first_lease, 2);
  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(attempts_of(id), 1);
  EXPECT_EQ(frozzles_of(id), 1);
}

// The contrast: a runner without conninfo has no LeaseKeeper, so the same
// observation that the test above makes fails here.
TEST_F(IsolationTest, without_heartbeats_the_lease_of_a_long_job_runs_out_while_it_runs) {
  const auto id = enqueue({{"work_ms", 3000}});
  std::atomic<bool> done{false};
  std::atomic<int> running_samples{0}, expired_samples{0};
  std::atomic<bool> watcher_failed{false};
  std::thread watcher([&] {
    try {
      auto conn = db.connect();
      while (!done) {
        auto tx = conn.begin();
        const auto rows = tx.exec(
            "SELECT status, coalesce(lease_expires < now(), false) AS expired FROM job "
            "WHERE id = $1",
            id);
        tx.commit();
        if (rows.at(0).integer("status") == kRunning) {
          ++running_samples;
          if (rows.at(0).boolean("expired")) ++expired_samples;
        }
        std::this_thread::sleep_for(100ms);
      }
    } catch (const std::exception&) {
      watcher_failed = true;
    }
  });

  const auto stats = run_in_process({.lease = 1s});
  done = true;
  watcher.join();

  ASSERT_FALSE(watcher_failed);
  EXPECT_EQ(stats.completed, 1);
  EXPECT_GT(running_samples, 0);
  EXPECT_GT(expired_samples, 0) << "of " << running_samples << " samples while RUNNING";
}

// ---- Timeouts ---------------------------------------------------------------

TEST_F(IsolationTest, a_job_timeout_kills_a_sleeping_job_which_is_retried_with_an_error_report) {
  const auto id = enqueue({{"work_ms", 30000}});

  const auto started = Clock::now();
  const auto result = run_foo_jobs({"--isolate", "--job-timeout", "1s"});
  const auto elapsed = Clock::now() - started;

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_LT(elapsed, 15s);
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(attempts_of(id), 1);
  // Retried after the type's retry delay, not at once.
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND scheduled_start > now()", id), 1);
  const auto reports = error_reports_of(id);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].error_type, "JobTimeout");
  EXPECT_NE(reports[0].message.find("1s"), std::string::npos) << reports[0].message;
  EXPECT_EQ(frozzles_of(id), 0);
}

TEST_F(IsolationTest, a_job_timeout_fails_a_job_that_has_no_retries_left) {
  const auto id = enqueue({{"work_ms", 30000}}, 0);

  const auto started = Clock::now();
  const auto result = run_foo_jobs({"--isolate", "--job-timeout", "1s"});
  const auto elapsed = Clock::now() - started;

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_LT(elapsed, 15s);
  EXPECT_EQ(status_of(id), kFailed);
  const auto reports = error_reports_of(id);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().error_type, "JobTimeout");
  EXPECT_EQ(frozzles_of(id), 0);
}

// ---- Memory limit -----------------------------------------------------------

TEST_F(IsolationTest, the_memory_limit_fails_an_allocating_job_and_leaves_the_runner_unlimited) {
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &before), 0);
  if (before.rlim_cur != RLIM_INFINITY) {
    GTEST_SKIP() << "this test process already has an address-space limit";
  }
  const auto id = enqueue({{"allocate_mb", 600}});

  const auto stats =
      run_in_process({.conninfo = db.conninfo(), .isolate = true, .memory_limit = 256 * kMiB});

  EXPECT_EQ(stats.completed, 0);
  EXPECT_EQ(stats.not_completed, 1);
  EXPECT_EQ(status_of(id), kFailed);
  const auto reports = error_reports_of(id);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].error_type, "std::bad_alloc");
  EXPECT_EQ(frozzles_of(id), 0);
  rlimit after{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &after), 0);
  EXPECT_EQ(after.rlim_cur, RLIM_INFINITY);
  EXPECT_EQ(after.rlim_max, before.rlim_max);
}

TEST_F(IsolationTest, a_job_that_stays_within_the_memory_limit_completes) {
  const auto id = enqueue({{"allocate_mb", 50}});

  const auto stats =
      run_in_process({.conninfo = db.conninfo(), .isolate = true, .memory_limit = 256 * kMiB});

  EXPECT_EQ(stats.completed, 1);
  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_TRUE(error_reports_of(id).empty());
  EXPECT_EQ(frozzles_of(id), 1);
}

// ---- Crashes ----------------------------------------------------------------

struct CrashCase {
  std::string crash;        // the job's "crash" knob
  std::string description;  // what the error report must say
};

// Names the case in test output instead of a dump of its bytes.
void PrintTo(const CrashCase& crash_case, std::ostream* out) { *out << crash_case.crash; }

class CrashingJobTest : public IsolationTest, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(CrashingJobTest, a_crashing_job_fails_with_an_error_report_and_the_runner_goes_on) {
  const auto crashing = enqueue({{"crash", GetParam().crash}});
  const auto next = enqueue(nlohmann::json::object());

  const auto result = run_foo_jobs({"--isolate"});

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(status_of(crashing), kFailed);
  const auto reports = error_reports_of(crashing);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].error_type, "ChildCrashed");
  EXPECT_NE(reports[0].message.find(GetParam().description), std::string::npos)
      << reports[0].message;
  EXPECT_EQ(frozzles_of(crashing), 0);
  EXPECT_EQ(status_of(next), kCompleted);
  EXPECT_EQ(frozzles_of(next), 1);
  EXPECT_NE(result.err.find("Ran 1 FooJobs."), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("1 FooJobs did not complete."), std::string::npos) << result.err;
}

INSTANTIATE_TEST_SUITE_P(IsolationTest, CrashingJobTest,
                         ::testing::Values(CrashCase{"segv", "killed by signal 11"},
                                           CrashCase{"abort", "killed by signal 6"},
                                           CrashCase{"exit", "exited with status 3"}),
                         [](const auto& test_info) { return test_info.param.crash; });

// ---- Stderr -----------------------------------------------------------------

TEST_F(IsolationTest,
       what_an_isolated_job_writes_to_stderr_reaches_the_runner_log_and_the_job_log) {
  const auto id = enqueue({{"stderr", "hello-marker"}});

  const auto result = run_foo_jobs({"--isolate"});

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(status_of(id), kCompleted);
  // Logged by the runner, line by line, naming the job.
  EXPECT_NE(result.err.find("job " + std::to_string(id) + ": stderr: hello-marker"),
            std::string::npos)
      << result.err;
  EXPECT_NE(log_of(id).find("hello-marker"), std::string::npos) << log_of(id);
}

}  // namespace
}  // namespace jobrunner
