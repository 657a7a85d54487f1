// Stopping a runner with signals, through the real run-foo-jobs executable:
// a graceful SIGTERM, the give-back after --grace, a second signal, and a
// daemon's stop. (A database lost mid-run is tested by
// tests/scripts/10-outage.sh: stopping the server here would break the
// parallel suite.)
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "foo/foo_job.hpp"
#include "jobrunner/pg/job_store.hpp"
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



// The state letter of a process from /proc/<pid>/stat ('Z' for a zombie), or
// nullopt when there is no such process.
std::optional<char> process_state(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return std::nullopt;
  return stat[paren + 2];
}

// The live processes whose parent is `parent`.
std::vector<int> children_of(int parent) {
  std::vector<int> out;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ignored)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 1));
    char state = 0;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != 'Z') out.push_back(std::stoi(name));
  }
  return out;
}


class ShutdownTest : public testing::RunnerProcessTest {
 protected:
  // Starts a cron run with --prefetch 8 and `options` while a WorkGate holds:
  // returns once the first job waits at the gate and the other `jobs` - 1
  // are prefetched (RUNNING too).
  void start_with_prefetched_jobs(std::optional<Program>& runner,
                                  std::vector<std::string> options, int jobs) {
    options.insert(options.begin(), {"--prefetch", "8"});
    runner.emplace(runner_argv(options));
    ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 1; })) << "the job never started";
    ASSERT_TRUE(eventually([&] {
      return db.scalar("SELECT count(*) FROM job WHERE status = 1") == jobs;
    })) << "the runner did not prefetch the others";
  }
};

// ---- The first signal -------------------------------------------------------

TEST_F(ShutdownTest, sigterm_lets_the_running_job_finish_and_claims_nothing_more) {
  const auto first = enqueue();
  const auto later = enqueue();
  testing::WorkGate gate(db);
  // A grace period far longer than the test: only the job's end ends the run.
  Program runner(runner_argv({"--grace", "1h"}));
  ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 1; })) << "the job never started";
  ASSERT_EQ(status_of(first), kRunning);

  runner.signal(SIGTERM);
  ASSERT_TRUE(runner.logged_within(kStopSeen)) << runner.stderr_so_far();
  gate.release();
  ASSERT_TRUE(runner.exited_within(60s));
  const auto result = runner.wait();

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(status_of(first), kCompleted);
  EXPECT_EQ(attempts_of(first), 1);
  EXPECT_EQ(frozzles_of(first), 1);
  EXPECT_EQ(status_of(later), kWaiting);
  EXPECT_EQ(attempts_of(later), 0);
  EXPECT_EQ(frozzles_of(later), 0);
}

TEST_F(ShutdownTest, past_the_grace_period_the_running_job_is_given_back_uncounted) {
  const auto id = enqueue();
  testing::WorkGate gate(db);  // the job never finishes by itself
  Program runner(runner_argv({"--grace", "1s"}));
  ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 1; })) << "the job never started";

  const auto signalled = Clock::now();
  runner.signal(SIGTERM);
  ASSERT_TRUE(runner.exited_within(60s));
  const auto elapsed = Clock::now() - signalled;
  const auto result = runner.wait();
  gate.release();

  EXPECT_EQ(result.exit_code, 0) << result.err;
  // A lower bound only: the keeper starts the grace period after the signal.
  EXPECT_GE(elapsed, 1s) << "the grace period was not waited for";
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(attempts_of(id), 0);
  EXPECT_TRUE(lease_cleared(id));
  EXPECT_NE(log_of(id).find("given back"), std::string::npos) << log_of(id);
  EXPECT_EQ(frozzles_of(id), 0);
}

