// The test harness itself: a fresh migrated database per test.
#include "foo/foo_job.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/pg/migrations.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using testing::DatabaseTest;

TEST_F(DatabaseTest, each_test_gets_a_migrated_empty_database) {
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job"), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM database_revision"),
            static_cast<std::int64_t>(pg::embedded_patches().size()));
}

TEST_F(DatabaseTest, an_enqueued_foo_job_can_be_read_back_as_its_type) {
  const auto foo = db.make_foo();
  auto conn = db.connect();
  auto tx = conn.begin();
  const pg::JobStore store(foo::foo_job_type().spec);
  const auto id = store.enqueue(tx, {.target_id = foo, .metadata = {{"k", 1}}});
  const auto job = store.get(tx, id);
  EXPECT_EQ(job.target_id, foo);
  EXPECT_EQ(job.metadata["k"], 1);
  EXPECT_EQ(job.status, JobStatus::waiting);
  EXPECT_EQ(job.max_retries, 3);
}

}  // namespace
}  // namespace jobrunner
