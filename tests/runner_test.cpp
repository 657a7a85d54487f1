// The runtime in-process: jobrunner::Runner against a real database, with fake
// job types (Launchpad style) that succeed, retry, fail, suspend, or lose
// their lease while they run.
#include <chrono>
#include <thread>
#include <type_traits>
#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>

#include "foo/foo_job.hpp"
#include "jobrunner/core/outcome.hpp"
#include "jobrunner/pg/admin.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/runtime/notification_hook.hpp"
#include "jobrunner/runtime/runner.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;
using testing::DatabaseTest;

// What a fake job does in run(): it gets the job and the job's transaction.
using JobBody = std::function<void(const Job&, pg::Statements&)>;

class FakeJob : public RunnableJob {
 public:
  FakeJob(Job job, JobBody body) : RunnableJob(std::move(job)), body_(std::move(body)) {}
  void run(pg::Statements& tx) override { body_(job(), tx); }

 private:
  JobBody body_;
};

// A job type on the foojob table (the FooJob spec) whose jobs run `body`.
JobType fake_type(JobBody body) {
  return JobType{foo::foo_job_type().spec, [body](Job job) -> std::unique_ptr<RunnableJob> {
                   return std::make_unique<FakeJob>(std::move(job), body);
                 }};
}

// The job's work: one foo_frozzle row, written in the job's transaction.
void frozzle(const Job& job, pg::Statements& tx) {
  tx.exec("INSERT INTO foo_frozzle (foo, job) VALUES ($1, $2)", job.target_id, job.id);
}

// Writes its work, then ends with `Error` (or succeeds when Error is void).
template <typename Error>
JobType frozzle_then_throw(const std::string& message = "fake job says no") {
  return fake_type([message](const Job& job, pg::Statements& tx) {
    frozzle(job, tx);
    throw Error(message);
  });
}

JobType frozzle_and_succeed() { return fake_type(frozzle); }

class RunnerTest : public DatabaseTest {
 protected:
  RunnerTest() : conn(db.connect()) {}

  std::int64_t enqueue(pg::EnqueueRequest request = {}) {
    if (!request.target_id) request.target_id = db.make_foo();
    auto tx = conn.begin();
    const auto id = store.enqueue(tx, request);
    tx.commit();
    return id;
  }

  RunStats run_once(const JobType& type, RunnerOptions options = {}) {
    return run_once_with(hook, type, std::move(options));
  }
  RunStats run_once_with(NotificationHook& with, const JobType& type, RunnerOptions options = {}) {
    if (options.owner.empty()) options.owner = "runner-test";
    Runner runner(conn, type, options, with);
    return runner.run_once();
  }

  // Claims the next ready job as a runner would, without running it.
  Job claim() {
    auto tx = conn.begin();
    auto jobs = store.claim(tx, 1, 5min, "a runner that will die");
    tx.commit();
    if (jobs.empty()) throw std::runtime_error("no job to claim");
    return jobs.front();
  }

  void expire_lease(std::int64_t id) {
    db.sql("UPDATE job SET lease_expires = now() - interval '1 minute' WHERE id = $1", id);
  }

  std::int64_t status_of(std::int64_t id) {
    return db.scalar("SELECT status FROM job WHERE id = $1", id);
  }
  std::int64_t frozzles_of(std::int64_t id) {
    return db.scalar("SELECT count(*) FROM foo_frozzle WHERE job = $1", id);
  }
  std::int64_t error_reports_of(std::int64_t id) {
    return db.scalar("SELECT count(*) FROM error_report WHERE job = $1", id);
  }
  std::int64_t attempts_of(std::int64_t id) {
    return db.scalar("SELECT attempt_count FROM job WHERE id = $1", id);
  }
  bool lease_cleared(std::int64_t id) {
    return db.scalar("SELECT count(*) FROM job WHERE id = $1 AND lease_token IS NULL AND "
                     "lease_owner IS NULL AND lease_expires IS NULL",
                     id) == 1;
  }
  bool is_ready(std::int64_t id) {
    auto tx = conn.begin();
    for (const auto& job : store.ready(tx, 100)) {
      if (job.id == id) return true;
    }
    return false;
  }

  static constexpr std::int64_t kWaiting = 0, kRunning = 1, kCompleted = 2, kFailed = 3,
                                kSuspended = 4;

