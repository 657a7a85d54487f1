// jobrunner_enqueue() and jobrunner_enqueue_many() (sql/migrations/0011),
// called from SQL as an application in any language calls them: every rule
// and its SQLSTATE, the caller's rollback, two sessions racing for one
// target, the grants, and real clients (psql, Python's psycopg2).
#include <gtest/gtest.h>

#include <atomic>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobctl_fixture.hpp"
#include "jobrunner/pg/permissions.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using jobctl_test::contains;
using jobctl_test::shown;
using testing::run_program;

struct Refusal {
  std::string sqlstate;
  std::string message;
};

class EnqueueSqlTest : public jobctl_test::JobctlTest {
 protected:
  void SetUp() override {
    foo = db.make_foo("one");
    other = db.make_foo("two");
    // Types without a table of their own: a singleton and one without the rule.
    db.sql("SELECT jobrunner_register_type(name => 'nightly', display_name => 'NightlyReport',"
           " one_pending => true, package => 'test')");
    db.sql("SELECT jobrunner_register_type(name => 'ping', display_name => 'Ping',"
           " one_pending => false, package => 'test')");
  }

  std::int64_t jobs() const { return db.scalar("SELECT count(*) FROM job"); }

  // The refusal of `statement`, which must fail and leave no job behind.
  Refusal refusal(const std::string& statement) const {
    const auto before = jobs();
    try {
      db.sql(statement);
    } catch (const pg::SqlError& e) {
      EXPECT_EQ(jobs(), before) << statement;
      return {e.sqlstate(), e.what()};
    }
    ADD_FAILURE() << "accepted: " << statement;
    return {};
  }

  std::int64_t enqueue(const std::string& call) const { return db.scalar("SELECT " + call); }

  std::int64_t foo = 0;
  std::int64_t other = 0;
};

#define EXPECT_REFUSED(statement, state, part)                 \
  do {                                                         \
    const auto r = refusal(statement);                         \
    EXPECT_EQ(r.sqlstate, state) << r.message;                 \
    EXPECT_TRUE(contains(r.message, part));                    \
  } while (false)

TEST_F(EnqueueSqlTest, enqueue_writes_the_job_and_its_type_row_with_the_registry_defaults) {
  const auto id = enqueue("jobrunner_enqueue('foo', " + std::to_string(foo) +
                          ", '{\"work_ms\": 5}')");
  const auto row = db.sql("SELECT j.job_type, j.status, j.priority, j.max_retries, j.pending_key,"
                          " j.json_data::text AS job_data, f.foo, f.job_type AS code,"
                          " f.json_data->>'work_ms' AS work_ms"
                          " FROM job AS j JOIN foojob AS f ON f.job = j.id WHERE j.id = $1", id)
                       .at(0);
  EXPECT_EQ(row.text("job_type"), "foo");
  EXPECT_EQ(row.integer("status"), 0);
  EXPECT_EQ(row.integer("priority"), 0);
  EXPECT_EQ(row.integer("max_retries"), 3);  // job_type.max_retries
  EXPECT_EQ(row.integer("pending_key"), foo);
  EXPECT_EQ(row.text("job_data"), "{}");
  EXPECT_EQ(row.integer("foo"), foo);
  EXPECT_EQ(row.integer("code"), 0);
  EXPECT_EQ(row.text("work_ms"), "5");
}

TEST_F(EnqueueSqlTest, named_arguments_take_integer_literals_as_written) {
  const auto id = enqueue("jobrunner_enqueue('foo', " + std::to_string(foo) +
                          ", priority => 3, max_retries => 0, requester => 'alice',"
                          " reason => 'why', scheduled_start => '2030-01-01T00:00:00Z')");
  const auto row = db.sql("SELECT priority, max_retries, requester, reason,"
                          " scheduled_start = '2030-01-01T00:00:00Z' AS at FROM job WHERE id = $1",
                          id)
                       .at(0);
  EXPECT_EQ(row.integer("priority"), 3);
  EXPECT_EQ(row.integer("max_retries"), 0);
  EXPECT_EQ(row.text("requester"), "alice");
  EXPECT_EQ(row.text("reason"), "why");
  EXPECT_TRUE(row.boolean("at"));
}

