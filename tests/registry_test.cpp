// The job type registry (job_type, patch 0010): the core patch registers
// FooJob and NoopJob with their compiled specs; jobrunner_register_type is an
// idempotent upsert that refuses what cannot change; no job of an unknown
// type can exist; a runner takes its row's defaults and exits 78 when its
// compiled spec disagrees or its type is not registered.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "foo/foo_job.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/pg/registry.hpp"
#include "noop/noop_job.hpp"
#include "program.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using testing::bin;
using testing::run_program;

constexpr int kConfig = 78;

// How a statement failed: its SQLSTATE and message, both "" when it succeeds.
struct Failure {
  std::string sqlstate;
  std::string message;
};
Failure failure_of(const testing::TestDatabase& db, const std::string& statement) {
  try {
    db.sql(statement);
  } catch (const pg::SqlError& e) {
    return {e.sqlstate(), e.what()};
  }
  return {};
}
std::string sqlstate_of(const testing::TestDatabase& db, const std::string& statement) {
  return failure_of(db, statement).sqlstate;
}
std::string error_of(const testing::TestDatabase& db, const std::string& statement) {
  return failure_of(db, statement).message;
}

class RegistryTest : public testing::DatabaseTest {
 protected:
  pg::RegisteredType registered(const std::string& name) {
    auto conn = db.connect();
    auto tx = conn.begin();
    auto type = pg::find_registered_type(tx, name);
    tx.commit();
    if (!type) throw std::runtime_error("type " + name + " is not registered");
    return *type;
  }
  std::int64_t enqueue_foo() {
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto id = pg::JobStore(foo::foo_job_type().spec).enqueue(tx, {.target_id = db.make_foo()});
    tx.commit();
    return id;
  }
  std::string register_bar(const std::string& extra = "") {
    return "SELECT jobrunner_register_type(name => 'bar', display_name => 'BarJob', "
           "package => 'barpkg'" + extra + ")";
  }
};

TEST_F(RegistryTest, the_core_patch_registers_foo_and_noop_exactly_as_compiled) {
  for (const auto* compiled : {&foo::foo_job_type().spec, &noop::noop_job_type().spec}) {
    const auto row = registered(compiled->name);
    EXPECT_EQ(row.package, "jobrunner");
    EXPECT_TRUE(spec_differences(*compiled, row.spec).empty()) << compiled->name;
    EXPECT_EQ(row.spec.display_name, compiled->display_name);
    EXPECT_EQ(row.spec.target_table, compiled->target_table);
    EXPECT_EQ(row.spec.default_max_retries, compiled->default_max_retries);
    EXPECT_EQ(row.spec.retry.retry_delay, compiled->retry.retry_delay);
    EXPECT_EQ(row.spec.lease, compiled->lease);
    EXPECT_EQ(row.spec.one_pending_per_target, compiled->one_pending_per_target);
    EXPECT_EQ(row.spec.batch_completions, compiled->batch_completions);
  }
  auto conn = db.connect();
  auto tx = conn.begin();
  std::vector<std::string> names;
  for (const auto& t : pg::registered_types(tx)) names.push_back(t.spec.name);
  EXPECT_EQ(names, (std::vector<std::string>{"foo", "noop"}));
}

TEST_F(RegistryTest, registering_again_with_the_same_values_changes_nothing) {
  ASSERT_EQ(sqlstate_of(db, register_bar()), "");
  const auto before = db.sql("SELECT t::text AS row FROM job_type AS t WHERE name = 'bar'");
  ASSERT_EQ(sqlstate_of(db, register_bar()), "");
  const auto after = db.sql("SELECT t::text AS row FROM job_type AS t WHERE name = 'bar'");
  EXPECT_EQ(after.at(0).text("row"), before.at(0).text("row"));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job_type"), 3);
}

TEST_F(RegistryTest, a_type_without_a_table_is_registered_with_all_four_null) {
  ASSERT_EQ(sqlstate_of(db, register_bar(", one_pending => false")), "");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job_type WHERE name = 'bar' AND type_table IS NULL "
                      "AND target_column IS NULL AND target_table IS NULL AND type_code IS NULL "
                      "AND NOT one_pending AND package = 'barpkg'"),
            1);
  EXPECT_FALSE(registered("bar").has_table());
}

