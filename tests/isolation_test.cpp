// Isolation and leases at run time: heartbeats that keep a long job's lease,
// --job-timeout, --memory-limit, crashing children and their stderr, through
// the real run-foo-jobs executable and through jobrunner::Runner in-process.
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <map>
#include <regex>
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
  const auto id = enqueue();
  {
    testing::WorkGate gate(db);  // the job runs until the lease was renewed
    Program runner(runner_argv({"--lease", "1s"}));
    ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 1; })) << "the job never started";

    // A lease renewed more than two seconds into a job with a 1 s lease: only
    // heartbeats, while the job runs, can have set it.
    EXPECT_TRUE(eventually([&] {
      return db.scalar("SELECT count(*) FROM job WHERE id = $1 AND status = 1 AND "
                       "lease_expires > date_started + interval '3 seconds'",
                       id) == 1;
    })) << "the lease of the running job was not extended";
    gate.release();
    ASSERT_TRUE(runner.exited_within(60s));
    const auto result = runner.wait();
    EXPECT_EQ(result.exit_code, 0) << result.err;
  }
  // (Whether the lease ever lapsed for a moment depends on how quickly a
  // loaded machine schedules the keeper, so it is not asserted; that nothing
  // took the job is: the same claim completed it, once.)
  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(attempts_of(id), 1);
  EXPECT_EQ(frozzles_of(id), 1);
}

// The contrast: a runner without conninfo has no LeaseKeeper, so the lease of
// a job that runs longer than it runs out while the job runs.
TEST_F(IsolationTest, without_heartbeats_the_lease_of_a_long_job_runs_out_while_it_runs) {
  const auto id = enqueue();
  testing::WorkGate gate(db);  // the job runs until its lease ran out
  std::optional<RunStats> stats;
  std::string runner_error;
  std::thread runner([&] {
    try {
      stats = run_in_process({.lease = 1s});
    } catch (const std::exception& e) {
      runner_error = e.what();
    }
  });
  const bool ran_out = eventually([&] {
    return db.scalar("SELECT count(*) FROM job WHERE id = $1 AND status = 1 AND "
                     "lease_expires < now()",
                     id) == 1;
  });
  gate.release();
  runner.join();

  EXPECT_TRUE(ran_out) << "the lease of the running job did not run out";
  ASSERT_EQ(runner_error, "");
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->completed, 1);
  EXPECT_EQ(frozzles_of(id), 1);
}

// ---- Timeouts ---------------------------------------------------------------

TEST_F(IsolationTest, a_job_timeout_kills_a_sleeping_job_which_is_retried_with_an_error_report) {
  const auto id = enqueue();
  testing::WorkGate gate(db);  // the job never finishes by itself: only the timeout ends it

  const auto result = run_foo_jobs({"--isolate", "--job-timeout", "1s", "--retry-delay", "1h"});
  gate.release();

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(attempts_of(id), 1);
  // Retried after the retry delay, not at once.
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND scheduled_start > now()", id), 1);
  const auto reports = error_reports_of(id);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].error_type, "JobTimeout");
  EXPECT_NE(reports[0].message.find("1s"), std::string::npos) << reports[0].message;
  EXPECT_EQ(frozzles_of(id), 0);
}

