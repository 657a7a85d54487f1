// The pg layer's batch APIs and daemon wake-ups against a real database:
// JobStore::enqueue_many (order, rows, all-or-nothing errors, duplicates),
// pg::to_array_param through PostgreSQL, complete_many and heartbeat_many
// (lease fencing), next_due, and the NOTIFY triggers of migration 0006 seen
// through Connection::listen / await_notifications.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "foo/foo_job.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "noop/noop_job.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;
using Ids = std::vector<std::int64_t>;

constexpr auto kStaleToken = "-1";  // job_lease_token_seq never draws it

Ids ids_of(const std::vector<Job>& jobs) {
  Ids ids;
  for (const auto& job : jobs) ids.push_back(job.id);
  return ids;
}

Ids sorted(Ids ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class BulkAndNotifyTest : public testing::DatabaseTest {
 protected:
  const pg::JobStore foo_store{foo::foo_job_type().spec};
  const pg::JobStore noop_store{noop::noop_job_type().spec};

  // Runs `work(tx)` in a transaction of its own, commits, returns the result.
  template <typename Work>
  auto committed(Work work) {
    auto conn = db.connect();
    auto tx = conn.begin();
    if constexpr (std::is_void_v<decltype(work(tx))>) {
      work(tx);
      tx.commit();
    } else {
      auto result = work(tx);
      tx.commit();
      return result;
    }
  }

  Ids enqueue_many(const pg::JobStore& store, const std::vector<pg::EnqueueRequest>& requests) {
    return committed([&](pg::Transaction& tx) { return store.enqueue_many(tx, requests); });
  }
  std::int64_t enqueue(const pg::JobStore& store, const pg::EnqueueRequest& request) {
    return committed([&](pg::Transaction& tx) { return store.enqueue(tx, request); });
  }

  // `n` new foos, in id order.
  Ids make_foos(int n) {
    Ids ids;
    for (const auto& row : db.sql("INSERT INTO foo (name) SELECT 'foo ' || g "
                                  "FROM generate_series(1, $1) AS g RETURNING id",
                                  n)) {
      ids.push_back(row.integer("id"));
    }
    return sorted(ids);
  }
  // One request with default fields per foo.
  static std::vector<pg::EnqueueRequest> requests_for(const Ids& foos) {
    std::vector<pg::EnqueueRequest> requests;
    for (const auto foo : foos) requests.push_back({.target_id = foo});
    return requests;
  }

  // Runs enqueue_many expecting E; returns its message (empty, and the test
  // failed, if nothing was thrown). Then tries to commit, so that anything
  // the call wrote would become visible; after a failed statement the
  // transaction is aborted and the commit fails, which is fine as well.
  template <typename E>
  std::string enqueue_many_error(const pg::JobStore& store,
                                 const std::vector<pg::EnqueueRequest>& requests) {
    auto conn = db.connect();
    auto tx = conn.begin();
    std::string message;
    try {
      const auto ids = store.enqueue_many(tx, requests);
      ADD_FAILURE() << "enqueue_many accepted the batch and returned " << ids.size() << " ids";
    } catch (const E& e) {
      message = e.what();
    }
    try {
      tx.commit();
    } catch (const std::exception&) {
      // Aborted by the failed statement: nothing can be committed.
    }
    return message;
  }

  std::int64_t count_jobs() { return db.scalar("SELECT count(*) FROM job"); }
  void expect_type_rows(std::int64_t foojobs, std::int64_t noopjobs) {
    EXPECT_EQ(db.scalar("SELECT count(*) FROM foojob"), foojobs);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM noopjob"), noopjobs);
  }

  std::vector<Job> claim(const pg::JobStore& store, int limit,
                         const std::string& owner = "runner-a", Duration lease = 5min) {
    return committed([&](pg::Transaction& tx) { return store.claim(tx, limit, lease, owner); });
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

  // An operator's move of one job (jobctl suspend/resume), committed.
  void move(std::int64_t id, JobStatus to) {
    committed([&](pg::Transaction& tx) { testing::move_job(tx, id, to, "test"); });
  }

  // Expires the lease of a RUNNING job and rescues it as a runner does at
  // start: WAITING again, ready now.
  void expire_and_rescue(const pg::JobStore& store, std::int64_t id) {
    db.sql("UPDATE job SET lease_expires = now() - interval '1 minute' WHERE id = $1", id);
    committed([&](pg::Transaction& tx) {
      const auto expired = store.lock_expired(tx, 10);
      ASSERT_EQ(ids_of(expired), Ids{id});
      const auto d = decide(Outcome{.kind = Outcome::Kind::lease_expired},
                            expired[0].attempt_count, expired[0].max_retries, store.spec().retry);
      ASSERT_EQ(d.next, JobStatus::waiting);
      ASSERT_TRUE(store.finish(tx, expired[0], d));
    });
  }

  // The database's now() plus `interval`, as timestamptz text.
  std::string db_time_in(const std::string& interval) {
    return db.sql("SELECT (now() + $1::interval)::text AS t", interval).at(0).text("t");
  }

  std::optional<Duration> next_due(const pg::JobStore& store) {
    return committed([&](pg::Transaction& tx) { return store.next_due(tx); });
  }

  // ---- Notifications ----

  // A second connection, listening on jobrunner_<type>.
  pg::Connection listener(const std::string& type = "foo") {
    auto conn = db.connect();
    conn.listen("jobrunner_" + type);
    return conn;
  }
  // How many notifications arrive: waits up to 5 s for the first, then
  // gathers those that follow within 200 ms of the last.
  static int collect(pg::Connection& listener) {
    int total = listener.await_notifications(5s);
    if (total == 0) return 0;
    for (int more = listener.await_notifications(200ms); more > 0;
         more = listener.await_notifications(200ms)) {
      total += more;
    }
    return total;
  }
  // How many notifications the events before this call sent on the
  // channel: commits a marker notification after them and collects, minus
  // the marker. PostgreSQL delivers notifications in commit order, so any
  // sent by the events arrive no later than the marker: "none" needs no
  // guess of how long to wait, and a listener that hears nothing fails.
  int collect_with_marker(pg::Connection& listener, const std::string& type = "foo") {
    db.sql("SELECT pg_notify($1, 'marker')", "jobrunner_" + type);
    return collect(listener) - 1;
  }

  // to_array_param's literal, cast to `type`[] and unnested by PostgreSQL.
  std::vector<pg::Param> round_trip(const pg::Param& array, const std::string& type = "text") {
    std::vector<pg::Param> out;
    for (const auto& row : db.sql("SELECT e::text AS e FROM unnest($1::" + type +
                                      "[]) WITH ORDINALITY AS t(e, n) ORDER BY n",
                                  array)) {
      out.push_back(row.opt_text("e"));
    }
    return out;
  }
};

// ---- enqueue_many: rows ----------------------------------------------------

TEST_F(BulkAndNotifyTest, enqueue_many_returns_ids_in_request_order_with_every_field_written) {
  const auto foos = make_foos(3);
  // Not in foo order, so that ids lined up with sorted foos would differ.
  const std::vector<pg::EnqueueRequest> requests = {
      {.target_id = foos[2],
       .metadata = {{"outcome", "retry"}, {"n", 1}},
       .scheduled_start = "2001-02-03T04:05:06Z",
       .max_retries = 7,
       .priority = -2,
       .requester = "alice",
       .reason = "first"},
      {.target_id = foos[0]},
      {.target_id = foos[1],
       .metadata = {{"n", 3}},
       .scheduled_start = "2999-01-01T00:00:00Z",
       .max_retries = 0,
       .priority = 5,
       .requester = "bob"},
  };
  const std::vector<std::int64_t> expected_max_retries = {7, 3, 0};  // FooJob's default is 3
  const auto ids = enqueue_many(foo_store, requests);
  ASSERT_EQ(ids.size(), requests.size());
  EXPECT_EQ(count_jobs(), 3);
  expect_type_rows(3, 0);

  for (std::size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i + 1));
    const auto& request = requests[i];
    const auto row =
        db.sql("SELECT j.job_type, j.status, j.attempt_count, j.max_retries, j.priority, "
               "j.requester, j.reason, j.json_data::text AS job_json, j.date_created = now() AS "
               "created_now, j.scheduled_start IS NOT DISTINCT FROM $2::timestamptz AS start_ok, "
               "f.foo, f.job_type AS type_code, f.json_data::text AS metadata "
               "FROM job AS j JOIN foojob AS f ON f.job = j.id WHERE j.id = $1",
               ids[i], request.scheduled_start)
            .at(0);
    EXPECT_EQ(row.text("job_type"), "foo");
    EXPECT_EQ(row.integer("status"), 0);
    EXPECT_EQ(row.integer("attempt_count"), 0);
    EXPECT_EQ(row.integer("foo"), request.target_id);
    EXPECT_EQ(row.integer("type_code"), static_cast<int>(foo::FooJobType::do_foo));
    EXPECT_EQ(nlohmann::json::parse(row.text("metadata")), request.metadata);
    EXPECT_EQ(row.text("job_json"), "{}");
    EXPECT_EQ(row.integer("max_retries"), expected_max_retries[i]);
    EXPECT_EQ(row.integer("priority"), request.priority);
    EXPECT_EQ(row.opt_text("requester"), request.requester);
    EXPECT_EQ(row.opt_text("reason"), request.reason);
    EXPECT_TRUE(row.boolean("start_ok"));
  }

  // The store reads them back the same way, and only the ready ones are ready.
  committed([&](pg::Transaction& tx) {
    const auto job = foo_store.get(tx, ids[0]);
    EXPECT_EQ(job.target_id, foos[2]);
    EXPECT_EQ(job.metadata, requests[0].metadata);
    EXPECT_EQ(job.requester, "alice");
    EXPECT_EQ(ids_of(foo_store.ready(tx, 10)), (Ids{ids[0], ids[1]}));  // by priority
  });
}

