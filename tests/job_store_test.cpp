// pg::JobStore against a real database: the column effects of each move,
// ready selection, atomic claims, lease fencing, enqueue rules, error reports
// and the claim's plan (the store's own statement, from pg/queries.hpp).
#include <algorithm>
#include <chrono>
#include <exception>
#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "foo/foo_job.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/admin.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "pg/queries.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;

constexpr auto kStaleToken = "-1";  // job_lease_token_seq never draws it

std::vector<std::int64_t> ids_of(const std::vector<Job>& jobs) {
  std::vector<std::int64_t> ids;
  for (const auto& job : jobs) ids.push_back(job.id);
  return ids;
}

bool contains(const std::vector<std::int64_t>& ids, std::int64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

Decision decision(JobStatus next, std::optional<Duration> retry_after = std::nullopt) {
  return Decision{.next = next, .retry_after = retry_after, .log_line = "test decision"};
}

class JobStoreTest : public testing::DatabaseTest {
 protected:
  const pg::JobStore store{foo::foo_job_type().spec};

  // Enqueues a FooJob for `foo` in its own committed transaction.
  std::int64_t enqueue_for(std::int64_t foo, pg::EnqueueRequest request = {}) {
    request.target_id = foo;
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto id = store.enqueue(tx, request);
    tx.commit();
    return id;
  }
  // Enqueues a FooJob for a new foo.
  std::int64_t enqueue(pg::EnqueueRequest request = {}) {
    return enqueue_for(db.make_foo(), std::move(request));
  }

  std::vector<Job> claim(int limit = 10, const std::string& owner = "runner-a",
                         Duration lease = 5min) {
    auto conn = db.connect();
    auto tx = conn.begin();
    auto jobs = store.claim(tx, limit, lease, owner);
    tx.commit();
    return jobs;
  }
  // Claims exactly one job; throws if there is none ready.
  Job claim_one(const std::string& owner = "runner-a") {
    auto jobs = claim(1, owner);
    if (jobs.size() != 1) throw std::runtime_error("expected to claim one job");
    return jobs.front();
  }

  bool finish(const Job& job, const Decision& d) {
    auto conn = db.connect();
    auto tx = conn.begin();
    const bool done = store.finish(tx, job, d);
    tx.commit();
    return done;
  }

  std::vector<std::int64_t> ready_ids() {
    auto conn = db.connect();
    auto tx = conn.begin();
    return ids_of(store.ready(tx, 1000));
  }

  // Whether an SQL condition on the job's row holds, in `tx` (so that now()
  // is the time of that transaction's writes).
  static bool holds(pg::Transaction& tx, std::int64_t id, const std::string& condition) {
    return tx.exec("SELECT coalesce((" + condition + "), false) AS ok FROM job WHERE id = $1", id)
        .at(0)
        .boolean("ok");
  }
  bool holds(std::int64_t id, const std::string& condition) {
    auto conn = db.connect();
    auto tx = conn.begin();
    return holds(tx, id, condition);
  }

  std::int64_t status_of(std::int64_t id) {
    return db.scalar("SELECT status FROM job WHERE id = $1", id);
  }

  // A job of another type (registered without a table of its own).
  std::int64_t insert_bar_job(const std::string& columns = "", const std::string& values = "") {
    db.sql("SELECT jobrunner_register_type(name => 'bar', display_name => 'BarJob', "
           "package => 'test')");
    return db.scalar("INSERT INTO job (job_type" + columns + ") VALUES ('bar'" + values +
                     ") RETURNING id");
  }
};

// ---- Column effects of each move -------------------------------------------

TEST_F(JobStoreTest, claiming_starts_the_job_and_takes_a_lease) {
  const auto id = enqueue();
  db.sql("UPDATE job SET date_finished = now() - interval '1 day', attempt_count = 2 WHERE id = $1",
         id);
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto jobs = store.claim(tx, 1, 90s, "host:123");
  ASSERT_EQ(jobs.size(), 1U);
  const auto& job = jobs.front();
  EXPECT_EQ(job.id, id);
  EXPECT_EQ(job.status, JobStatus::running);
  EXPECT_EQ(job.attempt_count, 3);
  EXPECT_EQ(job.lease_owner, "host:123");
  ASSERT_TRUE(job.lease_token.has_value());
  EXPECT_GT(std::stoll(*job.lease_token), 0);  // drawn from job_lease_token_seq
  EXPECT_FALSE(job.date_finished.has_value());
  EXPECT_TRUE(holds(tx, id, "status = 1"));
  EXPECT_TRUE(holds(tx, id, "date_started = now()"));
  EXPECT_TRUE(holds(tx, id, "date_finished IS NULL"));
  EXPECT_TRUE(holds(tx, id, "attempt_count = 3"));
  EXPECT_TRUE(holds(tx, id, "lease_owner = 'host:123'"));
  EXPECT_TRUE(holds(tx, id, "lease_token::text = '" + *job.lease_token + "'"));
  EXPECT_TRUE(holds(tx, id, "lease_expires = now() + interval '90 seconds'"));
}

TEST_F(JobStoreTest, a_claim_returns_each_jobs_type_row_and_one_without_it_has_no_target) {
  const auto foo = db.make_foo();
  const auto with_row = enqueue_for(foo, {.metadata = {{"work_ms", 7}}});
  const auto without_row = enqueue();
  db.sql("DELETE FROM foojob WHERE job = $1", without_row);

  const auto jobs = claim();
  ASSERT_EQ(jobs.size(), 2U);
  EXPECT_EQ(jobs[0].id, with_row);
  EXPECT_EQ(jobs[0].target_id, foo);
  EXPECT_EQ(jobs[0].type_code, foo::foo_job_type().spec.type_code);
  EXPECT_EQ(jobs[0].metadata, (nlohmann::json{{"work_ms", 7}}));
  EXPECT_EQ(jobs[1].id, without_row) << "claimed all the same: running it reports the missing row";
  EXPECT_FALSE(jobs[1].target_id);
}

TEST_F(JobStoreTest, each_claim_takes_a_fresh_lease_token) {
  const auto id = enqueue();
  const auto first = claim_one();
  auto conn = db.connect();
  auto tx = conn.begin();
  testing::move_job(tx, id, JobStatus::waiting);
  tx.commit();
  const auto second = claim_one();
  EXPECT_EQ(second.id, id);
  EXPECT_NE(second.lease_token, first.lease_token);
  EXPECT_EQ(second.attempt_count, 2);
}

TEST_F(JobStoreTest, completing_sets_date_finished_and_clears_the_lease) {
  const auto id = enqueue();
  const auto job = claim_one();
  auto conn = db.connect();
  auto tx = conn.begin();
  ASSERT_TRUE(store.finish(tx, job, decision(JobStatus::completed)));
  EXPECT_TRUE(holds(tx, id, "status = 2"));
  EXPECT_TRUE(holds(tx, id, "date_finished = now()"));
  EXPECT_TRUE(holds(tx, id, "lease_expires IS NULL AND lease_owner IS NULL AND lease_token IS NULL"));
  EXPECT_TRUE(holds(tx, id, "log IS NULL"));  // a success writes no log line
}

TEST_F(JobStoreTest, failing_sets_failed_and_date_finished) {
  const auto id = enqueue();
  const auto job = claim_one();
  auto conn = db.connect();
  auto tx = conn.begin();
  ASSERT_TRUE(store.finish(tx, job, decision(JobStatus::failed)));
  EXPECT_TRUE(holds(tx, id, "status = 3"));
  EXPECT_TRUE(holds(tx, id, "date_finished = now()"));
  EXPECT_TRUE(holds(tx, id, "lease_expires IS NULL AND lease_owner IS NULL AND lease_token IS NULL"));
}

TEST_F(JobStoreTest, queueing_a_retry_waits_for_the_delay_without_a_lease) {
  const auto id = enqueue();
  const auto job = claim_one();
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    ASSERT_TRUE(store.finish(tx, job, decision(JobStatus::waiting, 10s)));
    EXPECT_TRUE(holds(tx, id, "status = 0"));
    EXPECT_TRUE(holds(tx, id, "scheduled_start = now() + interval '10 seconds'"));
    EXPECT_TRUE(holds(tx, id, "date_finished IS NULL"));
    EXPECT_TRUE(
        holds(tx, id, "lease_expires IS NULL AND lease_owner IS NULL AND lease_token IS NULL"));
    tx.commit();
  }
  EXPECT_FALSE(contains(ready_ids(), id));
  db.sql("UPDATE job SET scheduled_start = now() - interval '1 second' WHERE id = $1", id);
  EXPECT_TRUE(contains(ready_ids(), id));
}

