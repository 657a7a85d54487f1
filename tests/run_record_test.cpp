// The record of a run (runner_run) on every exit that can still reach the
// database, and a notification hook that fails, through the real runner.
// Each failure is provoked from the database, never by timing: a grant
// revoked, a trigger that refuses a write, a session terminated while the
// job waits for a row lock that the test holds.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jobrunner/pg/admin.hpp"
#include "program.hpp"
#include "runner_process_test.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::Program;
using testing::ProcessResult;

constexpr int kOk = 0, kSoftware = 70, kTempFailure = 75, kConfig = 78;

std::string shown(const ProcessResult& result) {
  return "exit " + std::to_string(result.exit_code) + "\n--- stderr:\n" + result.err;
}

class RunRecordTest : public testing::RunnerProcessTest {
 protected:
  // The one runner_run row's exit code, or -1 while it has no end.
  std::int64_t recorded_exit_code() const {
    return db.scalar("SELECT coalesce(max(exit_code) FILTER (WHERE date_finished IS NOT NULL), "
                     "-1) FROM runner_run HAVING count(*) = 1");
  }
  ProcessResult run_to_the_end(const std::vector<std::string>& argv) const {
    Program runner(argv);
    EXPECT_TRUE(runner.exited_within(60s)) << "the runner did not exit";
    return runner.wait();
  }
};

// ---- Every exit of a started run is recorded ------------------------------------

TEST_F(RunRecordTest, a_configuration_error_after_the_run_started_is_recorded_as_78) {
  const auto id = enqueue();
  const auto permissions = testing::run_program(
      {testing::bin("jobctl"), "--db", db.conninfo(), "db", "permissions"});
  ASSERT_EQ(permissions.exit_code, kOk) << shown(permissions);
  // The runner may record its run but no longer claim nor rescue jobs.
  db.sql("REVOKE UPDATE ON job FROM jobrunner_foo_runner");

  const auto result = run_to_the_end(
      {testing::bin("run-foo-jobs"), "--db", db.conninfo("jobrunner_foo_runner")});

  EXPECT_EQ(result.exit_code, kConfig) << shown(result);
  EXPECT_EQ(recorded_exit_code(), kConfig) << shown(result);
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(attempts_of(id), 0);
}

TEST_F(RunRecordTest, an_internal_error_after_the_run_started_is_recorded_as_70) {
  const auto id = enqueue();
  // Any write of an end to a job fails with a plain (non-connection, non-
  // config) SQL error: the job's COMPLETED, then the runner's FAILED.
  db.sql("CREATE FUNCTION refuse_job_ends() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
         "RAISE EXCEPTION 'injected failure: no job may end'; END $$");
  db.sql("CREATE TRIGGER refuse_job_ends BEFORE UPDATE ON job FOR EACH ROW WHEN "
         "(NEW.status IN (2, 3)) EXECUTE FUNCTION refuse_job_ends()");

  const auto result = run_to_the_end(runner_argv({}));

  EXPECT_EQ(result.exit_code, kSoftware) << shown(result);
  EXPECT_NE(result.err.find("injected failure"), std::string::npos) << shown(result);
  EXPECT_EQ(recorded_exit_code(), kSoftware) << shown(result);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run WHERE jobs_run = 0"), 1);
  EXPECT_EQ(attempts_of(id), 1);
}