TEST_F(BulkAndNotifyTest, enqueue_many_of_nothing_returns_nothing_and_writes_nothing) {
  EXPECT_TRUE(enqueue_many(foo_store, {}).empty());
  EXPECT_TRUE(enqueue_many(noop_store, {}).empty());
  EXPECT_EQ(count_jobs(), 0);
}

TEST_F(BulkAndNotifyTest, enqueue_many_keeps_awkward_metadata_and_text_exactly) {
  const auto foos = make_foos(4);
  const std::vector<nlohmann::json> metadata = {
      {{"quote", "say \"hi\""}, {"backslash", "C:\\dir\\"}, {"both", "\\\"\\\""}},
      {{"unicode", "héllo wörld, 日本語, 🦀"}, {"escapes", "tab\there\nnewline"}},
      {{"commas,and}braces{", "{1,2,\"3\"}"}, {"NULL", "NULL"}, {"empty", ""},
       {"nested", {{"a", {1, "b,\"c\"", nullptr}}}}},
      nlohmann::json::object(),
  };
  const std::vector<std::string> texts = {"\"", "\\", "a,b {c} \"d\" \\e", "NULL"};
  std::vector<pg::EnqueueRequest> requests;
  for (std::size_t i = 0; i < foos.size(); ++i) {
    requests.push_back({.target_id = foos[i],
                        .metadata = metadata[i],
                        .requester = texts[i],
                        .reason = "reason " + texts[i]});
  }
  const auto ids = enqueue_many(foo_store, requests);
  ASSERT_EQ(ids.size(), foos.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i + 1));
    const auto row = db.sql("SELECT f.json_data::text AS metadata, j.requester, j.reason "
                            "FROM foojob AS f JOIN job AS j ON j.id = f.job WHERE f.job = $1",
                            ids[i])
                         .at(0);
    EXPECT_EQ(nlohmann::json::parse(row.text("metadata")), metadata[i]);
    EXPECT_EQ(row.opt_text("requester"), texts[i]);
    EXPECT_EQ(row.opt_text("reason"), "reason " + texts[i]);
  }
}