TEST_F(JobStoreTest, suspending_clears_the_lease_and_leaves_the_job_unfinished) {
  const auto id = enqueue();
  const auto job = claim_one();
  auto conn = db.connect();
  auto tx = conn.begin();
  ASSERT_TRUE(store.finish(tx, job, decision(JobStatus::suspended)));
  EXPECT_TRUE(holds(tx, id, "status = 4"));
  EXPECT_TRUE(holds(tx, id, "date_finished IS NULL"));
  EXPECT_TRUE(holds(tx, id, "lease_expires IS NULL AND lease_owner IS NULL AND lease_token IS NULL"));
  tx.commit();
  EXPECT_FALSE(contains(ready_ids(), id));
}

TEST_F(JobStoreTest, finish_refuses_a_decision_the_table_forbids_from_running) {
  enqueue();
  const auto job = claim_one();
  auto conn = db.connect();
  auto tx = conn.begin();
  EXPECT_THROW((void)store.finish(tx, job, decision(JobStatus::running)), InvalidTransition);
}

TEST_F(JobStoreTest, resuming_a_suspended_job_clears_its_lease_and_makes_it_ready) {
  const auto id = enqueue();
  // A suspended row that still carries a future lease and a schedule.
  db.sql("UPDATE job SET status = 4, lease_expires = now() + interval '1 hour', "
         "lease_owner = 'old', lease_token = nextval('job_lease_token_seq'), "
         "scheduled_start = now() + interval '1 hour' WHERE id = $1",
         id);
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto job = testing::move_job(tx, id, JobStatus::waiting, "operator says so");
  EXPECT_EQ(job.status, JobStatus::waiting);
  EXPECT_FALSE(job.lease_token.has_value());
  EXPECT_TRUE(holds(tx, id, "status = 0"));
  EXPECT_TRUE(holds(tx, id, "lease_expires IS NULL AND lease_owner IS NULL AND lease_token IS NULL"));
  EXPECT_TRUE(holds(tx, id, "reason = 'operator says so'"));
  EXPECT_TRUE(holds(tx, id, "log LIKE '%SUSPENDED to WAITING%'"));
  tx.commit();
  EXPECT_TRUE(contains(ready_ids(), id));
}

