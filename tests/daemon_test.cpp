// Daemon mode and concurrency through the real runner executables: NOTIFY
// and polling both deliver, scheduled jobs run when due, N jobs run at once
// and none twice, batched completions, a graceful stop mid-burst, and a
// reconnect after the database dropped the daemon's connections. No test
// measures speed: each waits for a state with a generous bound, and the poll
// intervals are set so long that only the mechanism under test can deliver.
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "jobrunner/pg/job_store.hpp"
#include "noop/noop_job.hpp"
#include "runner_process_test.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::Program;

class DaemonTest : public testing::RunnerProcessTest {
 protected:
  // Enqueues `count` FooJobs in one transaction (bulk), each for a new foo.
  std::vector<std::int64_t> enqueue_foo_jobs(int count, nlohmann::json metadata = {}) {
    if (metadata.is_null()) metadata = nlohmann::json::object();
    std::vector<pg::EnqueueRequest> requests;
    for (int i = 0; i < count; ++i) {
      requests.push_back({.target_id = db.make_foo(), .metadata = metadata});
    }
    return enqueue_many(store, requests);
  }
  // Enqueues `count` NoopJobs for one foo in one transaction.
  std::vector<std::int64_t> enqueue_noop_jobs(int count) {
    const auto foo = db.make_foo();
    std::vector<pg::EnqueueRequest> requests(static_cast<std::size_t>(count),
                                             pg::EnqueueRequest{.target_id = foo});
    return enqueue_many(noop_store, requests);
  }
  std::vector<std::int64_t> enqueue_many(const pg::JobStore& with,
                                         const std::vector<pg::EnqueueRequest>& requests) {
    auto conn = db.connect();
    auto tx = conn.begin();
    auto ids = with.enqueue_many(tx, requests);
    tx.commit();
    return ids;
  }

  std::int64_t count(const std::string& where) const {
    return db.scalar("SELECT count(*) FROM job WHERE " + where);
  }
  // Waits until the daemon has recorded its run (it is connected and set up).
  void wait_until_started() const {
    ASSERT_TRUE(eventually([&] { return db.scalar("SELECT count(*) FROM runner_run") >= 1; }))
        << "the daemon never started";
  }
  // Waits until a daemon started with --log-level debug has found nothing to
  // claim and waits for work: a job enqueued from now on can only reach it by
  // a NOTIFY, its due time or the next poll.
  static void wait_until_idle(const Program& daemon) {
    ASSERT_TRUE(daemon.logged_within(kWaitingForWork)) << daemon.stderr_so_far();
  }
  // Terminates the sessions of pg_stat_activity `where` holds for, waiting
  // until each has ended; how many.
  std::int64_t terminate(const std::string& where) const {
    // In the select list, so it runs only for the rows `where` selects.
    return db.scalar(
        "SELECT count(*) FILTER (WHERE ended) FROM (SELECT pg_terminate_backend(pid, 10000) AS "
        "ended FROM pg_stat_activity WHERE " +
        where + ") AS s");
  }
  // Stops the daemon with SIGTERM; its output, for failure messages.
  testing::ProcessResult stop(Program& daemon) const {
    daemon.signal(SIGTERM);
    EXPECT_TRUE(daemon.exited_within(60s)) << "the daemon did not stop on SIGTERM";
    auto result = daemon.wait();
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result;
  }

  const pg::JobStore noop_store{noop::noop_job_type().spec};
};

// ---- How work reaches a daemon ----------------------------------------------

TEST_F(DaemonTest, a_notify_wakes_the_daemon_long_before_its_poll_interval) {
  Program daemon(runner_argv({"--daemon", "--poll-interval", "1h", "--log-level", "debug"}));
  wait_until_idle(daemon);
  const auto id = enqueue();

  // Only the NOTIFY of the enqueue can wake it within the hour.
  EXPECT_TRUE(eventually([&] { return status_of(id) == kCompleted; }, 30s))
      << "the job was not run: the daemon did not wake on NOTIFY";
  stop(daemon);
  EXPECT_EQ(frozzles_of(id), 1);
}

TEST_F(DaemonTest, without_listen_polling_delivers) {
  Program daemon(runner_argv({"--daemon", "--no-listen", "--poll-interval", "200ms"}));
  wait_until_started();
  const auto id = enqueue();

  EXPECT_TRUE(eventually([&] { return status_of(id) == kCompleted; }, 30s));
  stop(daemon);
}