TEST_F(BulkAndNotifyTest, noop_jobs_may_share_a_foo_within_and_across_batches) {
  const auto foo = db.make_foo();
  std::vector<pg::EnqueueRequest> requests(5, pg::EnqueueRequest{.target_id = foo});
  requests[2].max_retries = 9;
  const auto first = enqueue_many(noop_store, requests);
  const auto second = enqueue_many(noop_store, requests);
  ASSERT_EQ(first.size(), 5U);
  ASSERT_EQ(second.size(), 5U);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM noopjob WHERE foo = $1 AND job_type = $2", foo,
                      static_cast<int>(noop::NoopJobType::noop)),
            10);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE job_type = 'noop' AND status = 0"), 10);
  EXPECT_EQ(db.scalar("SELECT max_retries FROM job WHERE id = $1", first[0]), 3);
  EXPECT_EQ(db.scalar("SELECT max_retries FROM job WHERE id = $1", first[2]), 9);
  expect_type_rows(0, 10);
}

// ---- enqueue_many: all or nothing ------------------------------------------

TEST_F(BulkAndNotifyTest, metadata_that_is_not_an_object_fails_the_batch_naming_the_job) {
  auto requests = requests_for(make_foos(4));
  requests[2].metadata = nlohmann::json::array({1, 2});
  const auto message = enqueue_many_error<BadInput>(foo_store, requests);
  EXPECT_TRUE(contains(message, "job 3 of 4")) << message;
  EXPECT_TRUE(contains(message, "array")) << message;
  EXPECT_EQ(count_jobs(), 0);
  expect_type_rows(0, 0);
}