TEST_F(EnqueueSqlTest, every_refusal_of_one_job_has_its_sqlstate_and_writes_nothing) {
  const auto f = std::to_string(foo);
  const auto pending = enqueue("jobrunner_enqueue('foo', " + f + ")");
  EXPECT_REFUSED("SELECT jobrunner_enqueue('bar', 1)", "42704",
                 "there is no job type 'bar' (registered: foo, nightly, noop, ping)");
  EXPECT_REFUSED("SELECT jobrunner_enqueue('foo')", "23502",
                 "no target: which foo is the FooJob about?");
  EXPECT_REFUSED("SELECT jobrunner_enqueue('nightly', 1)", "22023",
                 "job type nightly has no target");
  EXPECT_REFUSED("SELECT jobrunner_enqueue('foo', 999999)", "23503",
                 "there is no foo with id 999999");
  EXPECT_REFUSED("SELECT jobrunner_enqueue('foo', " + std::to_string(other) + ", '[1]')", "22023",
                 "the metadata of a FooJob must be a JSON object, not array");
  EXPECT_REFUSED("SELECT jobrunner_enqueue('foo', " + std::to_string(other) + ", max_retries => -1)",
                 "22023", "max_retries must be 0 or more, not -1");
  EXPECT_REFUSED("SELECT jobrunner_enqueue('foo', " + std::to_string(other) + ", priority => 40000)",
                 "22023", "\"priority\" must be an integer between -32768 and 32767");
  EXPECT_REFUSED("SELECT jobrunner_enqueue('foo', " + f + ")", "23505",
                 "a FooJob for foo " + f + " is already pending (job " + std::to_string(pending) + ")");
}

TEST_F(EnqueueSqlTest, a_malformed_bulk_call_names_the_element_and_writes_nothing) {
  const auto many = [](const std::string& json) {
    return "SELECT jobrunner_enqueue_many('foo', '" + json + "')";
  };
  const auto t = "{\"target\": " + std::to_string(foo) + "}";
  EXPECT_REFUSED(many("{}"), "22023", "jobs must be a JSON array of objects, not object");
  EXPECT_REFUSED("SELECT jobrunner_enqueue_many('foo', NULL)", "22023", "not NULL");
  // The second element of each call is the bad one.
  const struct {
    const char* element;
    const char* sqlstate;
    const char* message;
  } cases[] = {
      {"7", "22023", "job 2 of 2: expected a JSON object"},
      {R"({"target": 1, "color": 2})", "22023", R"(job 2 of 2: unknown key "color")"},
      {R"({"target": 1.5})", "22023", R"(job 2 of 2: "target" must be an integer, not 1.5)"},
      {R"({"target": "1"})", "22023", R"("target" must be an integer)"},
      {"{}", "23502", "job 2 of 2: no target"},
      {R"({"target": 999999})", "23503", "job 2 of 2: there is no foo with id 999999"},
      {R"({"target": 1, "metadata": 3})", "22023",
       "job 2 of 2: the metadata of a FooJob must be a JSON object, not number"},
      {R"({"target": 1, "scheduled_start": 3})", "22023",
       R"(job 2 of 2: "scheduled_start" must be a time as a string)"},
      {R"({"target": 1, "scheduled_start": "soonish"})", "22007",
       "job 2 of 2: invalid start time soonish"},
      {R"({"target": 1, "priority": 1.5})", "22023", R"(job 2 of 2: "priority" must be an integer)"},
      {R"({"target": 1, "max_retries": -2})", "22023",
       "job 2 of 2: max_retries must be 0 or more, not -2"},
      {R"({"target": 1, "requester": 5})", "22023", R"(job 2 of 2: "requester" must be a string)"},
      {R"({"target": 1, "reason": []})", "22023", R"(job 2 of 2: "reason" must be a string)"},
  };
  for (const auto& c : cases) {
    EXPECT_REFUSED(many("[" + t + ", " + c.element + "]"), c.sqlstate, c.message);
  }
}