TEST_F(JobStoreTest, an_operators_move_refuses_a_forbidden_transition_and_changes_nothing) {
  const auto id = enqueue();
  auto conn = db.connect();
  auto tx = conn.begin();
  try {
    testing::move_job(tx, id, JobStatus::completed, "no");
    FAIL() << "WAITING -> COMPLETED was accepted";
  } catch (const InvalidTransition& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("WAITING"), std::string::npos) << what;
    EXPECT_NE(what.find("COMPLETED"), std::string::npos) << what;
  }
  tx.commit();  // whatever happened in the transaction, nothing may have changed
  EXPECT_EQ(status_of(id), 0);
  EXPECT_TRUE(holds(id, "reason IS NULL AND log IS NULL AND date_finished IS NULL"));
}

TEST_F(JobStoreTest, an_operators_move_of_an_unknown_job_is_not_found) {
  auto conn = db.connect();
  auto tx = conn.begin();
  EXPECT_THROW(testing::move_job(tx, 424242, JobStatus::suspended), NotFound);
}

// ---- Ready selection -------------------------------------------------------

TEST_F(JobStoreTest, a_new_job_is_ready) {
  const auto id = enqueue();
  EXPECT_EQ(ready_ids(), std::vector<std::int64_t>{id});
}

TEST_F(JobStoreTest, a_waiting_job_with_an_expired_lease_is_ready) {
  const auto id = enqueue();
  db.sql("UPDATE job SET lease_expires = now() - interval '1 minute' WHERE id = $1", id);
  EXPECT_TRUE(contains(ready_ids(), id));
  EXPECT_EQ(claim_one().id, id);
}