TEST_F(BulkAndNotifyTest, a_caller_may_name_the_requests_in_errors) {
  auto requests = requests_for(make_foos(3));
  requests[1].metadata = "text";
  auto conn = db.connect();
  auto tx = conn.begin();
  try {
    (void)noop_store.enqueue_many(tx, requests, [](std::size_t i) {
      return "line " + std::to_string(i + 10);
    });
    FAIL() << "a batch with string metadata was accepted";
  } catch (const BadInput& e) {
    EXPECT_EQ(std::string(e.what()).rfind("line 11: ", 0), 0U) << e.what();
  }
}

TEST_F(BulkAndNotifyTest, negative_max_retries_fails_the_batch_naming_the_job) {
  auto requests = requests_for(make_foos(2));
  requests[1].max_retries = -1;
  const auto message = enqueue_many_error<BadInput>(noop_store, requests);
  EXPECT_TRUE(contains(message, "job 2 of 2")) << message;
  EXPECT_TRUE(contains(message, "-1")) << message;
  EXPECT_EQ(count_jobs(), 0);
  expect_type_rows(0, 0);
}

TEST_F(BulkAndNotifyTest, an_unknown_foo_fails_the_batch) {
  const auto foos = make_foos(2);
  const auto missing = foos.back() + 1000;
  for (const auto* store : {&foo_store, &noop_store}) {
    SCOPED_TRACE(store->spec().name);
    const auto message = enqueue_many_error<BadInput>(
        *store, {{.target_id = foos[0]}, {.target_id = missing}, {.target_id = foos[1]}});
    EXPECT_TRUE(contains(message, "job 2 of 3: there is no foo with id " +
                                      std::to_string(missing)))
        << message;
    EXPECT_EQ(count_jobs(), 0);
    expect_type_rows(0, 0);
  }
}

TEST_F(BulkAndNotifyTest, a_malformed_scheduled_start_fails_the_batch) {
  for (const std::string text : {"not a time", "2026-13-45 10:00"}) {
    SCOPED_TRACE(text);
    auto requests = requests_for(make_foos(3));
    requests[0].scheduled_start = "2001-02-03T04:05:06Z";
    requests[1].scheduled_start = text;
    const auto message = enqueue_many_error<BadInput>(foo_store, requests);
    EXPECT_TRUE(contains(message, text)) << message;
    EXPECT_EQ(count_jobs(), 0);
    expect_type_rows(0, 0);
  }
}