  pg::Connection conn;
  pg::JobStore store{foo::foo_job_type().spec};
  RecordingNotificationHook hook;
};

// ---- Outcomes ---------------------------------------------------------------

TEST_F(RunnerTest, a_job_that_succeeds_is_completed_and_its_work_committed) {
  const auto id = enqueue();

  const auto stats = run_once(frozzle_and_succeed());

  EXPECT_EQ(stats.completed, 1);
  EXPECT_EQ(stats.not_completed, 0);
  EXPECT_EQ(stats.lease_lost, 0);
  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND date_finished IS NOT NULL", id),
            1);
  EXPECT_EQ(attempts_of(id), 1);
  EXPECT_TRUE(lease_cleared(id));
  EXPECT_EQ(frozzles_of(id), 1);
  EXPECT_EQ(error_reports_of(id), 0);
}

TEST_F(RunnerTest, a_retry_error_queues_the_job_again_after_the_retry_delay) {
  const auto id = enqueue();

  const auto stats = run_once(frozzle_then_throw<RetryError>(), {.retry_delay = 1h});

  EXPECT_EQ(stats.completed, 0);
  EXPECT_EQ(stats.not_completed, 1);
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(attempts_of(id), 1);
  EXPECT_TRUE(lease_cleared(id));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND scheduled_start BETWEEN "
                      "now() + interval '59 minutes' AND now() + interval '61 minutes'",
                      id),
            1)
      << "scheduled_start should be about now() + the 1h retry delay";
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND date_finished IS NULL", id), 1);
  EXPECT_FALSE(is_ready(id));
  EXPECT_EQ(error_reports_of(id), 0);
  EXPECT_EQ(frozzles_of(id), 0) << "the retried attempt's work must be rolled back";
}

TEST_F(RunnerTest, a_retry_error_fails_the_job_with_one_error_report_once_its_retries_are_spent) {
  const int max_retries = 2;
  const auto id = enqueue({.max_retries = max_retries});
  const auto type = frozzle_then_throw<RetryError>("the frobnicator is busy");

  for (int attempt = 1; attempt <= max_retries; ++attempt) {
    run_once(type, {.retry_delay = 1h});
    ASSERT_EQ(status_of(id), kWaiting) << "after attempt " << attempt;
    ASSERT_EQ(error_reports_of(id), 0) << "after attempt " << attempt;
    db.sql("UPDATE job SET scheduled_start = NULL WHERE id = $1", id);
  }
  const auto stats = run_once(type, {.retry_delay = 1h});

  EXPECT_EQ(stats.not_completed, 1);
  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_EQ(attempts_of(id), max_retries + 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND date_finished IS NOT NULL", id),
            1);
  EXPECT_TRUE(lease_cleared(id));
  EXPECT_EQ(error_reports_of(id), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM error_report WHERE job = $1 AND "
                      "message = 'the frobnicator is busy' AND error_type LIKE '%RetryError%'",
                      id),
            1);
  EXPECT_EQ(frozzles_of(id), 0);
}

TEST_F(RunnerTest, a_user_error_fails_the_job_and_notifies_its_requester_without_an_error_report) {
  const auto id = enqueue({.requester = "alice"});

  const auto stats = run_once(frozzle_then_throw<UserError>("that foo cannot be frozzled"));

  EXPECT_EQ(stats.not_completed, 1);
  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND date_finished IS NOT NULL", id),
            1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job_notification WHERE job = $1 AND "
                      "recipient = 'alice' AND body = 'that foo cannot be frozzled'",
                      id),
            1);
  EXPECT_EQ(error_reports_of(id), 0);
  EXPECT_EQ(frozzles_of(id), 0);
}

// ---- A notification hook that fails --------------------------------------------

// A hook that fails: it throws after `before` has run in the failure's
// transaction (e.g. written a notice, or run a statement that fails).
class FailingHook : public NotificationHook {
 public:
  explicit FailingHook(std::function<void(pg::Statements&, const Job&)> before = {})
      : before_(std::move(before)) {}
  void notify_user_error(pg::Statements& tx, const Job& job, const std::string&) override {
    ++calls;
    if (before_) before_(tx, job);
    throw std::runtime_error("the mailer is down");
  }
  int calls = 0;

 private:
  std::function<void(pg::Statements&, const Job&)> before_;
};