TEST_F(RegistryTest, registering_again_updates_the_defaults) {
  ASSERT_EQ(sqlstate_of(db, register_bar()), "");
  db.sql("INSERT INTO job (job_type) VALUES ('bar')");  // jobs exist: defaults may still change
  ASSERT_EQ(sqlstate_of(db, register_bar(", max_retries => 7, lease => '10 minutes'")),
            "");
  const auto row = registered("bar");
  EXPECT_EQ(row.spec.default_max_retries, 7);
  EXPECT_EQ(row.spec.lease, std::chrono::minutes(10));
}

TEST_F(RegistryTest, a_registration_without_backoff_keeps_the_fixed_delay_and_one_may_opt_in) {
  // Patch 0014's parameters have defaults: a package migration written
  // before them registers its type exactly as before.
  ASSERT_EQ(sqlstate_of(db, register_bar(", retry_delay => '45 seconds'")), "");
  auto row = registered("bar");
  EXPECT_FALSE(row.spec.retry.backoff);
  EXPECT_EQ(row.spec.retry.retry_delay, std::chrono::seconds(45));
  EXPECT_EQ(row.spec.retry.max_retry_delay, std::chrono::hours(1));
  EXPECT_FALSE(registered("foo").spec.retry.backoff);
  EXPECT_FALSE(registered("noop").spec.retry.backoff);

  ASSERT_EQ(sqlstate_of(db, register_bar(", retry_delay => '5 seconds', retry_backoff => true, "
                                         "max_retry_delay => '10 minutes'")),
            "");
  row = registered("bar");
  EXPECT_TRUE(row.spec.retry.backoff);
  EXPECT_EQ(row.spec.retry.retry_delay, std::chrono::seconds(5));
  EXPECT_EQ(row.spec.retry.max_retry_delay, std::chrono::minutes(10));
  // Registering again without them turns backoff off again: the call says
  // what the type is.
  ASSERT_EQ(sqlstate_of(db, register_bar()), "");
  EXPECT_FALSE(registered("bar").spec.retry.backoff);
}

TEST_F(RegistryTest, a_backoff_cap_below_the_first_delay_is_refused) {
  const auto statement = register_bar(", retry_delay => '1 minute', retry_backoff => true, "
                                      "max_retry_delay => '30 seconds'");
  EXPECT_EQ(sqlstate_of(db, statement), "22023");
  EXPECT_NE(error_of(db, statement).find("max_retry_delay must be at least retry_delay"),
            std::string::npos);
  EXPECT_EQ(sqlstate_of(db, register_bar(", retry_backoff => NULL")), "22023");
  EXPECT_EQ(sqlstate_of(db, "UPDATE job_type SET retry_backoff = true, max_retry_delay = "
                            "'1 second' WHERE name = 'foo'"),
            "23514");
}

TEST_F(RegistryTest, the_table_target_column_and_type_code_cannot_change_once_jobs_exist) {
  // No jobs yet: foo may move (and back).
  EXPECT_EQ(sqlstate_of(db, "SELECT jobrunner_register_type(name => 'foo', display_name => "
                            "'FooJob', type_table => 'noopjob', target_column => 'foo', "
                            "target_table => 'foo', type_code => 0, package => 'jobrunner')"),
            "");
  EXPECT_EQ(sqlstate_of(db, "SELECT jobrunner_register_type(name => 'foo', display_name => "
                            "'FooJob', type_table => 'foojob', target_column => 'foo', "
                            "target_table => 'foo', type_code => 0, package => 'jobrunner')"),
            "");
  enqueue_foo();
  const auto change_code =
      "SELECT jobrunner_register_type(name => 'foo', display_name => 'FooJob', "
      "type_table => 'foojob', target_column => 'foo', target_table => 'foo', type_code => 1, "
      "package => 'jobrunner')";
  EXPECT_EQ(sqlstate_of(db, change_code), "55000");
  EXPECT_NE(error_of(db, change_code).find("cannot change its table, target column or type code"),
            std::string::npos);
  EXPECT_EQ(sqlstate_of(db, "SELECT jobrunner_register_type(name => 'foo', display_name => "
                            "'FooJob', package => 'jobrunner')"),
            "55000");
  EXPECT_EQ(registered("foo").spec.type_code, 0);
}