TEST_F(BulkAndNotifyTest, a_foojob_batch_naming_one_foo_twice_is_a_duplicate) {
  const auto foos = make_foos(2);
  const auto message =
      enqueue_many_error<DuplicateJob>(foo_store, requests_for({foos[0], foos[1], foos[0]}));
  EXPECT_TRUE(contains(message, "job 3 of 3")) << message;
  EXPECT_TRUE(contains(message, "foo " + std::to_string(foos[0]))) << message;
  EXPECT_TRUE(contains(message, "(job 1 of 3)")) << message;
  EXPECT_EQ(count_jobs(), 0);
  expect_type_rows(0, 0);
}

TEST_F(BulkAndNotifyTest, a_foojob_batch_with_a_foo_that_has_a_pending_job_is_a_duplicate) {
  const auto foos = make_foos(3);
  const auto pending = enqueue(foo_store, {.target_id = foos[1]});
  const auto message = enqueue_many_error<DuplicateJob>(foo_store, requests_for(foos));
  EXPECT_TRUE(contains(message, "job 2 of 3")) << message;
  EXPECT_TRUE(contains(message, "foo " + std::to_string(foos[1]))) << message;
  EXPECT_TRUE(contains(message, "(job " + std::to_string(pending) + ")")) << message;
  EXPECT_EQ(count_jobs(), 1);
  expect_type_rows(1, 0);
}

TEST_F(BulkAndNotifyTest, a_foojob_batch_may_name_a_foo_whose_job_finished) {
  const auto foos = make_foos(2);
  enqueue(foo_store, {.target_id = foos[0]});
  const auto job = claim(foo_store, 1).at(0);
  ASSERT_TRUE(committed([&](pg::Transaction& tx) {
    return foo_store.finish(tx, job, Decision{.next = JobStatus::completed, .log_line = "done"});
  }));
  EXPECT_EQ(enqueue_many(foo_store, requests_for(foos)).size(), 2U);
  expect_type_rows(3, 0);
}

// ---- to_array_param --------------------------------------------------------

TEST_F(BulkAndNotifyTest, to_array_param_round_trips_nulls_empty_strings_and_quotes) {
  const std::vector<pg::Param> elements = {
      "plain", "", std::nullopt, "NULL", "null", "say \"hi\"", "back\\slash", "\\\"", "a,b",
      "{braces}", " padded ", "line\nbreak", "héllo 日本 🦀", std::nullopt, "\"\"",
  };
  EXPECT_EQ(round_trip(pg::to_array_param(elements)), elements);
}

TEST_F(BulkAndNotifyTest, to_array_param_of_nothing_is_an_empty_array) {
  const auto literal = pg::to_array_param(std::vector<pg::Param>{});
  EXPECT_EQ(db.scalar("SELECT cardinality($1::text[])", literal), 0);
  EXPECT_TRUE(round_trip(literal).empty());
}

TEST_F(BulkAndNotifyTest, to_array_param_of_numbers_and_optionals_keeps_values_and_nulls) {
  const std::vector<std::int64_t> numbers = {1, -2, 0, 9007199254740993};
  EXPECT_EQ(round_trip(pg::to_array_param(numbers), "bigint"),
            (std::vector<pg::Param>{"1", "-2", "0", "9007199254740993"}));
  const std::vector<std::optional<std::string>> optionals = {"x", std::nullopt, ""};
  EXPECT_EQ(round_trip(pg::to_array_param(optionals)), optionals);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM unnest($1::text[]) AS e WHERE e IS NULL",
                      pg::to_array_param(optionals)),
            1);
}

// ---- complete_many and heartbeat_many ---------------------------------------

TEST_F(BulkAndNotifyTest, complete_many_completes_every_held_job_in_one_call) {
  enqueue_many(noop_store, requests_for(make_foos(3)));
  const auto jobs = claim(noop_store, 10);
  ASSERT_EQ(jobs.size(), 3U);
  auto conn = db.connect();
  auto tx = conn.begin();
  EXPECT_EQ(sorted(noop_store.complete_many(tx, jobs)), sorted(ids_of(jobs)));
  for (const auto& job : jobs) {
    SCOPED_TRACE("job " + std::to_string(job.id));
    EXPECT_TRUE(holds(tx, job.id, "status = 2"));
    EXPECT_TRUE(holds(tx, job.id, "date_finished = now()"));
    EXPECT_TRUE(
        holds(tx, job.id, "lease_expires IS NULL AND lease_owner IS NULL AND lease_token IS NULL"));
    EXPECT_TRUE(holds(tx, job.id, "log IS NULL"));  // a success writes no log line
  }
}

