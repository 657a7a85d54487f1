// jobctl rescue: an expired RUNNING job is rescued on demand, not only by the
// next runner.
#include "foo/foo_job.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using testing::bin;
using testing::DatabaseTest;
using testing::run_program;

// Claims a FooJob as a runner would, then lets its lease run out.
std::int64_t make_abandoned_job(const testing::TestDatabase& db, int max_retries,
                                int attempts_before) {
  const auto foo = db.make_foo();
  auto conn = db.connect();
  const pg::JobStore store(foo::foo_job_type().spec);
  auto tx = conn.begin();
  const auto id = store.enqueue(tx, {.target_id = foo, .max_retries = max_retries});
  tx.commit();
  db.sql("UPDATE job SET attempt_count = $2 WHERE id = $1", id, attempts_before);
  auto claim = conn.begin();
  EXPECT_EQ(store.claim(claim, 1, std::chrono::minutes(5), "dead-host:1").size(), 1u);
  claim.commit();
  db.sql("UPDATE job SET lease_expires = now() - interval '1 minute' WHERE id = $1", id);
  return id;
}

TEST_F(DatabaseTest, jobctl_rescue_requeues_a_job_whose_lease_expired) {
  const auto id = make_abandoned_job(db, 3, 0);
  const auto result = run_program({bin("jobctl"), "--db", db.conninfo(), "rescue"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "1\n");
  EXPECT_EQ(db.scalar("SELECT status FROM job WHERE id = $1", id), 0);
  EXPECT_EQ(db.scalar("SELECT attempt_count FROM job WHERE id = $1", id), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND lease_token IS NULL", id), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM error_report"), 0);
}

TEST_F(DatabaseTest, jobctl_rescue_fails_a_job_whose_attempts_are_spent_with_a_report) {
  const auto id = make_abandoned_job(db, 0, 0);
  const auto result = run_program({bin("jobctl"), "--db", db.conninfo(), "rescue", "--type", "foo"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(db.scalar("SELECT status FROM job WHERE id = $1", id), 3);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM error_report WHERE job = $1 AND error_type = "
                      "'LeaseExpired'",
                      id),
            1);
}

TEST_F(DatabaseTest, jobctl_rescue_leaves_a_live_lease_alone_and_refuses_an_unknown_type) {
  const auto foo = db.make_foo();
  auto conn = db.connect();
  const pg::JobStore store(foo::foo_job_type().spec);
  auto tx = conn.begin();
  (void)store.enqueue(tx, {.target_id = foo});
  EXPECT_EQ(store.claim(tx, 1, std::chrono::minutes(5), "live-host:1").size(), 1u);
  tx.commit();
  auto result = run_program({bin("jobctl"), "--db", db.conninfo(), "rescue"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "0\n");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE status = 1"), 1);
  result = run_program({bin("jobctl"), "--db", db.conninfo(), "rescue", "--type", "bar"});
  EXPECT_EQ(result.exit_code, 65);
  EXPECT_NE(result.err.find("unknown job type 'bar'"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace jobrunner