class FailingHookTest : public RunnerTest {
 protected:
  // Runs a job that ends with a user error under `failing`, and checks that
  // the job ended exactly as under the default hook, less the notice, with
  // an error report of the hook's failure instead.
  void expect_the_hook_failure_changes_nothing_but_the_notice(
      FailingHook& failing, const std::string& hook_error = "the mailer is down") {
    const auto id = enqueue({.requester = "alice"});

    RunStats stats;
    ASSERT_NO_THROW(stats = run_once_with(
                        failing, frozzle_then_throw<UserError>("that foo cannot be frozzled")));

    EXPECT_EQ(failing.calls, 1);
    EXPECT_EQ(stats.not_completed, 1);
    EXPECT_EQ(stats.completed, 0);
    EXPECT_EQ(status_of(id), kFailed);
    EXPECT_EQ(attempts_of(id), 1);
    EXPECT_TRUE(lease_cleared(id));
    EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND date_finished IS NOT NULL "
                        "AND log LIKE '%that foo cannot be frozzled%'",
                        id),
              1);
    EXPECT_EQ(frozzles_of(id), 0) << "a failed job's work is rolled back, as ever";
    EXPECT_EQ(db.scalar("SELECT count(*) FROM job_notification"), 0)
        << "the hook's own writes must be rolled back";
    const auto reports = [&] {
      auto tx = conn.begin();
      return pg::find_error_reports(tx, {.job = id, .limit = 10});
    }();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports.front().error_type, "NotificationHookFailed");
    EXPECT_NE(reports.front().message.find(hook_error), std::string::npos)
        << reports.front().message;
    EXPECT_NE(reports.front().message.find("that foo cannot be frozzled"), std::string::npos)
        << reports.front().message;
    EXPECT_EQ(reports.front().variables.value("job_id", std::int64_t{0}), id);
    // Nothing is left for a later run: the job is not run again.
    EXPECT_FALSE(is_ready(id));
  }
};

TEST_F(FailingHookTest, a_hook_that_throws_leaves_the_job_failed_and_files_an_error_report) {
  FailingHook failing;
  expect_the_hook_failure_changes_nothing_but_the_notice(failing);
}

TEST_F(FailingHookTest, the_rows_a_hook_wrote_before_it_threw_are_rolled_back) {
  FailingHook failing([](pg::Statements& tx, const Job& job) {
    pg::record_notification(tx, job, "a notice that must not remain", "body");
  });
  expect_the_hook_failure_changes_nothing_but_the_notice(failing);
}

TEST_F(FailingHookTest, a_hook_whose_statement_fails_does_not_abort_the_failures_transaction) {
  // A failed statement aborts the whole transaction, unless a savepoint
  // takes it back.
  FailingHook failing([](pg::Statements& tx, const Job& job) {
    pg::record_notification(tx, job, "a notice that must not remain", "body");
    tx.exec("INSERT INTO no_such_table VALUES (1)");
  });
  expect_the_hook_failure_changes_nothing_but_the_notice(failing, "no_such_table");
}

TEST_F(RunnerTest, an_unexpected_exception_fails_the_job_with_an_error_report_of_its_variables) {
  const auto foo = db.make_foo();
  const auto id =
      enqueue({.target_id = foo, .metadata = {{"outcome", "error"}, {"message", "kaboom"}}});

  const auto stats = run_once(foo::foo_job_type());

  EXPECT_EQ(stats.not_completed, 1);
  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_TRUE(lease_cleared(id));
  EXPECT_EQ(frozzles_of(id), 0);
  auto tx = conn.begin();
  const auto reports = pg::find_error_reports(tx, {.job = id, .limit = 10});
  ASSERT_EQ(reports.size(), 1u);
  const auto& report = reports.front();
  EXPECT_EQ(report.message, "kaboom");
  EXPECT_NE(report.error_type.find("logic_error"), std::string::npos) << report.error_type;
  EXPECT_EQ(report.variables.value("job_id", std::int64_t{0}), id) << report.variables.dump();
  EXPECT_EQ(report.variables.value("job_type", std::string()), "foo") << report.variables.dump();
  EXPECT_EQ(report.variables.value("foo_id", std::int64_t{0}), foo) << report.variables.dump();
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job_notification WHERE job = $1", id), 0);
}