TEST_F(BulkAndNotifyTest, complete_many_leaves_and_omits_jobs_whose_lease_was_lost) {
  const auto ids = enqueue_many(noop_store, requests_for(make_foos(5)));
  auto jobs = claim(noop_store, 10, "runner-a");
  ASSERT_EQ(ids_of(jobs), ids);
  const auto moved = ids[0];    // suspended by an operator
  const auto rescued = ids[1];  // rescued after its lease expired, then claimed again
  const auto tokenless = ids[4];  // running, but passed without a token
  move(moved, JobStatus::suspended);
  expire_and_rescue(noop_store, rescued);
  const auto second = claim(noop_store, 10, "runner-b").at(0);
  ASSERT_EQ(second.id, rescued);
  jobs[4].lease_token = std::nullopt;

  const auto completed = committed([&](pg::Transaction& tx) {
    return noop_store.complete_many(tx, jobs);
  });
  EXPECT_EQ(sorted(completed), (Ids{ids[2], ids[3]}));
  EXPECT_TRUE(holds(ids[2], "status = 2"));
  EXPECT_TRUE(holds(ids[3], "status = 2"));
  EXPECT_TRUE(holds(moved, "status = 4 AND date_finished IS NULL "
                           "AND coalesce(log, '') !~ 'attempt 1: done'"));
  EXPECT_TRUE(holds(rescued, "status = 1 AND lease_owner = 'runner-b' AND lease_token::text = '" +
                                 *second.lease_token +
                                 "' AND date_finished IS NULL AND log !~ 'attempt 1: done'"));
  EXPECT_TRUE(holds(tokenless, "status = 1 AND lease_token IS NOT NULL AND log IS NULL"));

  // The new holder's token completes the rescued job.
  EXPECT_EQ(committed([&](pg::Transaction& tx) {
              return noop_store.complete_many(tx, {second});
            }),
            Ids{rescued});
  EXPECT_TRUE(holds(rescued, "status = 2 AND attempt_count = 2 AND log !~ 'done'"));
}

TEST_F(BulkAndNotifyTest, heartbeat_many_extends_only_the_leases_still_held) {
  const auto ids = enqueue_many(foo_store, requests_for(make_foos(3)));
  auto jobs = claim(foo_store, 10, "runner-a", 1min);
  ASSERT_EQ(ids_of(jobs), ids);
  jobs[1].lease_token = kStaleToken;
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto stale_lease_before =
      tx.exec("SELECT lease_expires::text AS t FROM job WHERE id = $1", ids[1]).at(0).text("t");
  EXPECT_EQ(sorted(foo_store.heartbeat_many(tx, jobs, 10min)), (Ids{ids[0], ids[2]}));
  EXPECT_TRUE(holds(tx, ids[0], "lease_expires = now() + interval '10 minutes' AND status = 1"));
  EXPECT_TRUE(holds(tx, ids[2], "lease_expires = now() + interval '10 minutes' AND status = 1"));
  EXPECT_EQ(tx.exec("SELECT lease_expires::text AS t FROM job WHERE id = $1", ids[1]).at(0).text("t"),
            stale_lease_before);
}

TEST_F(BulkAndNotifyTest, heartbeat_many_and_complete_many_of_nothing_do_nothing) {
  enqueue(foo_store, {.target_id = db.make_foo()});
  claim(foo_store, 1);
  committed([&](pg::Transaction& tx) {
    EXPECT_TRUE(foo_store.heartbeat_many(tx, {}, 10min).empty());
    EXPECT_TRUE(foo_store.complete_many(tx, {}).empty());
  });
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE status = 1"), 1);
}

// ---- next_due --------------------------------------------------------------