class LostConnectionTest : public RunRecordTest {
 protected:
  // Starts a cron run whose job then waits for the row lock of its foo,
  // which `holder` takes first; returns once the job waits for it.
  void start_a_run_whose_job_waits_for_a_lock() {
    id_ = enqueue();
    const auto foo = db.scalar("SELECT foo FROM foojob WHERE job = $1", id_);
    holder_.emplace(db.connect());
    lock_.emplace(holder_->begin());
    lock_->exec("SELECT id FROM foo WHERE id = $1 FOR UPDATE", foo);
    runner_.emplace(runner_argv({}));
    ASSERT_TRUE(eventually([&] { return db.scalar(
                                     "SELECT count(*) FROM pg_stat_activity WHERE " +
                                     waiting_job()) == 1; }))
        << "the job never waited for the foo's lock";
  }
  static std::string waiting_job() {
    return "datname = current_database() AND wait_event_type = 'Lock' AND "
           "query LIKE 'INSERT INTO foo_frozzle%'";
  }
  // Terminates the runner's sessions (its own, its worker's whose job waits,
  // its lease keeper's: all of the database's but `via`'s and the lock
  // holder's), waiting until they have ended, from `via`.
  void terminate_the_runners_sessions(pg::Connection& via) {
    const std::string runners = "FROM pg_stat_activity WHERE datname = current_database() AND "
                                "pid <> pg_backend_pid() AND pid <> $1 AND "
                                "backend_type = 'client backend'";
    const auto holder = holder_->backend_pid();
    auto tx = via.begin();
    const auto rows = tx.exec("SELECT count(*) FILTER (WHERE signalled) AS n FROM (SELECT "
                              "pg_terminate_backend(pid) AS signalled " + runners + ") AS s",
                              holder);
    tx.commit();
    ASSERT_GE(rows.at(0).integer("n"), 2);
    ASSERT_TRUE(eventually([&] {
      auto check = via.begin();
      return check.exec("SELECT count(*) AS n " + runners, holder).at(0).integer("n") == 0;
    })) << "the runner's sessions did not end";
  }
  ProcessResult wait_for_the_runner() {
    EXPECT_TRUE(runner_->exited_within(60s)) << "the runner did not exit";
    auto result = runner_->wait();
    lock_.reset();  // rolls back: the foo's lock is released
    return result;
  }

  std::int64_t id_ = 0;
  std::optional<pg::Connection> holder_;
  std::optional<pg::Transaction> lock_;
  std::optional<Program> runner_;
};

TEST_F(LostConnectionTest, a_lost_connection_is_recorded_as_75_on_a_new_connection) {
  start_a_run_whose_job_waits_for_a_lock();
  auto admin = db.connect();
  terminate_the_runners_sessions(admin);

  const auto result = wait_for_the_runner();

  EXPECT_EQ(result.exit_code, kTempFailure) << shown(result);
  EXPECT_NE(result.err.find("database unavailable"), std::string::npos) << shown(result);
  EXPECT_EQ(recorded_exit_code(), kTempFailure) << shown(result);
  EXPECT_NE(result.err.find("(exit code 75) on a new connection"), std::string::npos)
      << shown(result);
  EXPECT_EQ(frozzles_of(id_), 0);
}

TEST_F(LostConnectionTest, when_no_new_connection_works_either_the_log_says_the_end_is_unrecorded) {
  start_a_run_whose_job_waits_for_a_lock();
  // Connections already open stay; no new one is accepted, not even a
  // superuser's.
  // (A database cannot disallow connections to itself: from another one.)
  auto outside = pg::Connection::open(testing::server_conninfo() + " dbname=postgres");
  const auto allow_connections = [&](bool allow) {
    auto tx = outside.begin();
    tx.exec("ALTER DATABASE " + tx.quote_name(db.name()) + " ALLOW_CONNECTIONS " +
            (allow ? "true" : "false"));
    tx.commit();
  };
  auto admin = db.connect();
  allow_connections(false);
  terminate_the_runners_sessions(admin);

  const auto result = wait_for_the_runner();
  allow_connections(true);

  EXPECT_EQ(result.exit_code, kTempFailure) << shown(result);
  EXPECT_NE(result.err.find("cannot record the end of run"), std::string::npos) << shown(result);
  EXPECT_EQ(recorded_exit_code(), -1) << shown(result);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run WHERE date_finished IS NULL"), 1);
}

// ---- A notification hook that fails ----------------------------------------------

