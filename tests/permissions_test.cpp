// Roles and grants from security.cfg: parsing, applying, and what each role
// can and cannot do once applied.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "foo/foo_job.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/pg/permissions.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;

constexpr auto kRunner = "jobrunner_foo_runner";
constexpr auto kEnqueuer = "jobrunner_foo_enqueuer";

const pg::RoleGrants* find_role(const std::vector<pg::RoleGrants>& roles, const std::string& name) {
  const auto it = std::find_if(roles.begin(), roles.end(),
                               [&](const pg::RoleGrants& r) { return r.role == name; });
  return it == roles.end() ? nullptr : &*it;
}

std::vector<std::string> privileges_on(const pg::RoleGrants& role, const std::string& table) {
  for (const auto& grant : role.tables) {
    if (grant.schema == "public" && grant.table == table) return grant.privileges;
  }
  return {};
}

bool has(const std::vector<std::string>& privileges, const std::string& privilege) {
  return std::find(privileges.begin(), privileges.end(), privilege) != privileges.end();
}

// The ConfigError message of parsing `text`; fails the test if it parses.
std::string parse_error(const std::string& text) {
  try {
    pg::parse_security_config(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted:\n" << text;
  return {};
}

using Privileges = std::vector<std::string>;

// What run-foo-jobs needs, and what it must never get.
TEST(SecurityConfig, the_embedded_config_declares_the_foo_runner_role) {
  const auto roles = pg::parse_security_config(pg::embedded_security_config());
  const auto* runner = find_role(roles, kRunner);
  ASSERT_NE(runner, nullptr);
  for (const auto& grant : runner->tables) EXPECT_EQ(grant.schema, "public") << grant.table;
  const auto job = privileges_on(*runner, "job");
  EXPECT_TRUE(has(job, "SELECT") && has(job, "UPDATE"));
  // INSERT on job and foojob: a runner enqueues its type's schedules
  // (docs/schedules.md), with jobrunner_enqueue().
  EXPECT_TRUE(has(job, "INSERT"));
  EXPECT_EQ(privileges_on(*runner, "foojob"), (Privileges{"SELECT", "INSERT"}));
  EXPECT_EQ(privileges_on(*runner, "job_schedule"), (Privileges{"SELECT", "UPDATE"}));
  EXPECT_EQ(privileges_on(*runner, "job_schedule_occurrence"),
            (Privileges{"SELECT", "INSERT", "UPDATE", "DELETE"}));
  EXPECT_EQ(privileges_on(*runner, "foo"), Privileges{"SELECT"});
  EXPECT_EQ(privileges_on(*runner, "foo_frozzle"), (Privileges{"SELECT", "INSERT"}));
  EXPECT_EQ(privileges_on(*runner, "error_report"), (Privileges{"SELECT", "INSERT"}));
  EXPECT_EQ(privileges_on(*runner, "job_notification"), (Privileges{"SELECT", "INSERT"}));
  // DELETE for --retention, which prunes the type's old ended runs too.
  EXPECT_EQ(privileges_on(*runner, "runner_run"),
            (Privileges{"SELECT", "INSERT", "UPDATE", "DELETE"}));
  EXPECT_TRUE(privileges_on(*runner, "database_revision").empty());
}

TEST(SecurityConfig, the_embedded_config_declares_the_foo_enqueuer_role) {
  const auto roles = pg::parse_security_config(pg::embedded_security_config());
  const auto* enqueuer = find_role(roles, kEnqueuer);
  ASSERT_NE(enqueuer, nullptr);
  EXPECT_EQ(privileges_on(*enqueuer, "job"), (Privileges{"SELECT", "INSERT"}));
  EXPECT_EQ(privileges_on(*enqueuer, "foojob"), (Privileges{"SELECT", "INSERT"}));
  EXPECT_EQ(privileges_on(*enqueuer, "foo"), Privileges{"SELECT"});
}

TEST(SecurityConfig, comments_blank_lines_and_lower_case_privileges_are_accepted) {
  const auto roles = pg::parse_security_config(
      "# a comment\n"
      "\n"
      "[some_role]   # trailing comment\n"
      "  public.t1 = select ,Insert\n"
      "[other_role]\n"
      "app.t2=DELETE\n");
  ASSERT_EQ(roles.size(), 2U);
  EXPECT_EQ(roles[0].role, "some_role");
  ASSERT_EQ(roles[0].tables.size(), 1U);
  EXPECT_EQ(roles[0].tables[0].table, "t1");
  EXPECT_EQ(roles[0].tables[0].privileges, (Privileges{"SELECT", "INSERT"}));
  EXPECT_EQ(roles[1].tables.at(0).schema, "app");
  EXPECT_EQ(roles[1].tables.at(0).privileges, Privileges{"DELETE"});
}

TEST(SecurityConfig, a_function_grant_names_every_signature_of_a_function) {
  const auto roles = pg::parse_security_config(
      "[some_role]\npublic.t1 = SELECT\nfunction public.do_it = execute\n");
  ASSERT_EQ(roles.at(0).functions.size(), 1U);
  EXPECT_EQ(roles[0].functions[0].schema, "public");
  EXPECT_EQ(roles[0].functions[0].name, "do_it");
  EXPECT_EQ(roles[0].functions[0].privileges, Privileges{"EXECUTE"});
  EXPECT_EQ(roles[0].tables.size(), 1U);
  const auto embedded = pg::parse_security_config(pg::embedded_security_config());
  ASSERT_NE(find_role(embedded, kEnqueuer), nullptr);
  EXPECT_EQ(find_role(embedded, kEnqueuer)->functions.size(), 2U);  // jobrunner_enqueue, _many
}

TEST(SecurityConfig, a_bad_function_grant_names_its_line) {
  for (const char* line : {"function do_it = EXECUTE", "function public.do_it = SELECT",
                           "function public.Do = EXECUTE", "function public.do_it ="}) {
    const auto message = parse_error(std::string("[some_role]\n") + line + "\n");
    EXPECT_NE(message.find("line 2"), std::string::npos) << line << ": " << message;
  }
}

TEST(SecurityConfig, a_grant_before_any_role_header_names_its_line) {
  const auto message = parse_error("# roles\n\npublic.job = SELECT\n");
  EXPECT_NE(message.find("line 3"), std::string::npos) << message;
}

TEST(SecurityConfig, an_unclosed_role_header_names_its_line) {
  const auto message = parse_error("[good_role]\npublic.job = SELECT\n[bad_role\n");
  EXPECT_NE(message.find("line 3"), std::string::npos) << message;
}

TEST(SecurityConfig, an_unknown_privilege_names_its_line_and_the_privilege) {
  const auto message = parse_error("[some_role]\npublic.job = SELECT\npublic.foo = SELECT, DROP\n");
  EXPECT_NE(message.find("line 3"), std::string::npos) << message;
  EXPECT_NE(message.find("DROP"), std::string::npos) << message;
}

TEST(SecurityConfig, a_bad_role_name_names_its_line) {
  const auto message = parse_error("\n[Robert'); DROP TABLE students;--]\n");
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
}

TEST(SecurityConfig, bad_table_names_name_their_line) {
  for (const char* line : {"job = SELECT", "public.Job = SELECT", "public.\"job\" = SELECT",
                           "public.job SELECT", "public.job ="}) {
    const auto message = parse_error(std::string("[some_role]\n") + line + "\n");
    EXPECT_NE(message.find("line 2"), std::string::npos) << line << ": " << message;
  }
}

// ---- Applied to a database -------------------------------------------------

class PermissionsTest : public testing::DatabaseTest {
 protected:
  void apply() {
    auto conn = db.connect();
    pg::apply_permissions(conn, pg::parse_security_config(pg::embedded_security_config()));
  }

  // Runs one statement as `role`; returns the SQLSTATE, or "" on success.
  std::string sqlstate_as(const std::string& role, const std::string& statement) {
    auto conn = db.connect(role);
    auto tx = conn.begin();
    try {
      tx.exec(statement);
      tx.commit();
      return "";
    } catch (const pg::SqlError& e) {
      return e.sqlstate();
    }
  }

  std::int64_t make_job() {
    const auto foo = db.make_foo();
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto id = store.enqueue(tx, {.target_id = foo});
    tx.commit();
    return id;
  }

  const pg::JobStore store{foo::foo_job_type().spec};
};

constexpr auto kDenied = "42501";

TEST_F(PermissionsTest, apply_grants_what_the_file_declares) {
  const auto config = pg::parse_security_config(pg::embedded_security_config());
  int declared = 0;
  for (const auto& role : config) {
    declared += static_cast<int>(role.tables.size() + role.functions.size());
  }
  auto conn = db.connect();
  const auto report = pg::apply_permissions(conn, config);
  EXPECT_EQ(report.grants, declared);
  EXPECT_TRUE(db.scalar("SELECT count(*) FROM pg_class WHERE relname = 'foojob' AND "
                        "has_table_privilege($1, oid, 'SELECT')",
                        kRunner) == 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_roles WHERE rolname IN ($1, $2) AND rolcanlogin",
                      kRunner, kEnqueuer),
            2);
}

TEST_F(PermissionsTest, the_runner_role_can_do_its_declared_work) {
  apply();
  const auto job = make_job();
  const auto foo = db.scalar("SELECT foo FROM foojob WHERE job = $1", job);
  EXPECT_EQ(sqlstate_as(kRunner, "SELECT count(*) FROM job"), "");
  EXPECT_EQ(sqlstate_as(kRunner, "UPDATE job SET reason = 'runner was here'"), "");
  EXPECT_EQ(sqlstate_as(kRunner, "INSERT INTO foo_frozzle (foo, job) VALUES (" +
                                     std::to_string(foo) + ", " + std::to_string(job) + ")"),
            "");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE reason = 'runner was here'"), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foo_frozzle"), 1);
}