TEST_F(JobStoreTest, a_waiting_job_with_a_future_lease_is_not_ready) {
  const auto id = enqueue();
  db.sql("UPDATE job SET lease_expires = now() + interval '1 minute' WHERE id = $1", id);
  EXPECT_FALSE(contains(ready_ids(), id));
  EXPECT_TRUE(claim().empty());
}

TEST_F(JobStoreTest, a_running_job_is_not_ready) {
  const auto id = enqueue();
  claim_one();
  EXPECT_FALSE(contains(ready_ids(), id));
  EXPECT_TRUE(claim().empty());
}

TEST_F(JobStoreTest, a_job_scheduled_in_the_future_is_not_ready) {
  const auto id = enqueue();
  db.sql("UPDATE job SET scheduled_start = now() + interval '1 hour' WHERE id = $1", id);
  EXPECT_FALSE(contains(ready_ids(), id));
  EXPECT_TRUE(claim().empty());
}

TEST_F(JobStoreTest, a_job_scheduled_in_the_past_is_ready) {
  const auto id = enqueue({.scheduled_start = "2001-02-03T04:05:06Z"});
  EXPECT_TRUE(holds(id, "scheduled_start = '2001-02-03T04:05:06Z'::timestamptz"));
  EXPECT_TRUE(contains(ready_ids(), id));
  EXPECT_EQ(claim_one().id, id);
}

TEST_F(JobStoreTest, an_enqueued_future_start_is_kept_until_then) {
  const auto id = enqueue({.scheduled_start = "2999-01-01T00:00:00Z"});
  EXPECT_FALSE(contains(ready_ids(), id));
  EXPECT_TRUE(claim().empty());
}

TEST_F(JobStoreTest, jobs_of_other_types_are_neither_ready_nor_claimed) {
  const auto bar = insert_bar_job();
  EXPECT_TRUE(ready_ids().empty());
  EXPECT_TRUE(claim().empty());
  EXPECT_EQ(status_of(bar), 0);
}

TEST_F(JobStoreTest, jobs_are_claimed_by_priority_then_id) {
  const auto a = enqueue({.priority = 1});
  const auto b = enqueue({.priority = 0});
  const auto c = enqueue({.priority = 1});
  const auto d = enqueue({.priority = -5});
  const auto e = enqueue({.priority = 0});
  const std::vector<std::int64_t> expected = {d, b, e, a, c};
  EXPECT_EQ(ready_ids(), expected);
  std::vector<std::int64_t> one_by_one;
  for (int i = 0; i < 5; ++i) one_by_one.push_back(claim_one().id);
  EXPECT_EQ(one_by_one, expected);
}

TEST_F(JobStoreTest, a_batch_claim_takes_the_first_jobs_in_claim_order) {
  const auto a = enqueue({.priority = 2});
  const auto b = enqueue({.priority = 1});
  const auto c = enqueue({.priority = 0});
  enqueue({.priority = 3});
  EXPECT_EQ(ids_of(claim(3)), (std::vector<std::int64_t>{c, b, a}));
}

// ---- Concurrency and lease fencing -----------------------------------------

TEST_F(JobStoreTest, concurrent_claimers_never_get_the_same_job) {
  constexpr int kJobs = 200;
  constexpr int kThreads = 4;
  std::set<std::int64_t> enqueued;
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    for (const auto& row :
         tx.exec("INSERT INTO foo (name) SELECT 'foo ' || g FROM generate_series(1, $1) AS g "
                 "RETURNING id",
                 kJobs)) {
      enqueued.insert(store.enqueue(tx, {.target_id = row.integer("id")}));
    }
    tx.commit();
  }
  ASSERT_EQ(enqueued.size(), static_cast<std::size_t>(kJobs));

  std::vector<pg::Connection> connections;
  for (int t = 0; t < kThreads; ++t) connections.push_back(db.connect());
  std::vector<std::vector<std::int64_t>> claimed(kThreads);
  std::vector<std::exception_ptr> errors(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        start.arrive_and_wait();
        for (;;) {
          auto tx = connections[t].begin();
          const auto jobs = store.claim(tx, 3, 5min, "runner-" + std::to_string(t));
          tx.commit();
          if (jobs.empty()) break;
          for (const auto& job : jobs) claimed[t].push_back(job.id);
        }
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        FAIL() << "a claimer failed: " << e.what();
      }
    }
  }

  std::multiset<std::int64_t> all;
  for (const auto& ids : claimed) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kJobs));
  for (const auto id : enqueued) EXPECT_EQ(all.count(id), 1U) << "job " << id;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE status = 1 AND attempt_count = 1"), kJobs);
}