TEST_F(IsolationTest, a_job_timeout_fails_a_job_that_has_no_retries_left) {
  const auto id = enqueue(nlohmann::json::object(), 0);
  testing::WorkGate gate(db);  // the job never finishes by itself: only the timeout ends it

  const auto result = run_foo_jobs({"--isolate", "--job-timeout", "1s"});
  gate.release();

  EXPECT_EQ(result.exit_code, 0) << result.err;
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

namespace jobrunner {
namespace {

// A runner that cannot extend its leases (here: its role lost UPDATE on job,
// as a dead link would fail every extension) gives up an attempt once its
// lease has certainly expired: the isolated job's process is killed at once,
// nothing is recorded for it, and the next run rescues it.
TEST_F(IsolationTest, an_attempt_whose_lease_cannot_be_extended_is_abandoned_and_its_process_killed) {
  ASSERT_EQ(testing::run_program({testing::bin("jobctl"), "--db", db.conninfo(), "db",
                                  "permissions"})
                .exit_code,
            0);
  const auto id = enqueue();
  testing::WorkGate gate(db);  // the job would never end by itself
  Program runner({testing::bin("run-foo-jobs"), "--db", db.conninfo("jobrunner_foo_runner"),
                  "--isolate", "--lease", "2s"});
  ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 1; }));
  db.sql("REVOKE UPDATE ON job FROM jobrunner_foo_runner");

  ASSERT_TRUE(runner.exited_within(120s)) << runner.stderr_so_far();
  const auto result = runner.wait();

  // The cron lock lapsed with the leases (it is extended with them): 75.
  EXPECT_EQ(result.exit_code, 75) << result.err;
  EXPECT_NE(result.err.find("cannot extend the leases of 1 job(s)"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("job " + std::to_string(id) + ": abandoning attempt 1"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("killed the process of abandoned attempt 1"), std::string::npos)
      << result.err;
  EXPECT_EQ(status_of(id), kRunning);
  EXPECT_EQ(attempts_of(id), 1);
  EXPECT_EQ(frozzles_of(id), 0);

  gate.release();
  db.sql("GRANT UPDATE ON job TO jobrunner_foo_runner");
  // Its end was recorded, and the lock released with it.
  EXPECT_EQ(db.scalar("SELECT exit_code FROM runner_run"), 75);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_lock"), 0);
  const auto rescue = run_foo_jobs({});
  EXPECT_EQ(rescue.exit_code, 0) << rescue.err;
  EXPECT_NE(rescue.err.find("Rescued 1 FooJobs"), std::string::npos) << rescue.err;
  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(attempts_of(id), 2);
  EXPECT_EQ(frozzles_of(id), 1);
}


// ---- The children of an isolated runner --------------------------------------

// The process each job ran in, from the "foo job N ran in process P" lines
// of jobs enqueued with {"report_pid": true}.
std::map<std::int64_t, int> processes_of_jobs(const std::string& err) {
  std::map<std::int64_t, int> out;
  static const std::regex kLine("foo job ([0-9]+) ran in process ([0-9]+)");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), kLine); it != std::sregex_iterator();
       ++it) {
    out[std::stoll((*it)[1])] = std::stoi((*it)[2]);
  }
  return out;
}

TEST_F(IsolationTest, one_child_process_runs_job_after_job) {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(enqueue({{"report_pid", true}}));

  const auto result = run_foo_jobs({"--isolate"});

  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto processes = processes_of_jobs(result.err);
  ASSERT_EQ(processes.size(), 4U) << result.err;
  for (const auto id : ids) {
    EXPECT_EQ(status_of(id), kCompleted);
    EXPECT_EQ(processes.at(id), processes.at(ids[0])) << "job " << id << "\n" << result.err;
  }
}

TEST_F(IsolationTest, max_jobs_per_child_replaces_the_child_after_that_many_jobs) {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(enqueue({{"report_pid", true}}));

  // One worker runs the jobs in claim order: 1 and 2 in a child, 3 and 4 in
  // the next.
  const auto result = run_foo_jobs({"--isolate", "--max-jobs-per-child", "2"});

  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto processes = processes_of_jobs(result.err);
  ASSERT_EQ(processes.size(), 4U) << result.err;
  EXPECT_EQ(processes.at(ids[0]), processes.at(ids[1])) << result.err;
  EXPECT_EQ(processes.at(ids[2]), processes.at(ids[3])) << result.err;
  EXPECT_NE(processes.at(ids[1]), processes.at(ids[2])) << result.err;
  for (const auto id : ids) EXPECT_EQ(status_of(id), kCompleted);
}

TEST_F(IsolationTest, a_crash_costs_its_job_and_its_child_and_the_next_job_gets_a_new_child) {
  const auto before = enqueue({{"report_pid", true}});
  const auto crashing = enqueue({{"report_pid", true}, {"crash", "segv"}}, 0);
  const auto after = enqueue({{"report_pid", true}});

  const auto result = run_foo_jobs({"--isolate"});

  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(status_of(before), kCompleted);
  EXPECT_EQ(status_of(crashing), kFailed);
  EXPECT_EQ(status_of(after), kCompleted);
  const auto reports = error_reports_of(crashing);
  ASSERT_EQ(reports.size(), 1U);
  EXPECT_EQ(reports[0].error_type, "ChildCrashed");
  const auto processes = processes_of_jobs(result.err);
  ASSERT_EQ(processes.size(), 3U) << result.err;
  EXPECT_EQ(processes.at(before), processes.at(crashing)) << result.err;
  EXPECT_NE(processes.at(crashing), processes.at(after)) << result.err;
}

}  // namespace
}  // namespace jobrunner