TEST_F(ShutdownTest, past_the_grace_period_an_isolated_job_is_killed_and_given_back) {
  const auto id = enqueue();
  testing::WorkGate gate(db);  // the job never finishes by itself
  Program runner(runner_argv({"--isolate", "--grace", "1s"}));
  ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 1; })) << "the isolated job never started";
  const auto children = children_of(runner.pid());
  ASSERT_EQ(children.size(), 1u);
  const int child = children.front();

  runner.signal(SIGTERM);
  ASSERT_TRUE(runner.exited_within(60s));
  const auto result = runner.wait();
  gate.release();

  EXPECT_EQ(result.exit_code, 0) << result.err;
  // Killed, not orphaned: gone, or a zombie waiting for its new parent.
  EXPECT_TRUE(eventually(
      [&] {
        const auto state = process_state(child);
        return !state || *state == 'Z';
      },
      60s))
      << "the job's process " << child << " outlived the runner";
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(attempts_of(id), 0);
  EXPECT_TRUE(lease_cleared(id));
  EXPECT_NE(log_of(id).find("given back"), std::string::npos) << log_of(id);
  EXPECT_EQ(frozzles_of(id), 0);
}

// ---- The second signal ------------------------------------------------------

TEST_F(ShutdownTest, a_second_signal_exits_at_once_and_the_next_run_rescues_the_job) {
  const auto id = enqueue();
  testing::WorkGate gate(db);  // the job never finishes by itself
  // A grace period longer than the test: only the second signal ends the run
  // (a graceful stop would exit 0 and give the job back).
  Program runner(runner_argv({"--grace", "1h"}));
  ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 1; })) << "the job never started";

  runner.signal(SIGTERM);
  // Two signals sent at once may be delivered as one: the second is sent once
  // the first has been seen.
  ASSERT_TRUE(runner.logged_within(kStopSeen)) << runner.stderr_so_far();
  runner.signal(SIGTERM);
  ASSERT_TRUE(runner.exited_within(60s));
  const auto result = runner.wait();

  EXPECT_EQ(result.exit_code, 143) << result.err;
  // Still RUNNING under its lease, for a later runner to rescue.
  EXPECT_EQ(status_of(id), kRunning);
  EXPECT_TRUE(holds_lease(id));
  EXPECT_EQ(attempts_of(id), 1);
  EXPECT_EQ(frozzles_of(id), 0);

  // Its lease runs out (sooner than 5 minutes). The dead runner's session,
  // still waiting at the gate, rolls back once it gets through.
  gate.release();
  db.sql("UPDATE job SET lease_expires = now() - interval '1 minute' WHERE id = $1", id);
  // So does the cron lock that the run left (it lapses at most 30 s after
  // its last extension).
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_lock"), 1);
  db.sql("UPDATE runner_lock SET expires_at = now() - interval '1 second'");
  const auto rescue = testing::run_program(runner_argv({}));

  EXPECT_EQ(rescue.exit_code, 0) << rescue.err;
  EXPECT_NE(rescue.err.find("Rescued 1 FooJobs"), std::string::npos) << rescue.err;
  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(attempts_of(id), 2);
  EXPECT_EQ(frozzles_of(id), 1);
  EXPECT_NE(log_of(id).find("LeaseExpired"), std::string::npos) << log_of(id);
}

TEST_F(ShutdownTest, a_second_signal_kills_the_isolated_job_with_the_runner) {
  const auto id = enqueue();
  testing::WorkGate gate(db);  // the job never finishes by itself
  Program runner(runner_argv({"--isolate", "--grace", "1h"}));
  ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 1; })) << "the isolated job never started";
  const auto children = children_of(runner.pid());
  ASSERT_EQ(children.size(), 1u);
  const int child = children.front();

  runner.signal(SIGTERM);
  ASSERT_TRUE(runner.logged_within(kStopSeen)) << runner.stderr_so_far();
  runner.signal(SIGTERM);
  ASSERT_TRUE(runner.exited_within(60s));
  const auto result = runner.wait();
  gate.release();

  EXPECT_EQ(result.exit_code, 143) << result.err;
  EXPECT_TRUE(eventually(
      [&] {
        const auto state = process_state(child);
        return !state || *state == 'Z';
      },
      60s))
      << "the job's process " << child << " outlived the runner";
  EXPECT_EQ(status_of(id), kRunning);
  EXPECT_TRUE(holds_lease(id));
  EXPECT_EQ(frozzles_of(id), 0);
}

