// The cron lock of a job type (runner_lock): a leased row, so that it holds
// through a connection pooler, is extended while its run lives, released at
// the end, and taken over once a run that died lets it expire.
#include <chrono>
#include <string>

#include "runner_process_test.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << part << "' not found";
}

class TypeLockTest : public testing::RunnerProcessTest {
 protected:
  std::int64_t lock_rows() const { return db.scalar("SELECT count(*) FROM runner_lock"); }
  // A lock row left by a run on another host that died: expired a minute ago.
  void leave_expired_lock() const {
    db.sql("INSERT INTO runner_lock (job_type, holder, token, acquired_at, expires_at) "
           "VALUES ('foo', 'dead-host:7', gen_random_uuid(), now() - interval '2 minutes', "
           "now() - interval '1 minute')");
  }
};

TEST_F(TypeLockTest, the_lock_has_one_holder_and_only_its_token_extends_or_releases_it) {
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto first = store.try_lock_type(tx, "host-a:1", 1h);
  ASSERT_TRUE(first.token);
  EXPECT_FALSE(first.previous_holder);
  EXPECT_FALSE(first.taken_over);

  const auto second = store.try_lock_type(tx, "host-b:2", 1h);
  EXPECT_FALSE(second.token);
  EXPECT_EQ(second.previous_holder, "host-a:1");
  EXPECT_TRUE(second.previous_expires);

  const std::string stranger = "00000000-0000-0000-0000-000000000000";
  EXPECT_FALSE(store.extend_type_lock(tx, stranger, 1h));
  store.release_type_lock(tx, stranger);
  EXPECT_TRUE(store.extend_type_lock(tx, *first.token, 1h));
  store.release_type_lock(tx, *first.token);
  EXPECT_FALSE(store.extend_type_lock(tx, *first.token, 1h));
  EXPECT_TRUE(store.try_lock_type(tx, "host-b:2", 1h).token);
  tx.commit();
}

TEST_F(TypeLockTest, an_expired_lock_is_taken_over_and_its_old_token_is_refused) {
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto dead = store.try_lock_type(tx, "host-a:1", 1h);
  ASSERT_TRUE(dead.token);
  tx.exec("UPDATE runner_lock SET expires_at = now() - interval '1 second'");

  const auto next = store.try_lock_type(tx, "host-b:2", 1h);
  ASSERT_TRUE(next.token);
  EXPECT_TRUE(next.taken_over);
  EXPECT_EQ(next.previous_holder, "host-a:1");
  EXPECT_NE(*next.token, *dead.token);
  EXPECT_FALSE(store.extend_type_lock(tx, *dead.token, 1h));
  store.release_type_lock(tx, *dead.token);  // touches nothing of its successor's
  tx.commit();
  EXPECT_EQ(lock_rows(), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_lock WHERE holder = 'host-b:2'"), 1);
}

TEST_F(TypeLockTest, a_cron_run_releases_its_lock_when_it_ends) {
  const auto id = enqueue();

  const auto result = testing::run_program(runner_argv({}));

  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(lock_rows(), 0);
}

TEST_F(TypeLockTest, a_daemon_takes_no_lock) {
  db.sql("INSERT INTO runner_lock (job_type, holder, token, acquired_at, expires_at) "
         "VALUES ('foo', 'cron-host:7', gen_random_uuid(), now(), now() + interval '1 hour')");
  const auto id = enqueue();

  testing::Program daemon(runner_argv({"--daemon"}));
  ASSERT_TRUE(testing::eventually([&] { return status_of(id) == kCompleted; }));
  daemon.signal(SIGTERM);
  const auto result = daemon.wait();

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_lock WHERE holder = 'cron-host:7'"), 1);
}

TEST_F(TypeLockTest, the_lock_of_a_run_that_died_is_taken_over_once_it_expired) {
  leave_expired_lock();
  const auto id = enqueue();

  const auto result = testing::run_program(runner_argv({}));

  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.err, "took over the lock of job type 'foo' from dead-host:7"))
      << result.err;
  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(lock_rows(), 0);
}

TEST_F(TypeLockTest, a_run_whose_lock_was_taken_over_stops_claiming_and_exits_75) {
  const auto first = enqueue();
  const auto second = enqueue();
  // The first job waits at the gate, so the run is certainly still in its
  // first job when its lock is taken.
  testing::WorkGate gate(db);

  testing::Program run(runner_argv({"--lease", "3s"}));
  ASSERT_TRUE(testing::eventually([&] { return jobs_at_gate() == 1; }));
  ASSERT_TRUE(running(first));
  ASSERT_EQ(lock_rows(), 1);
  db.sql("UPDATE runner_lock SET holder = 'thief:1', token = gen_random_uuid()");
  // The keeper extends the job's lease and the lock in one transaction, and
  // notes the loss before it commits: once the lease moved, the run knows.
  const auto expires = [&] {
    return db.scalar("SELECT (extract(epoch FROM lease_expires) * 1000000)::bigint FROM job "
                     "WHERE id = $1",
                     first);
  };
  const auto before = expires();
  ASSERT_TRUE(testing::eventually([&] { return expires() > before; }));
  gate.release();

  const auto result = run.wait();

  EXPECT_EQ(result.exit_code, 75) << result.err;
  EXPECT_TRUE(contains(result.err, "was taken over by another run")) << result.err;
  EXPECT_EQ(status_of(first), kCompleted);  // its own lease was never lost
  EXPECT_EQ(status_of(second), kWaiting);
  EXPECT_EQ(attempts_of(second), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_lock WHERE holder = 'thief:1'"), 1);
}

}  // namespace
}  // namespace jobrunner