TEST_F(RegistryTest, malformed_registrations_are_refused_with_documented_sqlstates) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"SELECT jobrunner_register_type(name => 'Bad Name', display_name => 'X', package => 'p')",
       "22023"},
      {"SELECT jobrunner_register_type(name => 'bar', display_name => 'X')", "22023"},
      {register_bar(", type_table => 'foojob'"), "22023"},
      {register_bar(", type_table => 'nosuch', target_column => 'foo', target_table => 'foo', "
                    "type_code => 0"),
       "42P01"},
      {register_bar(", type_table => 'foojob', target_column => 'bar', target_table => 'foo', "
                    "type_code => 0"),
       "42703"},
      {register_bar(", lease => '10 milliseconds'"), "22023"},
      {register_bar(", max_retries => -1"), "22023"},
      // Another package's type.
      {"SELECT jobrunner_register_type(name => 'foo', display_name => 'FooJob', "
       "package => 'thief')",
       "22023"},
  };
  for (const auto& [statement, state] : cases) {
    EXPECT_EQ(sqlstate_of(db, statement), state) << statement << ": " << error_of(db, statement);
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job_type"), 2);
}

TEST_F(RegistryTest, no_job_of_an_unknown_type_can_exist_and_a_type_with_jobs_stays) {
  EXPECT_EQ(sqlstate_of(db, "INSERT INTO job (job_type) VALUES ('nosuchtype')"), "23503");
  enqueue_foo();
  EXPECT_EQ(sqlstate_of(db, "DELETE FROM job_type WHERE name = 'foo'"), "23503");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_constraint WHERE conname = 'job__job_type__fk' "
                      "AND convalidated"),
            1);
}

// ---- The runner's check at start ------------------------------------------

class RunnerRegistryTest : public RegistryTest {
 protected:
  testing::ProcessResult run_foo_jobs(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {bin("run-foo-jobs"), "--db", db.conninfo()});
    return run_program(args);
  }
};

TEST_F(RunnerRegistryTest, a_runner_whose_spec_differs_from_the_registry_exits_78_naming_each_difference) {
  const auto id = enqueue_foo();
  db.sql("UPDATE job_type SET type_code = 4, batch_completions = true WHERE name = 'foo'");

  const auto result = run_foo_jobs();

  EXPECT_EQ(result.exit_code, kConfig) << result.err;
  EXPECT_NE(result.err.find("type code: compiled 0, registered 4"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("batch completions: compiled off, registered on"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("Fix:"), std::string::npos) << result.err;
  EXPECT_EQ(db.scalar("SELECT status FROM job WHERE id = $1", id), 0);  // nothing ran
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run"), 0);
}

TEST_F(RunnerRegistryTest, a_runner_whose_table_or_target_differs_exits_78) {
  db.sql("UPDATE job_type SET type_table = 'noopjob', target_column = 'bar' WHERE name = 'foo'");
  const auto result = run_foo_jobs();
  EXPECT_EQ(result.exit_code, kConfig) << result.err;
  EXPECT_NE(result.err.find("table: compiled 'foojob', registered 'noopjob'"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("target column: compiled 'foo', registered 'bar'"), std::string::npos)
      << result.err;
}

TEST_F(RunnerRegistryTest, a_runner_of_an_unregistered_type_exits_78_saying_how_to_register_it) {
  db.sql("DELETE FROM job_type WHERE name = 'noop'");
  const auto result = run_program({bin("run-noop-jobs"), "--db", db.conninfo()});
  EXPECT_EQ(result.exit_code, kConfig) << result.err;
  EXPECT_NE(result.err.find("job type 'noop' is not registered"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("jobctl db upgrade"), std::string::npos) << result.err;
}

TEST_F(RunnerRegistryTest, the_registry_row_sets_the_runners_defaults_unless_the_command_line_does) {
  db.sql("UPDATE job_type SET retry_delay = '2 hours', lease = '7 minutes' WHERE name = 'foo'");
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto id = pg::JobStore(foo::foo_job_type().spec)
                      .enqueue(tx, {.target_id = db.make_foo(),
                                    .metadata = {{"outcome", "retry"}}});
  tx.commit();

  const auto first = run_foo_jobs();
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND status = 0 AND "
                      "scheduled_start > now() + interval '1 hour'",
                      id),
            1)
      << "the registry's retry delay of 2 hours applies";

  db.sql("UPDATE job SET scheduled_start = NULL WHERE id = $1", id);
  const auto second = run_foo_jobs({"--retry-delay", "1m"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND status = 0 AND "
                      "scheduled_start < now() + interval '1 hour'",
                      id),
            1)
      << "--retry-delay overrides the registry";

  EXPECT_NE(first.err.find("the registry's defaults apply (lease 7m, retry delay 2h"),
            std::string::npos)
      << first.err;
}

}  // namespace
}  // namespace jobrunner