TEST_F(PermissionsTest, the_runner_role_is_denied_what_it_was_not_granted) {
  apply();
  make_job();
  EXPECT_EQ(sqlstate_as(kRunner, "INSERT INTO foo (name) VALUES ('x')"), kDenied);
  EXPECT_EQ(sqlstate_as(kRunner, "DELETE FROM foojob"), kDenied);
  EXPECT_EQ(sqlstate_as(kRunner, "DELETE FROM error_report"), kDenied);
  EXPECT_EQ(sqlstate_as(kRunner, "INSERT INTO noopjob (job, foo) VALUES (1, 1)"), kDenied);
  EXPECT_EQ(sqlstate_as(kRunner, "DELETE FROM job_schedule"), kDenied);
  EXPECT_EQ(sqlstate_as(kRunner, "INSERT INTO job_schedule (name, job_type, cron, next_due) "
                                 "VALUES ('x', 'foo', '@daily', now())"),
            kDenied);
  EXPECT_EQ(sqlstate_as(kRunner, "UPDATE foojob SET json_data = '{}'"), kDenied);
  EXPECT_EQ(sqlstate_as(kRunner, "SELECT count(*) FROM database_revision"), kDenied);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job"), 1);
}

TEST_F(PermissionsTest, the_runner_role_can_claim_finish_and_report_through_the_store) {
  apply();
  const auto id = make_job();
  auto conn = db.connect(std::string(kRunner));
  auto tx = conn.begin();
  const auto lock = store.try_lock_type(tx, "test-host:1", 5min);
  ASSERT_TRUE(lock.token);
  EXPECT_TRUE(store.extend_type_lock(tx, *lock.token, 5min));
  store.release_type_lock(tx, *lock.token);
  const auto run = pg::start_runner_run(tx, "foo", "test-host", 1);
  const auto jobs = store.claim(tx, 10, 5min, "test-host:1");
  ASSERT_EQ(jobs.size(), 1U);
  EXPECT_TRUE(store.heartbeat(tx, jobs[0], 5min));
  tx.exec("INSERT INTO foo_frozzle (foo, job) VALUES ($1, $2)", jobs[0].target_id, id);
  EXPECT_GT(store.file_error_report(
                tx, jobs[0], Outcome{.kind = Outcome::Kind::unexpected, .message = "x"},
                {{"job_id", id}}),
            0);
  pg::Statements statements(tx);
  pg::record_notification(statements, jobs[0], "subject", "body");
  EXPECT_TRUE(store.finish(tx, jobs[0], Decision{.next = JobStatus::failed, .log_line = "x"}));
  pg::finish_runner_run(tx, run, 0, 1, 0);
  tx.commit();
  EXPECT_EQ(db.scalar("SELECT status FROM job WHERE id = $1", id), 3);
}