TEST_F(RunnerTest, a_suspend_request_suspends_the_job_and_clears_its_lease) {
  const auto id = enqueue();

  const auto stats = run_once(frozzle_then_throw<SuspendJob>("waiting for the foo's owner"));

  EXPECT_EQ(stats.not_completed, 1);
  EXPECT_EQ(status_of(id), kSuspended);
  EXPECT_TRUE(lease_cleared(id));
  EXPECT_FALSE(is_ready(id));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND date_finished IS NULL", id), 1);
  EXPECT_EQ(error_reports_of(id), 0);
  EXPECT_EQ(frozzles_of(id), 0);
}

// ---- The one transaction rule -----------------------------------------------

struct FailureCase {
  std::string name;
  std::function<JobType()> type;
  std::int64_t status_after;
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const FailureCase& failure, std::ostream* out) { *out << failure.name; }

class TransactionRuleTest : public RunnerTest,
                            public ::testing::WithParamInterface<FailureCase> {};

TEST_P(TransactionRuleTest, work_written_before_the_job_ended_without_success_is_rolled_back) {
  const auto id = enqueue();

  run_once(GetParam().type(), {.retry_delay = 1h});

  EXPECT_EQ(status_of(id), GetParam().status_after);
  EXPECT_EQ(frozzles_of(id), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foo_frozzle"), 0);
}

INSTANTIATE_TEST_SUITE_P(
    EveryFailure, TransactionRuleTest,
    ::testing::Values(
        FailureCase{"retry_error", [] { return frozzle_then_throw<RetryError>(); }, 0},
        FailureCase{"user_error", [] { return frozzle_then_throw<UserError>(); }, 3},
        FailureCase{"suspend", [] { return frozzle_then_throw<SuspendJob>(); }, 4},
        FailureCase{"unexpected_error", [] { return frozzle_then_throw<std::runtime_error>(); },
                    3}),
    [](const ::testing::TestParamInfo<FailureCase>& case_info) { return case_info.param.name; });

// ---- A job cannot end its own transaction --------------------------------------

// A job's handle (pg::Statements) runs statements and savepoints and has no
// commit or rollback, so a job cannot keep its work and then fail: the code
// does not compile. (The checks on pg::Transaction show that the concepts
// would see the members.)
template <typename T>
concept CanCommit = requires(T& t) { t.commit(); } || requires(T& t) { t.commit_without_flush_wait(); };
template <typename T>
concept CanRollBack = requires(T& t) { t.abort(); } || requires(T& t) { t.rollback(); };
template <typename T>
concept CanReachTheTransaction = requires(T& t) { t.transaction(); } || requires(T& t) { t.tx_; };
static_assert(!CanCommit<pg::Statements>);
static_assert(!CanRollBack<pg::Statements>);
static_assert(!CanReachTheTransaction<pg::Statements>);
static_assert(!std::is_copy_constructible_v<pg::Statements>);
static_assert(CanCommit<pg::Transaction>);
static_assert(std::is_same_v<decltype(&RunnableJob::run), void (RunnableJob::*)(pg::Statements&)>);

// COMMIT or ROLLBACK sent as SQL would end the transaction behind the
// runner's back: the statement is refused right after it ran, and the job
// fails with an error report (not as it asked: its UserError is never
// thrown). What it wrote before the COMMIT is committed: the report says so.
TEST_F(RunnerTest, a_job_that_sends_commit_as_sql_fails_with_an_error_report) {
  const auto id = enqueue();
  const auto type = fake_type([](const Job& job, pg::Statements& tx) {
    frozzle(job, tx);
    tx.exec("COMMIT");
    throw UserError("not reached: the COMMIT is refused first");
  });

  const auto stats = run_once(type);

  EXPECT_EQ(stats.completed, 0);
  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_EQ(error_reports_of(id), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM error_report WHERE job = $1 AND message LIKE "
                      "'%must not end its transaction%committed without it%'",
                      id),
            1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job_notification WHERE job = $1", id), 0)
      << "the user error was never thrown";
}

TEST_F(RunnerTest, a_job_that_sends_rollback_as_sql_fails_and_keeps_nothing) {
  const auto id = enqueue();
  const auto type = fake_type([](const Job& job, pg::Statements& tx) {
    frozzle(job, tx);
    tx.exec("ROLLBACK");
  });

  run_once(type);

  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_EQ(error_reports_of(id), 1);
  EXPECT_EQ(frozzles_of(id), 0);
}

TEST_F(RunnerTest, work_written_by_a_job_that_succeeds_commits_with_its_status) {
  const auto id = enqueue();
  // Several writes, all in the job's transaction.
  const auto type = fake_type([](const Job& job, pg::Statements& tx) {
    frozzle(job, tx);
    tx.exec("UPDATE foo SET name = 'frozzled' WHERE id = $1", job.target_id);
  });

  run_once(type);

  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(frozzles_of(id), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foo JOIN foojob ON foojob.foo = foo.id "
                      "WHERE foojob.job = $1 AND foo.name = 'frozzled'",
                      id),
            1);
}