TEST_F(DaemonTest, without_listen_a_notify_does_not_wake_the_daemon) {
  Program daemon(runner_argv(
      {"--daemon", "--no-listen", "--poll-interval", "1h", "--log-level", "debug"}));
  wait_until_idle(daemon);
  const auto id = enqueue();

  // It looked once at start and polls again in an hour: the job must wait.
  // (Three seconds of not happening cannot prove never; they show no wake-up
  // on the NOTIFY, which a listening daemon answers within milliseconds.)
  EXPECT_FALSE(eventually([&] { return status_of(id) != kWaiting; }, 3s))
      << "a --no-listen daemon picked the job up before its poll interval";
  stop(daemon);
  EXPECT_EQ(status_of(id), kWaiting);
}

TEST_F(DaemonTest, a_scheduled_job_runs_when_it_comes_due) {
  Program daemon(runner_argv({"--daemon", "--poll-interval", "1h", "--log-level", "debug"}));
  wait_until_idle(daemon);
  const auto foo = db.make_foo();
  std::int64_t id = 0;
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    auto due = tx.exec("SELECT (now() + interval '2 seconds')::text AS due").at(0).text("due");
    id = store.enqueue(tx, {.target_id = foo, .scheduled_start = due});
    tx.commit();
  }

  EXPECT_TRUE(eventually([&] { return status_of(id) == kCompleted; }, 30s))
      << "the scheduled job did not run when it came due";
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND date_started >= "
                      "scheduled_start",
                      id),
            1)
      << "it ran before it was due";
  stop(daemon);
}

// ---- Concurrency --------------------------------------------------------------

TEST_F(DaemonTest, concurrency_runs_jobs_at_once_and_each_exactly_once) {
  const auto ids = enqueue_foo_jobs(8);
  testing::WorkGate gate(db);
  Program runner(runner_argv({"--concurrency", "4"}));

  // Four jobs inside their work at the same moment: they run at once.
  EXPECT_TRUE(eventually([&] { return jobs_at_gate() == 4; }))
      << jobs_at_gate() << " jobs ran at once, not 4";
  gate.release();
  ASSERT_TRUE(runner.exited_within(60s));
  const auto result = runner.wait();

  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(count("status = 2 AND attempt_count = 1"), 8);
  EXPECT_EQ(db.scalar("SELECT count(DISTINCT job) FROM foo_frozzle"), 8);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foo_frozzle"), 8);
  EXPECT_EQ(db.scalar("SELECT jobs_run FROM runner_run"), 8);
}