TEST_F(JobStoreTest, finish_with_a_wrong_lease_token_is_refused_and_changes_nothing) {
  const auto id = enqueue();
  const auto job = claim_one();
  auto stale = job;
  stale.lease_token = kStaleToken;
  EXPECT_FALSE(finish(stale, decision(JobStatus::completed)));
  EXPECT_EQ(status_of(id), 1);
  EXPECT_TRUE(holds(id, "lease_token::text = '" + *job.lease_token +
                            "' AND date_finished IS NULL AND log IS NULL"));
  EXPECT_TRUE(finish(job, decision(JobStatus::completed)));
  EXPECT_EQ(status_of(id), 2);
}

TEST_F(JobStoreTest, a_second_finish_with_the_same_token_is_refused) {
  const auto id = enqueue();
  const auto job = claim_one();
  ASSERT_TRUE(finish(job, decision(JobStatus::completed)));
  EXPECT_FALSE(finish(job, decision(JobStatus::failed)));
  EXPECT_EQ(status_of(id), 2);
}

TEST_F(JobStoreTest, an_expired_running_job_is_not_claimed_again_before_rescue) {
  const auto id = enqueue();
  claim_one("runner-a");
  db.sql("UPDATE job SET lease_expires = now() - interval '1 minute' WHERE id = $1", id);
  EXPECT_TRUE(claim(10, "runner-b").empty());
}

TEST_F(JobStoreTest, after_an_operator_moves_the_job_the_first_runners_token_cannot_finish) {
  const auto id = enqueue();
  const auto first = claim_one("runner-a");
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    testing::move_job(tx, id, JobStatus::suspended, "pause");
    testing::move_job(tx, id, JobStatus::waiting, "resume");
    tx.commit();
  }
  const auto second = claim_one("runner-b");
  ASSERT_EQ(second.id, id);
  EXPECT_FALSE(finish(first, decision(JobStatus::completed)));
  EXPECT_EQ(status_of(id), 1);
  EXPECT_TRUE(holds(id, "lease_owner = 'runner-b' AND lease_token::text = '" +
                            *second.lease_token + "'"));
  EXPECT_TRUE(finish(second, decision(JobStatus::completed)));
  EXPECT_EQ(status_of(id), 2);
}

TEST_F(JobStoreTest, after_a_rescue_the_first_runners_token_cannot_finish) {
  const auto id = enqueue();
  const auto first = claim_one("runner-a");
  db.sql("UPDATE job SET lease_expires = now() - interval '1 minute' WHERE id = $1", id);
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto expired = store.lock_expired(tx, 10);
    ASSERT_EQ(ids_of(expired), std::vector<std::int64_t>{id});
    const auto d = decide(Outcome{.kind = Outcome::Kind::lease_expired}, expired[0].attempt_count,
                          expired[0].max_retries, store.spec().retry);
    ASSERT_TRUE(store.finish(tx, expired[0], d));
    tx.commit();
  }
  const auto second = claim_one("runner-b");
  ASSERT_EQ(second.id, id);
  EXPECT_EQ(second.attempt_count, 2);
  EXPECT_FALSE(finish(first, decision(JobStatus::failed)));
  EXPECT_TRUE(holds(id, "status = 1 AND lease_owner = 'runner-b'"));
}

TEST_F(JobStoreTest, heartbeat_extends_the_lease) {
  const auto id = enqueue();
  const auto job = claim(1, "runner-a", 1min).at(0);
  auto conn = db.connect();
  auto tx = conn.begin();
  EXPECT_TRUE(store.heartbeat(tx, job, 10min));
  EXPECT_TRUE(holds(tx, id, "lease_expires = now() + interval '10 minutes'"));
  EXPECT_TRUE(holds(tx, id, "status = 1 AND lease_token::text = '" + *job.lease_token + "'"));
}