TEST_F(EnqueueSqlTest, a_bulk_duplicate_names_the_pending_job_or_the_earlier_element) {
  const auto f = std::to_string(foo);
  const auto o = std::to_string(other);
  EXPECT_REFUSED("SELECT jobrunner_enqueue_many('foo', '[{\"target\": " + o + "}, {\"target\": " + f +
                     "}, {\"target\": " + o + "}]')",
                 "23505", "job 3 of 3: a FooJob for foo " + o + " is already pending (job 1 of 3)");
  const auto pending = enqueue("jobrunner_enqueue('foo', " + f + ")");
  EXPECT_REFUSED("SELECT jobrunner_enqueue_many('foo', '[{\"target\": " + o + "}, {\"target\": " + f +
                     "}]')",
                 "23505",
                 "job 2 of 2: a FooJob for foo " + f + " is already pending (job " +
                     std::to_string(pending) + ")");
}

TEST_F(EnqueueSqlTest, bulk_ids_come_back_in_input_order_whatever_the_order_of_the_targets) {
  std::vector<std::int64_t> foos;
  for (int i = 0; i < 5; ++i) foos.push_back(db.make_foo());
  nlohmann::json jobs = nlohmann::json::array();
  for (auto it = foos.rbegin(); it != foos.rend(); ++it) {
    jobs.push_back({{"target", *it}, {"metadata", {{"foo", *it}}}});
  }
  // The outer statement's snapshot cannot see what the call wrote: the ids
  // first, then their rows.
  const auto ids = db.sql("SELECT jobrunner_enqueue_many('foo', $1::jsonb)::text AS ids", jobs)
                       .at(0)
                       .text("ids");
  const auto rows = db.sql("SELECT u.id, f.foo, (f.json_data->>'foo')::bigint AS meta"
                           " FROM unnest($1::bigint[]) WITH ORDINALITY AS u(id, n)"
                           " JOIN foojob AS f ON f.job = u.id ORDER BY u.n",
                           ids);
  ASSERT_EQ(rows.size(), foos.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].integer("foo"), foos[foos.size() - 1 - i]);
    EXPECT_EQ(rows[i].integer("meta"), rows[i].integer("foo"));
    if (i > 0) {
      EXPECT_GT(rows[i].integer("id"), rows[i - 1].integer("id"));
    }
  }
}

TEST_F(EnqueueSqlTest, a_type_without_a_table_keeps_metadata_in_the_job_and_its_rule_is_a_singleton) {
  const auto id = enqueue("jobrunner_enqueue('nightly', metadata => '{\"day\": \"mon\"}')");
  EXPECT_EQ(db.sql("SELECT json_data->>'day' AS d, pending_key FROM job WHERE id = $1", id)
                .at(0)
                .text("d"),
            "mon");
  EXPECT_EQ(db.scalar("SELECT pending_key FROM job WHERE id = $1", id), 0);
  EXPECT_REFUSED("SELECT jobrunner_enqueue('nightly')", "23505",
                 "a NightlyReport is already pending (job " + std::to_string(id) + ")");
  db.sql("UPDATE job SET status = 2 WHERE id = $1", id);
  EXPECT_GT(enqueue("jobrunner_enqueue('nightly')"), id);
}

TEST_F(EnqueueSqlTest, a_type_without_the_rule_takes_duplicates_and_has_no_pending_key) {
  const auto f = std::to_string(foo);
  enqueue("jobrunner_enqueue('noop', " + f + ")");
  enqueue("jobrunner_enqueue('noop', " + f + ")");
  enqueue("jobrunner_enqueue('ping')");
  enqueue("jobrunner_enqueue('ping')");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE pending_key IS NULL"), 4);
}