// ---- Rescue of expired leases -------------------------------------------------

TEST_F(RunnerTest, rescue_requeues_a_running_job_whose_lease_expired_keeping_its_attempt_count) {
  const auto id = enqueue();
  claim();
  expire_lease(id);
  Runner runner(conn, frozzle_and_succeed(), {.owner = "rescuer"}, hook);

  EXPECT_EQ(runner.rescue_expired(), 1);

  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(attempts_of(id), 1) << "the attempt that died still counts";
  EXPECT_TRUE(lease_cleared(id));
  EXPECT_TRUE(is_ready(id));
  EXPECT_EQ(error_reports_of(id), 0);
}

TEST_F(RunnerTest, rescue_fails_a_job_whose_lease_expired_when_its_retries_are_spent) {
  const auto id = enqueue({.max_retries = 0});
  claim();
  expire_lease(id);
  Runner runner(conn, frozzle_and_succeed(), {.owner = "rescuer"}, hook);

  EXPECT_EQ(runner.rescue_expired(), 1);

  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_TRUE(lease_cleared(id));
  EXPECT_EQ(error_reports_of(id), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND date_finished IS NOT NULL", id),
            1);
}

TEST_F(RunnerTest, rescue_leaves_a_running_job_with_a_live_lease_alone) {
  const auto id = enqueue();
  const auto claimed = claim();
  Runner runner(conn, frozzle_and_succeed(), {.owner = "rescuer"}, hook);

  EXPECT_EQ(runner.rescue_expired(), 0);

  EXPECT_EQ(status_of(id), kRunning);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND lease_token = $2::bigint", id,
                      claimed.lease_token),
            1);
  EXPECT_EQ(error_reports_of(id), 0);
}

TEST_F(RunnerTest, run_once_rescues_expired_leases_before_claiming) {
  const auto id = enqueue();
  claim();
  expire_lease(id);

  const auto stats = run_once(frozzle_and_succeed());

  EXPECT_EQ(stats.rescued, 1);
  EXPECT_EQ(stats.completed, 1) << "the rescued job is ready at once and runs in the same pass";
  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(attempts_of(id), 2);
  EXPECT_EQ(frozzles_of(id), 1);
}

// ---- A finishing write whose lease was lost is refused ------------------------

// Another runner takes the job while this one runs it: its lease expires and
// it is rescued (WAITING, lease cleared), from another connection.
JobType rescued_while_running(const testing::TestDatabase& db, bool then_fail) {
  const auto conninfo = db.conninfo();
  return fake_type([conninfo, then_fail](const Job& job, pg::Statements& tx) {
    {
      auto other = pg::Connection::open(conninfo);
      auto other_tx = other.begin();
      other_tx.exec("UPDATE job SET lease_expires = now() - interval '1 minute' WHERE id = $1",
                    job.id);
      other_tx.commit();
      RecordingNotificationHook other_hook;
      Runner rescuer(other, fake_type(frozzle), {.owner = "rescuer"}, other_hook);
      if (rescuer.rescue_expired() != 1) throw std::logic_error("the rescue did not happen");
    }
    frozzle(job, tx);
    if (then_fail) throw std::runtime_error("failing after the lease was lost");
  });
}

// Another session overwrites the lease token while the job runs.
JobType stolen_while_running(const testing::TestDatabase& db, bool then_fail) {
  const auto conninfo = db.conninfo();
  return fake_type([conninfo, then_fail](const Job& job, pg::Statements& tx) {
    {
      auto other = pg::Connection::open(conninfo);
      auto other_tx = other.begin();
      other_tx.exec("UPDATE job SET lease_token = nextval('job_lease_token_seq') WHERE id = $1", job.id);
      other_tx.commit();
    }
    frozzle(job, tx);
    if (then_fail) throw UserError("failing after the lease was stolen");
  });
}