TEST_F(DaemonTest, two_daemons_with_concurrency_never_run_a_job_twice) {
  Program first(runner_argv({"--daemon", "--concurrency", "4", "--poll-interval", "200ms"}));
  Program second(runner_argv({"--daemon", "--concurrency", "4", "--poll-interval", "200ms"}));
  ASSERT_TRUE(eventually([&] { return db.scalar("SELECT count(*) FROM runner_run") == 2; }));
  const auto ids = enqueue_foo_jobs(300);

  ASSERT_TRUE(eventually([&] { return count("status = 2") == 300; }, 120s))
      << count("status = 2") << " of 300 completed";
  stop(first);
  stop(second);
  EXPECT_EQ(count("attempt_count <> 1"), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foo_frozzle"), 300);
  EXPECT_EQ(db.scalar("SELECT count(DISTINCT job) FROM foo_frozzle"), 300);
  EXPECT_EQ(db.scalar("SELECT sum(jobs_run) FROM runner_run"), 300);
}

TEST_F(DaemonTest, noop_jobs_are_completed_in_batches_and_none_is_lost) {
  const auto ids = enqueue_noop_jobs(500);

  const auto result = testing::run_program(runner_argv({"--concurrency", "4"}, "noop"));

  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(count("status = 2 AND attempt_count = 1 AND lease_token IS NULL AND "
                  "date_finished IS NOT NULL"),
            500);
  EXPECT_EQ(count("log IS NULL"), 500);  // a success writes no log line
  EXPECT_EQ(db.scalar("SELECT jobs_run FROM runner_run"), 500);
}

// --durable-claims changes only how the claim transaction commits (waiting
// for the WAL flush); what it claims and records must be the same. That the
// commit waits cannot be seen without crashing the server: the outage script
// shows what the default (not waiting) allows.
TEST_F(DaemonTest, with_durable_claims_jobs_are_claimed_and_recorded_as_without) {
  const auto noop_ids = enqueue_noop_jobs(200);
  const auto foo_ids = enqueue_foo_jobs(6);

  const auto noop = testing::run_program(
      runner_argv({"--concurrency", "4", "--durable-claims"}, "noop"));
  const auto foo = testing::run_program(runner_argv({"--concurrency", "2", "--durable-claims"}));

  ASSERT_EQ(noop.exit_code, 0) << noop.err;
  ASSERT_EQ(foo.exit_code, 0) << foo.err;
  EXPECT_EQ(count("job_type = 'noop' AND status = 2 AND attempt_count = 1 AND "
                  "lease_token IS NULL AND log IS NULL"),
            200);
  EXPECT_EQ(count("job_type = 'foo' AND status = 2 AND attempt_count = 1"), 6);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foo_frozzle"), 6);
}

TEST_F(DaemonTest, isolated_noop_jobs_with_concurrency_all_complete) {
  const auto ids = enqueue_noop_jobs(40);

  const auto result =
      testing::run_program(runner_argv({"--concurrency", "4", "--isolate"}, "noop"));

  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(count("status = 2 AND attempt_count = 1"), 40);
}

TEST_F(DaemonTest, isolated_foo_jobs_with_concurrency_commit_their_work_once) {
  const auto ids = enqueue_foo_jobs(12, {{"work_ms", 100}});

  const auto result =
      testing::run_program(runner_argv({"--concurrency", "3", "--isolate"}));

  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(count("status = 2 AND attempt_count = 1"), 12);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foo_frozzle"), 12);
}

TEST_F(DaemonTest, bad_concurrency_values_are_refused_before_anything_runs) {
  const auto id = enqueue();
  for (const std::string bad : {"0", "-1", "257", "many", ""}) {
    const auto result = testing::run_program(runner_argv({"--concurrency", bad}));
    EXPECT_EQ(result.exit_code, 64) << "--concurrency '" << bad << "': " << result.err;
    EXPECT_NE(result.err.find("--concurrency"), std::string::npos) << result.err;
  }
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run"), 0);
}

// ---- Stopping -----------------------------------------------------------------

TEST_F(DaemonTest, sigterm_mid_burst_finishes_what_runs_and_loses_nothing) {
  // A grace period longer than the test: the running jobs end by finishing.
  Program daemon(runner_argv({"--daemon", "--concurrency", "4", "--grace", "1h"}));
  wait_until_started();
  testing::WorkGate gate(db);
  const auto ids = enqueue_foo_jobs(40);
  // Mid-burst: four jobs inside their work, 36 waiting.
  ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 4; })) << jobs_at_gate() << " at the gate";

  daemon.signal(SIGTERM);
  ASSERT_TRUE(daemon.logged_within(kStopSeen)) << daemon.stderr_so_far();
  gate.release();
  ASSERT_TRUE(daemon.exited_within(60s)) << "the daemon did not stop on SIGTERM";
  const auto result = daemon.wait();
  ASSERT_EQ(result.exit_code, 0) << result.err;

  EXPECT_EQ(count("status = 1"), 0) << "a job was left RUNNING";
  const auto completed = count("status = 2");
  EXPECT_EQ(completed, 4) << "the jobs that ran at the signal, and no other";
  EXPECT_EQ(count("status = 2 AND attempt_count = 1"), completed);
  EXPECT_EQ(count("status = 0 AND attempt_count = 0"), 40 - completed);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foo_frozzle"), completed);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run WHERE exit_code = 0 AND jobs_run = $1",
                      completed),
            1);
}

TEST_F(DaemonTest, past_the_grace_period_every_running_job_is_given_back_and_the_run_recorded) {
  Program daemon(runner_argv({"--daemon", "--concurrency", "3", "--grace", "1s"}));
  wait_until_started();
  testing::WorkGate gate(db);  // the jobs never finish by themselves
  const auto ids = enqueue_foo_jobs(3);
  ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 3; })) << jobs_at_gate() << " at the gate";

  stop(daemon);
  gate.release();

  EXPECT_EQ(count("status = 0 AND attempt_count = 0 AND lease_token IS NULL"), 3);
  EXPECT_EQ(count("log LIKE '%given back%'"), 3);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foo_frozzle"), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run WHERE exit_code = 0 AND "
                      "date_finished IS NOT NULL"),
            1)
      << "the run was not recorded as finished";
}

// ---- Losing the database ------------------------------------------------------