TEST_F(JobStoreTest, heartbeat_with_a_stale_token_returns_false_and_keeps_the_lease) {
  const auto id = enqueue();
  const auto job = claim(1, "runner-a", 1min).at(0);
  auto stale = job;
  stale.lease_token = kStaleToken;
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto before = tx.exec("SELECT lease_expires::text AS t FROM job WHERE id = $1", id)
                          .at(0)
                          .text("t");
  EXPECT_FALSE(store.heartbeat(tx, stale, 10min));
  EXPECT_EQ(tx.exec("SELECT lease_expires::text AS t FROM job WHERE id = $1", id).at(0).text("t"),
            before);
}

TEST_F(JobStoreTest, heartbeat_after_finish_returns_false) {
  enqueue();
  const auto job = claim_one();
  ASSERT_TRUE(finish(job, decision(JobStatus::completed)));
  auto conn = db.connect();
  auto tx = conn.begin();
  EXPECT_FALSE(store.heartbeat(tx, job, 10min));
}

TEST_F(JobStoreTest, lock_expired_returns_only_running_jobs_of_its_type_with_expired_leases) {
  const auto expired = enqueue();
  const auto live = enqueue();
  const auto waiting = enqueue();
  const auto claimed = ids_of(claim(2));
  ASSERT_EQ(claimed, (std::vector<std::int64_t>{expired, live}));
  db.sql("UPDATE job SET lease_expires = now() - interval '1 minute' WHERE id IN ($1, $2)",
         expired, waiting);
  insert_bar_job(", status, lease_token, lease_expires",
                 ", 1, nextval('job_lease_token_seq'), now() - interval '1 minute'");

  auto conn = db.connect();
  auto tx = conn.begin();
  const auto found = store.lock_expired(tx, 100);
  ASSERT_EQ(ids_of(found), std::vector<std::int64_t>{expired});
  EXPECT_EQ(found[0].status, JobStatus::running);
  EXPECT_TRUE(found[0].target_id);
}

// ---- Enqueue ---------------------------------------------------------------

TEST_F(JobStoreTest, a_second_pending_job_for_the_same_foo_is_a_duplicate) {
  const auto foo = db.make_foo();
  const auto first = enqueue_for(foo);
  try {
    enqueue_for(foo);
    FAIL() << "a duplicate FooJob was enqueued";
  } catch (const DuplicateJob& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(first)), std::string::npos) << e.what();
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job"), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foojob"), 1);
}

TEST_F(JobStoreTest, a_running_job_blocks_a_duplicate) {
  const auto foo = db.make_foo();
  enqueue_for(foo);
  claim_one();
  EXPECT_THROW(enqueue_for(foo), DuplicateJob);
}

TEST_F(JobStoreTest, a_suspended_job_blocks_a_duplicate) {
  const auto foo = db.make_foo();
  enqueue_for(foo);
  ASSERT_TRUE(finish(claim_one(), decision(JobStatus::suspended)));
  EXPECT_THROW(enqueue_for(foo), DuplicateJob);
}

TEST_F(JobStoreTest, a_completed_job_allows_a_new_one_for_the_same_foo) {
  const auto foo = db.make_foo();
  const auto first = enqueue_for(foo);
  ASSERT_TRUE(finish(claim_one(), decision(JobStatus::completed)));
  const auto second = enqueue_for(foo);
  EXPECT_NE(second, first);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foojob WHERE foo = $1", foo), 2);
}

TEST_F(JobStoreTest, a_failed_job_allows_a_new_one_for_the_same_foo) {
  const auto foo = db.make_foo();
  enqueue_for(foo);
  ASSERT_TRUE(finish(claim_one(), decision(JobStatus::failed)));
  EXPECT_NO_THROW(enqueue_for(foo));
}

TEST_F(JobStoreTest, jobs_for_different_foos_are_not_duplicates) {
  enqueue();
  EXPECT_NO_THROW(enqueue());
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job"), 2);
}