TEST_F(PermissionsTest, the_enqueuer_role_can_enqueue_but_not_run_jobs) {
  apply();
  const auto foo = db.make_foo();
  {
    auto conn = db.connect(std::string(kEnqueuer));
    auto tx = conn.begin();
    (void)store.enqueue(tx, {.target_id = foo});
    tx.commit();
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foojob WHERE foo = $1", foo), 1);
  {
    // A bulk enqueue draws the ids itself (nextval on job's sequence).
    auto conn = db.connect(std::string(kEnqueuer));
    auto tx = conn.begin();
    const auto ids = store.enqueue_many(tx, {{.target_id = db.make_foo()},
                                             {.target_id = db.make_foo()}});
    tx.commit();
    EXPECT_EQ(ids.size(), 2U);
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foojob"), 3);
  EXPECT_EQ(sqlstate_as(kEnqueuer, "UPDATE job SET status = 1"), kDenied);
  EXPECT_EQ(sqlstate_as(kEnqueuer, "INSERT INTO foo (name) VALUES ('x')"), kDenied);
}

TEST_F(PermissionsTest, an_undeclared_grant_is_revoked) {
  apply();
  db.sql(std::string("GRANT DELETE ON foo TO ") + kRunner);
  db.sql(std::string("GRANT INSERT ON database_revision TO ") + kRunner);
  ASSERT_EQ(sqlstate_as(kRunner, "DELETE FROM foo WHERE false"), "");
  apply();
  EXPECT_EQ(sqlstate_as(kRunner, "DELETE FROM foo WHERE false"), kDenied);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM (SELECT 1 WHERE has_table_privilege($1, 'foo', "
                      "'DELETE') OR has_table_privilege($1, 'database_revision', 'INSERT')) AS p",
                      kRunner),
            0);
  EXPECT_EQ(sqlstate_as(kRunner, "SELECT count(*) FROM foo"), "");
}

TEST_F(PermissionsTest, an_undeclared_function_grant_is_revoked_and_a_declared_one_kept) {
  apply();
  const auto can_run = [&](const char* role, const char* function) {
    return db.scalar("SELECT count(*) FROM pg_proc WHERE proname = $2"
                     " AND has_function_privilege($1, oid, 'EXECUTE')",
                     role, function);
  };
  EXPECT_EQ(can_run(kEnqueuer, "jobrunner_enqueue"), 1);
  EXPECT_EQ(can_run(kEnqueuer, "jobrunner_enqueue_many"), 1);
  EXPECT_EQ(can_run(kRunner, "jobrunner_enqueue"), 1);  // for its schedules
  EXPECT_EQ(can_run("jobrunner_foo_enqueuer", "jobrunner_reset_pending_keys"), 0);
  db.sql(std::string("GRANT EXECUTE ON FUNCTION jobrunner_reset_pending_keys(text) TO ") + kRunner);
  ASSERT_EQ(can_run(kRunner, "jobrunner_reset_pending_keys"), 1);
  apply();
  EXPECT_EQ(can_run(kRunner, "jobrunner_reset_pending_keys"), 0);
}

TEST_F(PermissionsTest, a_grant_on_a_missing_function_is_a_config_error) {
  auto conn = db.connect();
  try {
    pg::apply_permissions(conn, pg::parse_security_config(
                                    "[jobrunner_test_partial]\nfunction public.no_such_fn = EXECUTE\n"));
    FAIL() << "a grant on a missing function was applied";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_fn"), std::string::npos) << e.what();
  }
}

TEST_F(PermissionsTest, applying_twice_is_fine) {
  apply();
  EXPECT_NO_THROW(apply());
  EXPECT_EQ(sqlstate_as(kRunner, "SELECT count(*) FROM job"), "");
  EXPECT_EQ(sqlstate_as(kRunner, "DELETE FROM foojob"), kDenied);
}

TEST_F(PermissionsTest, a_grant_on_a_missing_table_is_a_config_error_and_grants_nothing) {
  auto conn = db.connect();
  const auto config = pg::parse_security_config(
      "[jobrunner_test_partial]\npublic.foo = SELECT\npublic.no_such_table = SELECT\n");
  try {
    pg::apply_permissions(conn, config);
    FAIL() << "a grant on a missing table was applied";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_table"), std::string::npos) << e.what();
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM information_schema.role_table_grants "
                      "WHERE grantee = 'jobrunner_test_partial'"),
            0);
}

}  // namespace
}  // namespace jobrunner