TEST_F(EnqueueSqlTest, the_callers_rollback_leaves_no_job) {
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    tx.exec("SELECT jobrunner_enqueue('foo', $1)", foo);
    tx.exec("SELECT jobrunner_enqueue_many('foo', $1::jsonb)",
            nlohmann::json::array({{{"target", other}}}));
    EXPECT_EQ(tx.exec("SELECT count(*) AS n FROM job").at(0).integer("n"), 2);
  }  // destroyed without commit: rolled back
  EXPECT_EQ(jobs(), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foojob"), 0);
  enqueue("jobrunner_enqueue('foo', " + std::to_string(foo) + ")");  // no trace of the first
}

// Session 1 enqueues and keeps its transaction open; session 2's enqueue of
// the same target waits on the unique index (seen in pg_stat_activity) until
// session 1 ends. Then it fails with 23505 (commit) or succeeds (rollback).
void race(const testing::TestDatabase& db, std::int64_t foo, bool first_commits) {
  auto first = db.connect();
  auto second = db.connect();
  const int second_pid = second.backend_pid();
  auto tx1 = first.begin();
  const auto first_id = tx1.exec("SELECT jobrunner_enqueue('foo', $1) AS id", foo).at(0).integer("id");

  std::exception_ptr error;
  std::int64_t second_id = 0;
  std::atomic<bool> done = false;
  std::thread other([&] {
    try {
      auto tx2 = second.begin();
      second_id = tx2.exec("SELECT jobrunner_enqueue('foo', $1) AS id", foo).at(0).integer("id");
      tx2.commit();
    } catch (...) {
      error = std::current_exception();
    }
    done = true;
  });
  auto watcher = db.connect();
  while (!done) {  // until session 2 waits for session 1's lock
    auto tx = watcher.begin();
    if (!tx.exec("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
                 second_pid)
             .empty()) {
      break;
    }
    std::this_thread::yield();
  }
  if (first_commits) {
    tx1.commit();
  } else {
    auto dropped = std::move(tx1);  // rolled back when it goes out of scope
  }
  other.join();
  EXPECT_EQ(done, true);
  if (first_commits) {
    ASSERT_TRUE(error);
    try {
      std::rethrow_exception(error);
    } catch (const pg::SqlError& e) {
      EXPECT_EQ(e.sqlstate(), "23505") << e.what();
      EXPECT_TRUE(contains(e.what(), "already pending (job " + std::to_string(first_id) + ")"));
    }
    EXPECT_EQ(db.scalar("SELECT count(*) FROM job"), 1);
  } else {
    ASSERT_FALSE(error);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM job"), 1);
    EXPECT_EQ(db.scalar("SELECT id FROM job"), second_id);
  }
}

TEST_F(EnqueueSqlTest, a_concurrent_enqueue_of_the_same_target_waits_and_is_refused_if_the_first_commits) {
  race(db, foo, true);
}

TEST_F(EnqueueSqlTest, a_concurrent_enqueue_of_the_same_target_waits_and_wins_if_the_first_rolls_back) {
  race(db, foo, false);
}

TEST_F(EnqueueSqlTest, an_enqueuer_role_runs_the_functions_for_its_own_type_only) {
  {
    auto conn = db.connect();
    pg::apply_permissions(conn, pg::parse_security_config(pg::embedded_security_config()));
  }
  auto app = db.connect("jobrunner_foo_enqueuer");
  {
    auto tx = app.begin();
    tx.exec("SELECT jobrunner_enqueue('foo', $1)", foo);
    tx.commit();
  }
  auto tx = app.begin();
  try {
    tx.exec("SELECT jobrunner_enqueue('noop', $1)", foo);
    ADD_FAILURE() << "a FooJob enqueuer enqueued a NoopJob";
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "42501") << e.what();
  }
  // Not PUBLIC's (grantee 0); a runner role may call them for its schedules,
  // but only for the types whose tables it may write.
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_proc AS p, aclexplode(p.proacl) AS a "
                      "WHERE p.proname IN ('jobrunner_enqueue', 'jobrunner_enqueue_many') "
                      "AND a.grantee = 0"),
            0);
  auto runner = db.connect("jobrunner_foo_runner");
  auto tx2 = runner.begin();
  try {
    tx2.exec("SELECT jobrunner_enqueue('noop', $1)", other);
    ADD_FAILURE() << "a FooJob runner role enqueued a NoopJob";
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "42501") << e.what();
  }
}