TEST_F(DaemonTest, a_daemon_reconnects_after_its_connections_are_terminated) {
  Program daemon(runner_argv({"--daemon", "--concurrency", "2", "--poll-interval", "200ms"}));
  wait_until_started();
  // Two jobs at once, so that both workers have opened a connection.
  {
    testing::WorkGate gate(db);
    enqueue_foo_jobs(2);
    ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 2; })) << jobs_at_gate() << " at the gate";
  }
  ASSERT_TRUE(eventually([&] { return count("status = 2") == 2; }));

  // Every session on this test's database but ours (the daemon's runner,
  // workers and lease keeper), waiting until each has ended.
  ASSERT_GE(terminate("datname = current_database() AND pid <> pg_backend_pid()"), 3);
  const auto after = enqueue_foo_jobs(2, {{"work_ms", 300}});

  const bool came_back = eventually([&] { return count("status = 2") == 4; }, 60s);
  EXPECT_FALSE(daemon.exited_within(0s)) << "the daemon exited instead of reconnecting";
  const auto result = stop(daemon);
  EXPECT_TRUE(came_back) << "the daemon did not come back after losing its connections; job "
                         << after.at(0) << " log:\n"
                         << log_of(after.at(0)) << "\ndaemon stderr:\n"
                         << result.err;
  // A worker finds its idle connection closed before it starts a job, so
  // the jobs after the outage ran once, not on a dead connection.
  EXPECT_EQ(count("status = 2 AND attempt_count = 1"), 4) << result.err;
  for (const auto id : after) EXPECT_EQ(frozzles_of(id), 1);
  EXPECT_NE(result.err.find("reconnected to the database"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("closed its idle connection"), std::string::npos) << result.err;
}

// Batched completions are written by the completion flusher on its own
// connection: cut off with the others, it must connect again and write the
// ends of the jobs that run afterwards (none is left RUNNING).
TEST_F(DaemonTest, batched_completions_are_written_after_the_connections_are_terminated) {
  Program daemon(runner_argv({"--daemon", "--concurrency", "2", "--poll-interval", "200ms"},
                             "noop"));
  wait_until_started();
  enqueue_noop_jobs(20);
  ASSERT_TRUE(eventually([&] { return count("status = 2") == 20; }));

  // The dispatcher's and the flusher's at least (the keeper connects at its
  // first heartbeat; a NoopJob's worker needs none).
  ASSERT_GE(terminate("datname = current_database() AND pid <> pg_backend_pid()"), 2);
  enqueue_noop_jobs(50);

  const bool all_written = eventually([&] { return count("status = 2") == 70; }, 60s);
  EXPECT_FALSE(daemon.exited_within(0s)) << "the daemon exited instead of reconnecting";
  const auto result = stop(daemon);
  EXPECT_TRUE(all_written) << count("status = 2") << " of 70 completed; daemon stderr:\n"
                           << result.err;
  EXPECT_EQ(count("status = 2 AND lease_token IS NULL"), 70) << result.err;
}

TEST_F(DaemonTest, a_job_whose_connection_fails_mid_job_is_recorded_at_once_and_runs_again) {
  // A lease of an hour: only the runner's own record of the lost attempt,
  // not a rescue, can bring the job back within the test.
  Program daemon(runner_argv(
      {"--daemon", "--concurrency", "2", "--lease", "1h", "--poll-interval", "200ms"}));
  wait_until_started();
  testing::WorkGate gate(db);
  const auto id = enqueue();
  // The job's session, inside its transaction, waiting at the gate.
  const std::string job_session =
      "datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%foo_frozzle%'";
  ASSERT_TRUE(eventually([&] { return jobs_at_gate() == 1; })) << "the job never started";
  ASSERT_EQ(terminate(job_session), 1);
  gate.release();

  const bool ran_again = eventually([&] { return status_of(id) == kCompleted; }, 60s);
  const auto result = stop(daemon);
  ASSERT_TRUE(ran_again) << "log:\n" << log_of(id) << "\ndaemon stderr:\n" << result.err;
  EXPECT_EQ(db.scalar("SELECT attempt_count FROM job WHERE id = $1", id), 2);
  EXPECT_NE(log_of(id).find("ConnectionLost"), std::string::npos) << log_of(id);
  EXPECT_EQ(frozzles_of(id), 1) << "the lost attempt's work was rolled back";
  EXPECT_EQ(db.scalar("SELECT count(*) FROM error_report"), 0) << "a retried attempt is no OOPS";
}

}  // namespace
}  // namespace jobrunner