TEST_F(JobStoreTest, enqueue_for_an_unknown_foo_is_bad_input_and_leaves_no_job) {
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    try {
      (void)store.enqueue(tx, {.target_id = 987654});
      FAIL() << "a job for a missing foo was enqueued";
    } catch (const BadInput& e) {
      EXPECT_NE(std::string(e.what()).find("987654"), std::string::npos) << e.what();
    }
  }  // rolled back
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job"), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foojob"), 0);
}

TEST_F(JobStoreTest, metadata_that_is_not_an_object_is_bad_input) {
  const auto foo = db.make_foo();
  // (null means the default, {}, as in jobrunner_enqueue_many.)
  for (const auto& metadata : {nlohmann::json::array({1, 2}), nlohmann::json("text"),
                               nlohmann::json(3)}) {
    auto conn = db.connect();
    auto tx = conn.begin();
    EXPECT_THROW((void)store.enqueue(tx, {.target_id = foo, .metadata = metadata}), BadInput)
        << metadata.dump();
    tx.commit();
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job"), 0);
}

TEST_F(JobStoreTest, a_malformed_scheduled_start_is_bad_input) {
  const auto foo = db.make_foo();
  for (const std::string text : {"not a time", "2026-13-45 10:00", "tomorrow-ish"}) {
    auto conn = db.connect();
    auto tx = conn.begin();
    try {
      (void)store.enqueue(tx, {.target_id = foo, .scheduled_start = text});
      ADD_FAILURE() << "'" << text << "' was accepted";
    } catch (const BadInput& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job"), 0);
}

TEST_F(JobStoreTest, max_retries_defaults_to_the_types_and_can_be_set) {
  const auto by_default = enqueue();
  const auto seven = enqueue({.max_retries = 7});
  const auto none = enqueue({.max_retries = 0});
  EXPECT_EQ(db.scalar("SELECT max_retries FROM job WHERE id = $1", by_default), 3);
  EXPECT_EQ(db.scalar("SELECT max_retries FROM job WHERE id = $1", seven), 7);
  EXPECT_EQ(db.scalar("SELECT max_retries FROM job WHERE id = $1", none), 0);
}

TEST_F(JobStoreTest, negative_max_retries_is_bad_input) {
  const auto foo = db.make_foo();
  auto conn = db.connect();
  auto tx = conn.begin();
  EXPECT_THROW((void)store.enqueue(tx, {.target_id = foo, .max_retries = -1}), BadInput);
}

// ---- Get -------------------------------------------------------------------

TEST_F(JobStoreTest, get_returns_the_job_with_its_type_row) {
  const auto foo = db.make_foo();
  const auto id = enqueue_for(foo, {.metadata = {{"outcome", "retry"}, {"n", 2}},
                                    .priority = 4,
                                    .requester = "alice",
                                    .reason = "because"});
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto job = store.get(tx, id);
  EXPECT_EQ(job.id, id);
  EXPECT_EQ(job.job_type, "foo");
  EXPECT_EQ(job.status, JobStatus::waiting);
  EXPECT_EQ(job.target_id, foo);
  EXPECT_EQ(job.type_code, static_cast<int>(foo::FooJobType::do_foo));
  EXPECT_EQ(job.metadata, (nlohmann::json{{"outcome", "retry"}, {"n", 2}}));
  EXPECT_EQ(job.priority, 4);
  EXPECT_EQ(job.requester, "alice");
  EXPECT_EQ(job.reason, "because");
  EXPECT_EQ(job.attempt_count, 0);
  EXPECT_FALSE(job.lease_token.has_value());
}

TEST_F(JobStoreTest, get_of_another_types_job_is_not_found) {
  const auto bar = insert_bar_job();
  auto conn = db.connect();
  auto tx = conn.begin();
  EXPECT_THROW(store.get(tx, bar), NotFound);
}

TEST_F(JobStoreTest, get_of_an_unknown_id_is_not_found) {
  auto conn = db.connect();
  auto tx = conn.begin();
  EXPECT_THROW(store.get(tx, 31337), NotFound);
}

// ---- Error reports ---------------------------------------------------------

TEST_F(JobStoreTest, an_error_report_stores_the_job_error_and_variables) {
  const auto foo = db.make_foo();
  const auto id = enqueue_for(foo);
  const auto other = enqueue();
  const auto job = claim_one();
  const nlohmann::json vars = {{"job_id", id}, {"job_type", "foo"}, {"foo_id", foo}};
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto report = store.file_error_report(
      tx, job, Outcome{.kind = Outcome::Kind::unexpected, .error_type = "std::logic_error",
                       .message = "it broke"},
      vars);
  tx.commit();

  const auto row = db.sql("SELECT job, error_type, message, variables::text AS v "
                          "FROM error_report WHERE id = $1",
                          report)
                       .at(0);
  EXPECT_EQ(row.integer("job"), id);
  EXPECT_EQ(row.text("error_type"), "std::logic_error");
  EXPECT_EQ(row.text("message"), "it broke");
  EXPECT_EQ(nlohmann::json::parse(row.text("v")), vars);

  auto tx2 = conn.begin();
  const auto listed = pg::find_error_reports(tx2, {.job = id, .limit = 10});
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].id, report);
  EXPECT_EQ(listed[0].job, id);
  EXPECT_EQ(listed[0].error_type, "std::logic_error");
  EXPECT_EQ(listed[0].message, "it broke");
  EXPECT_EQ(listed[0].variables, vars);
  EXPECT_TRUE(pg::find_error_reports(tx2, {.job = other, .limit = 10}).empty());
  EXPECT_EQ(pg::find_error_reports(tx2, {.limit = 10}).size(), 1U);
}

// ---- The claim's plan ------------------------------------------------------

TEST_F(JobStoreTest, the_claim_uses_the_partial_ready_index_on_a_big_table) {
  db.sql("INSERT INTO job (job_type, status, attempt_count, date_started, date_finished) "
         "SELECT 'foo', 2, 1, now(), now() FROM generate_series(1, 20000)");
  for (int i = 0; i < 3; ++i) enqueue();
  db.sql("ANALYZE job");
  const auto plan = db.sql(
      "EXPLAIN SELECT id FROM job WHERE job_type = 'foo' AND status = 0 "
      "AND (lease_expires IS NULL OR lease_expires <= now()) "
      "AND (scheduled_start IS NULL OR scheduled_start <= now()) "
      "ORDER BY priority, id LIMIT 1 FOR UPDATE SKIP LOCKED");
  std::string text;
  for (const auto& row : plan) text += row.text("QUERY PLAN") + "\n";
  EXPECT_NE(text.find("job__ready__idx"), std::string::npos) << text;
}

TEST_F(JobStoreTest, the_stores_claim_reads_job_and_the_type_table_through_their_indexes) {
  // 20,000 finished FooJobs with their type rows: enough for the planner to
  // hash a whole table if the statement let it (docs/performance.md,
  // "Cheaper rows").
  db.sql("INSERT INTO foo (name) SELECT 'f' || g FROM generate_series(1, 20000) AS g");
  db.sql("INSERT INTO job (job_type, status, attempt_count, date_started, date_finished) "
         "SELECT 'foo', 2, 1, now(), now() FROM generate_series(1, 20000)");
  db.sql("INSERT INTO foojob (job, foo, job_type) SELECT j.id, f.id, 0 "
         "FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM job) AS j "
         "JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM foo) AS f USING (n)");
  for (int i = 0; i < 3; ++i) enqueue();
  db.sql("ANALYZE");
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto plan = tx.exec("EXPLAIN " + pg::type_query("job_claim_with_type_row", store.spec()),
                            store.spec().name, 64, "host:1", 60000);
  std::string text;
  for (const auto& row : plan) text += row.text("QUERY PLAN") + "\n";
  EXPECT_NE(text.find("job__ready__idx"), std::string::npos) << text;
  EXPECT_NE(text.find("Index Scan using job_pkey on job"), std::string::npos) << text;
  EXPECT_NE(text.find("Index Scan using foojob__job__key on foojob"), std::string::npos) << text;
  EXPECT_EQ(text.find("Seq Scan"), std::string::npos) << text;
}

}  // namespace
}  // namespace jobrunner