TEST_F(EnqueueSqlTest, retrying_a_job_whose_foo_has_a_pending_job_is_refused_and_changes_nothing) {
  const auto f = std::to_string(foo);
  const auto failed = enqueue("jobrunner_enqueue('foo', " + f + ")");
  db.sql("UPDATE job SET status = 3, date_finished = now() WHERE id = $1", failed);
  const auto pending = enqueue("jobrunner_enqueue('foo', " + f + ")");
  const auto result = jobctl({"retry", std::to_string(failed)});
  EXPECT_EQ(result.exit_code, jobctl_test::kDataError) << shown(result);
  EXPECT_TRUE(contains(result.err, "job " + std::to_string(failed) + " is FAILED: retry refused, a "
                       "FooJob for foo " + f + " is already pending (job " +
                       std::to_string(pending) + ")"));
  EXPECT_EQ(db.scalar("SELECT status FROM job WHERE id = $1", failed), 3);
  // Two failed jobs of one foo cannot both come back either.
  db.sql("UPDATE job SET status = 2, date_finished = now() WHERE id = $1", pending);
  const auto both = jobctl({"retry", std::to_string(failed), std::to_string(pending)});
  EXPECT_EQ(both.exit_code, jobctl_test::kDataError) << shown(both);
  EXPECT_TRUE(contains(both.err, "no job was changed"));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE status = 0"), 0);
  const auto alone = jobctl({"retry", std::to_string(failed)});
  EXPECT_EQ(alone.exit_code, jobctl_test::kOk) << shown(alone);
}

TEST_F(EnqueueSqlTest, psql_enqueues_in_its_own_transactions) {
  const auto result = run_program({"/usr/bin/psql", "-X", "-v", "ON_ERROR_STOP=1", "-v",
                                   "foo=" + std::to_string(foo), "-v",
                                   "other=" + std::to_string(other), "-f",
                                   JOBRUNNER_TESTS_DIR "/clients/enqueue.psql", db.conninfo()});
  ASSERT_EQ(result.exit_code, 0) << shown(result);
  const auto ids = jobctl_test::lines_of(result.out);
  ASSERT_EQ(ids.size(), 3U) << shown(result);
  EXPECT_EQ(jobs(), 3);
  EXPECT_EQ(db.scalar("SELECT priority FROM job WHERE id = $1", std::stoll(ids[0])), 3);
  // A refused call: psql exits 1 (3 in a script) and prints the SQLSTATE.
  const auto duplicate = run_program({"/usr/bin/psql", "-X", "-v", "ON_ERROR_STOP=1", "-v",
                                      "VERBOSITY=verbose", "-c",
                                      "SELECT jobrunner_enqueue('foo', " + std::to_string(foo) + ")",
                                      db.conninfo()});
  EXPECT_EQ(duplicate.exit_code, 1) << shown(duplicate);
  EXPECT_TRUE(contains(duplicate.err, "23505"));
  EXPECT_TRUE(contains(duplicate.err, "already pending (job " + ids[0] + ")"));
}

TEST_F(EnqueueSqlTest, python_psycopg2_enqueues_in_its_own_transactions) {
  const auto result = run_program({"/usr/bin/python3", JOBRUNNER_TESTS_DIR "/clients/enqueue.py",
                                   db.conninfo(), std::to_string(foo), std::to_string(other)});
  ASSERT_EQ(result.exit_code, 0) << shown(result)
                                 << "\n(needs Debian's python3-psycopg2: scripts/install-deps.sh)";
  const auto out = nlohmann::json::parse(result.out);
  EXPECT_EQ(jobs(), 4);  // the FooJob and three NoopJobs; the rolled-back ones left nothing
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND requester = 'python'",
                      out["kept"].get<std::int64_t>()),
            1);
}

}  // namespace
}  // namespace jobrunner