TEST_F(BulkAndNotifyTest, next_due_is_nullopt_without_a_future_job_of_the_type) {
  EXPECT_FALSE(next_due(foo_store).has_value());
  const auto foos = make_foos(3);
  enqueue(foo_store, {.target_id = foos[0]});                                          // ready
  enqueue(foo_store, {.target_id = foos[1], .scheduled_start = "2001-02-03T04:05:06Z"});  // past
  enqueue(noop_store, {.target_id = foos[0], .scheduled_start = db_time_in("1 hour")});  // noop
  const auto suspended = enqueue(foo_store, {.target_id = foos[2],
                                             .scheduled_start = db_time_in("1 hour")});
  move(suspended, JobStatus::suspended);  // not WAITING
  EXPECT_FALSE(next_due(foo_store).has_value());
  EXPECT_TRUE(next_due(noop_store).has_value());
}

TEST_F(BulkAndNotifyTest, next_due_is_the_time_until_the_earliest_future_job_of_the_type) {
  const auto foos = make_foos(3);
  enqueue(foo_store, {.target_id = foos[0], .scheduled_start = db_time_in("2 hours")});
  enqueue(foo_store, {.target_id = foos[1], .scheduled_start = db_time_in("10 minutes")});
  enqueue(foo_store, {.target_id = foos[2]});  // ready now: not counted
  enqueue(noop_store, {.target_id = foos[0], .scheduled_start = db_time_in("1 minute")});
  const auto foo_due = next_due(foo_store);
  ASSERT_TRUE(foo_due.has_value());
  EXPECT_GT(*foo_due, 5min);  // not the noop job's minute
  EXPECT_LE(*foo_due, 10min);
  const auto noop_due = next_due(noop_store);
  ASSERT_TRUE(noop_due.has_value());
  EXPECT_GT(*noop_due, 0ms);
  EXPECT_LE(*noop_due, 1min);
}

// ---- NOTIFY ----------------------------------------------------------------

TEST_F(BulkAndNotifyTest, a_committed_enqueue_notifies_the_types_channel) {
  auto foo_listener = listener();
  enqueue(foo_store, {.target_id = db.make_foo()});
  EXPECT_EQ(collect(foo_listener), 1);
}

TEST_F(BulkAndNotifyTest, a_rolled_back_enqueue_does_not_notify) {
  auto foo_listener = listener();
  const auto foo = db.make_foo();
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    (void)foo_store.enqueue(tx, {.target_id = foo});
  }  // rolled back
  EXPECT_EQ(count_jobs(), 0);
  EXPECT_EQ(collect_with_marker(foo_listener), 0);
}

TEST_F(BulkAndNotifyTest, a_bulk_enqueue_of_100_jobs_notifies_once) {
  auto foo_listener = listener();
  ASSERT_EQ(enqueue_many(foo_store, requests_for(make_foos(100))).size(), 100U);
  EXPECT_EQ(collect(foo_listener), 1);
}

TEST_F(BulkAndNotifyTest, ten_enqueues_in_one_transaction_notify_once) {
  auto foo_listener = listener();
  const auto foos = make_foos(10);
  committed([&](pg::Transaction& tx) {
    for (const auto foo : foos) (void)foo_store.enqueue(tx, {.target_id = foo});
  });
  EXPECT_EQ(count_jobs(), 10);
  EXPECT_EQ(collect(foo_listener), 1);
}

// A daemon sleeps until next_due(), so it must hear of a new scheduled job
// too (it may come due before the one it sleeps for).
TEST_F(BulkAndNotifyTest, a_job_scheduled_in_the_future_notifies_once_per_transaction) {
  auto foo_listener = listener();
  const auto foos = make_foos(3);
  enqueue(foo_store, {.target_id = foos[0], .scheduled_start = db_time_in("1 hour")});
  enqueue_many(foo_store, {{.target_id = foos[1], .scheduled_start = db_time_in("1 hour")},
                           {.target_id = foos[2], .scheduled_start = db_time_in("2 hours")}});
  EXPECT_EQ(count_jobs(), 3);
  EXPECT_EQ(collect(foo_listener), 2);
}