// ---- Daemon mode ------------------------------------------------------------

TEST_F(ShutdownTest, a_daemon_runs_a_job_enqueued_after_it_started_and_stops_cleanly_on_sigterm) {
  Program daemon(runner_argv({"--daemon", "--poll-interval", "100ms", "--log-level", "debug"}));
  // It found the queue empty and waits for work, where a cron run exits.
  ASSERT_TRUE(daemon.logged_within(kWaitingForWork)) << daemon.stderr_so_far();
  ASSERT_FALSE(daemon.exited_within(0s)) << "the daemon exited with an empty queue";
  const auto id = enqueue();

  ASSERT_TRUE(eventually([&] { return status_of(id) == kCompleted; }));
  daemon.signal(SIGTERM);
  ASSERT_TRUE(daemon.exited_within(60s));
  const auto result = daemon.wait();

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(frozzles_of(id), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run WHERE exit_code = 0 AND jobs_run = 1 "
                      "AND date_finished IS NOT NULL"),
            1);
  // The job was created after the daemon's run began.
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run, job WHERE job.id = $1 AND "
                      "job.date_created > runner_run.date_started",
                      id),
            1);
}


// ---- Prefetched jobs ------------------------------------------------------------

// The jobs a runner claimed ahead of its one worker are RUNNING (held by its
// heartbeats) until they run; a stop gives them back at once, while the
// running job still has its grace period.
TEST_F(ShutdownTest, sigterm_gives_back_the_prefetched_jobs_at_once_and_lets_the_running_one_finish) {
  const auto first = enqueue();
  std::vector<std::int64_t> prefetched;
  for (int i = 0; i < 4; ++i) prefetched.push_back(enqueue());
  testing::WorkGate gate(db);
  std::optional<Program> runner;
  start_with_prefetched_jobs(runner, {"--grace", "1h"}, 5);
  ASSERT_FALSE(HasFatalFailure());

  runner->signal(SIGTERM);
  ASSERT_TRUE(eventually([&] {
    return db.scalar("SELECT count(*) FROM job WHERE status = 0 AND attempt_count = 0 AND "
                     "log LIKE '%given back%'") == 4;
  })) << runner->stderr_so_far();
  EXPECT_EQ(status_of(first), kRunning) << "the running job keeps its grace period";
  gate.release();
  ASSERT_TRUE(runner->exited_within(60s));
  const auto result = runner->wait();

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(status_of(first), kCompleted);
  EXPECT_EQ(frozzles_of(first), 1);
  for (const auto id : prefetched) {
    EXPECT_EQ(status_of(id), kWaiting);
    EXPECT_EQ(attempts_of(id), 0);
    EXPECT_EQ(frozzles_of(id), 0);
  }
}

// SIGKILL leaves the prefetched jobs RUNNING with the dead run's leases:
// rescued once they expire, run once each, none lost.
TEST_F(ShutdownTest, after_sigkill_the_prefetched_jobs_are_rescued_and_each_runs_once) {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(enqueue());
  {
    testing::WorkGate gate(db);
    std::optional<Program> runner;
    start_with_prefetched_jobs(runner, {"--lease", "1s"}, 5);
    ASSERT_FALSE(HasFatalFailure());
    runner->signal(SIGKILL);
    runner->wait();
  }
  // Runs until every job is done: the first runs find the dead run's cron
  // lock (exit 69) or leases not yet expired, until both lapse.
  ASSERT_TRUE(eventually(
      [&] {
        const auto result = testing::run_program(runner_argv({"--lease", "1s"}));
        return result.exit_code == 0 &&
               db.scalar("SELECT count(*) FROM job WHERE status = 2") == 5;
      },
      60s));
  for (const auto id : ids) {
    EXPECT_EQ(status_of(id), kCompleted);
    EXPECT_EQ(frozzles_of(id), 1) << "job " << id;
  }
}

}  // namespace
}  // namespace jobrunner