TEST_F(RunRecordTest, a_failing_notification_hook_changes_neither_the_jobs_outcome_nor_the_exit) {
  const auto id = enqueue({{"outcome", "user_error"}, {"message", "that foo is not mine"}});
  // The default hook writes a notice to job_notification: make that fail.
  db.sql("CREATE FUNCTION refuse_notices() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
         "RAISE EXCEPTION 'injected failure: the notice table is read-only'; END $$");
  db.sql("CREATE TRIGGER refuse_notices BEFORE INSERT ON job_notification FOR EACH ROW "
         "EXECUTE FUNCTION refuse_notices()");

  const auto result = run_to_the_end(runner_argv({}));

  EXPECT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(recorded_exit_code(), kOk) << shown(result);
  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_EQ(attempts_of(id), 1);
  EXPECT_TRUE(lease_cleared(id));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND date_finished IS NOT NULL", id),
            1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job_notification"), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM error_report WHERE job = $1 AND error_type = "
                      "'NotificationHookFailed' AND message LIKE '%the notice table is "
                      "read-only%' AND message LIKE '%that foo is not mine%'",
                      id),
            1)
      << shown(result);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM error_report"), 1);
  EXPECT_NE(result.err.find("OOPS-"), std::string::npos) << shown(result);
}

}  // namespace
}  // namespace jobrunner

namespace jobrunner {
namespace {

using namespace std::chrono_literals;

// ---- A run's last_seen (patch 0015) -------------------------------------------

class RunSeenTest : public testing::RunnerProcessTest {
 protected:
  std::vector<pg::RunnerRun> alive() const {
    auto conn = db.connect();
    auto tx = conn.begin();
    return pg::list_live_runner_runs(tx, std::nullopt);
  }
  // last_seen of the one run, in microseconds since the epoch (0: null).
  std::int64_t last_seen_us() const {
    return db.scalar("SELECT coalesce((extract(epoch FROM last_seen) * 1000000)::bigint, 0) "
                     "FROM runner_run");
  }
};

// A daemon that holds no lease for minutes is still seen: its lease keeper
// refreshes last_seen on its own interval (pg::kRunnerSeenInterval).
TEST_F(RunSeenTest, an_idle_daemon_is_seen_alive_while_it_runs_and_not_once_it_ended) {
  testing::Program daemon(runner_argv({"--daemon", "--poll-interval", "1h"}));
  ASSERT_TRUE(testing::eventually([&] { return db.scalar("SELECT count(*) FROM runner_run") == 1; }));
  const auto first = last_seen_us();
  EXPECT_GT(first, 0) << "set at the run's start";
  const auto runs = alive();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].job_type, "foo");
  EXPECT_TRUE(runs[0].alive);
  EXPECT_TRUE(runs[0].last_seen.has_value());

  EXPECT_TRUE(testing::eventually([&] { return last_seen_us() > first; }, 60s))
      << "the lease keeper did not refresh last_seen\n" << daemon.stderr_so_far();

  daemon.signal(SIGTERM);
  ASSERT_TRUE(daemon.exited_within(60s));
  EXPECT_EQ(daemon.wait().exit_code, 0);
  EXPECT_TRUE(alive().empty());
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto listed = pg::list_runner_runs(tx, std::nullopt, 10);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_FALSE(listed[0].alive);
  EXPECT_TRUE(listed[0].date_finished.has_value());
}

// A run that died without recording its end stops looking alive once its
// last_seen is older than pg::kRunnerAliveWithin.
TEST_F(RunSeenTest, an_unfinished_run_not_seen_recently_is_not_alive) {
  db.sql("INSERT INTO runner_run (job_type, hostname, pid, date_started, last_seen) "
         "VALUES ('foo', 'h1', 1, now() - interval '1 hour', now() - interval '31 seconds'), "
         "       ('foo', 'h2', 2, now() - interval '1 hour', now() - interval '5 seconds'), "
         "       ('foo', 'h3', 3, now() - interval '1 hour', NULL)");
  const auto runs = alive();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].hostname, "h2");
}

}  // namespace
}  // namespace jobrunner