TEST_F(BulkAndNotifyTest, a_job_inserted_in_another_status_does_not_notify) {
  auto foo_listener = listener();
  db.sql("INSERT INTO job (job_type, status) VALUES ('foo', 4), ('foo', 2)");
  EXPECT_EQ(count_jobs(), 2);
  EXPECT_EQ(collect_with_marker(foo_listener), 0);
}

TEST_F(BulkAndNotifyTest, a_job_of_another_type_notifies_only_its_own_channel) {
  auto foo_listener = listener("foo");
  auto noop_listener = listener("noop");
  const auto foo = db.make_foo();
  enqueue(noop_store, {.target_id = foo});
  enqueue_many(noop_store, requests_for({foo, foo}));
  EXPECT_EQ(collect(noop_listener), 2);  // one per transaction
  EXPECT_EQ(collect_with_marker(foo_listener), 0);
}

TEST_F(BulkAndNotifyTest, each_move_back_to_waiting_notifies) {
  auto foo_listener = listener();
  const auto id = enqueue(foo_store, {.target_id = db.make_foo()});
  ASSERT_EQ(collect(foo_listener), 1);

  // jobctl suspend, then resume.
  move(id, JobStatus::suspended);
  EXPECT_EQ(collect_with_marker(foo_listener), 0);
  move(id, JobStatus::waiting);
  EXPECT_EQ(collect(foo_listener), 1);

  // A retry after the delay (scheduled, so the daemon re-plans its sleep).
  const auto job = claim(foo_store, 1).at(0);
  ASSERT_TRUE(committed([&](pg::Transaction& tx) {
    return foo_store.finish(
        tx, job, Decision{.next = JobStatus::waiting, .retry_after = 30s, .log_line = "retry"});
  }));
  EXPECT_EQ(collect(foo_listener), 1);

  // A runner's give-back on shutdown.
  db.sql("UPDATE job SET scheduled_start = NULL WHERE id = $1", id);
  EXPECT_EQ(collect_with_marker(foo_listener), 0);  // not a status change
  const auto again = claim(foo_store, 1).at(0);
  ASSERT_TRUE(committed(
      [&](pg::Transaction& tx) { return foo_store.give_back(tx, again, "shutting down"); }));
  EXPECT_EQ(collect(foo_listener), 1);
}

TEST_F(BulkAndNotifyTest, claiming_and_finishing_do_not_notify) {
  auto foo_listener = listener();
  auto noop_listener = listener("noop");
  const auto foos = make_foos(3);
  enqueue_many(foo_store, requests_for(foos));
  enqueue_many(noop_store, requests_for({foos[0], foos[0]}));
  ASSERT_EQ(collect(foo_listener), 1);
  ASSERT_EQ(collect(noop_listener), 1);

  // FooJobs: claimed, heartbeats, then completed, failed and suspended.
  const auto jobs = claim(foo_store, 10);
  ASSERT_EQ(jobs.size(), 3U);
  committed([&](pg::Transaction& tx) {
    ASSERT_EQ(foo_store.heartbeat_many(tx, jobs, 10min).size(), 3U);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      const auto next = std::vector{JobStatus::completed, JobStatus::failed,
                                    JobStatus::suspended}[i];
      ASSERT_TRUE(foo_store.finish(tx, jobs[i], Decision{.next = next, .log_line = "end"}));
    }
  });
  // NoopJobs: claimed, heartbeats, completed in a batch.
  const auto noops = claim(noop_store, 10);
  ASSERT_EQ(noops.size(), 2U);
  committed([&](pg::Transaction& tx) {
    ASSERT_EQ(noop_store.heartbeat_many(tx, noops, 10min).size(), 2U);
    ASSERT_EQ(noop_store.complete_many(tx, noops).size(), 2U);
  });
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE status IN (2, 3, 4)"), 5);

  EXPECT_EQ(collect_with_marker(foo_listener, "foo"), 0);
  EXPECT_EQ(collect_with_marker(noop_listener, "noop"), 0);
}

}  // namespace
}  // namespace jobrunner