TEST_F(RunnerTest, a_completion_is_refused_when_the_job_was_rescued_while_it_ran) {
  const auto id = enqueue();

  const auto stats = run_once(rescued_while_running(db, false), {.limit = 1});

  EXPECT_EQ(stats.completed, 0);
  EXPECT_EQ(stats.not_completed, 1);
  EXPECT_EQ(stats.lease_lost, 1);
  EXPECT_EQ(status_of(id), kWaiting) << "the rescue's WAITING must stand";
  EXPECT_EQ(frozzles_of(id), 0) << "the refused job's work must be rolled back";
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND date_finished IS NULL", id), 1);
}

TEST_F(RunnerTest, a_completion_is_refused_when_the_lease_token_changed_while_the_job_ran) {
  const auto id = enqueue();

  const auto stats = run_once(stolen_while_running(db, false));

  EXPECT_EQ(stats.completed, 0);
  EXPECT_EQ(stats.lease_lost, 1);
  EXPECT_EQ(status_of(id), kRunning) << "the new lease holder still holds it";
  EXPECT_EQ(frozzles_of(id), 0);
}

TEST_F(RunnerTest, a_failure_is_not_recorded_when_the_job_was_rescued_while_it_ran) {
  const auto id = enqueue();

  const auto stats = run_once(rescued_while_running(db, true), {.limit = 1});

  EXPECT_EQ(stats.not_completed, 1);
  EXPECT_EQ(stats.lease_lost, 1);
  EXPECT_EQ(status_of(id), kWaiting) << "the refused FAILED must not overwrite the rescue";
  EXPECT_EQ(error_reports_of(id), 0);
  EXPECT_EQ(frozzles_of(id), 0);
}

TEST_F(RunnerTest, a_failure_is_not_recorded_when_the_lease_token_changed_while_the_job_ran) {
  const auto id = enqueue({.requester = "alice"});

  const auto stats = run_once(stolen_while_running(db, true));

  EXPECT_EQ(stats.not_completed, 1);
  EXPECT_EQ(stats.lease_lost, 1);
  EXPECT_EQ(status_of(id), kRunning);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job_notification WHERE job = $1", id), 0)
      << "no requester is told of a failure that was not recorded";
  EXPECT_EQ(frozzles_of(id), 0);
}

// ---- Stopping -----------------------------------------------------------------

TEST_F(RunnerTest, run_once_stops_claiming_at_the_limit) {
  for (int i = 0; i < 5; ++i) enqueue();

  const auto stats = run_once(frozzle_and_succeed(), {.limit = 2});

  EXPECT_EQ(stats.completed, 2);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE status = 2"), 2);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE status = 0 AND attempt_count = 0"), 3);
}

TEST_F(RunnerTest, run_once_claims_nothing_once_max_runtime_has_passed) {
  for (int i = 0; i < 3; ++i) enqueue();

  const auto stats = run_once(frozzle_and_succeed(), {.max_runtime = 0ms});

  EXPECT_EQ(stats.completed, 0);
  EXPECT_EQ(stats.not_completed, 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE status = 0 AND attempt_count = 0"), 3);
}

TEST_F(RunnerTest, run_once_stops_claiming_when_max_runtime_passes_during_a_job) {
  for (int i = 0; i < 3; ++i) enqueue();
  // The first job takes max_runtime itself, so max_runtime has passed when it
  // ends, however quickly the runner got to it; the runner then stops. (Its
  // first claim must come within those 5 s: a generous bound.)
  constexpr auto max_runtime = 5s;
  const auto slow = fake_type([&](const Job& job, pg::Statements& tx) {
    std::this_thread::sleep_for(max_runtime);
    frozzle(job, tx);
  });

  const auto stats = run_once(slow, {.max_runtime = max_runtime});

  EXPECT_EQ(stats.completed, 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE status = 0 AND attempt_count = 0"), 2);
}

TEST_F(RunnerTest, run_once_without_a_limit_runs_every_ready_job) {
  for (int i = 0; i < 4; ++i) enqueue();
  const auto later = enqueue();
  db.sql("UPDATE job SET scheduled_start = now() + interval '1 hour' WHERE id = $1", later);

  const auto stats = run_once(frozzle_and_succeed());

  EXPECT_EQ(stats.completed, 4);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE status = 2"), 4);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE status = 0"), 1);
}

}  // namespace
}  // namespace jobrunner
