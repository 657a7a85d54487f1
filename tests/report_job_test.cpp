// Jobs without a table of their own (issue 11, item 4), with ReportJob, the
// nightly report (jobs/report/): its package registers it with no table, its
// jobs have no target and keep their metadata in job.json_data, and it is a
// singleton (one pending ReportJob). It is registered, enqueued (JobStore,
// SQL, jobctl), listed, shown, run, moved, rescued and pruned like any type.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobctl_fixture.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/migrations.hpp"
#include "jobrunner/pg/registry.hpp"
#include "pg/queries.hpp"
#include "report/report_job.hpp"

namespace jobrunner::jobctl_test {
namespace {

using namespace std::chrono_literals;

constexpr int kConfig = 78;
const std::filesystem::path kPackage = JOBRUNNER_REPORT_PACKAGE_DIR;

class ReportJobTest : public JobctlTest {
 protected:
  // The report package, applied as jobctl db upgrade --migrations-dir does.
  void SetUp() override { apply_package(kPackage); }

  std::int64_t enqueue_report(const nlohmann::json& metadata = nlohmann::json::object()) {
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto id = reports.enqueue(tx, {.metadata = metadata});
    tx.commit();
    return id;
  }
  std::vector<Job> claim_reports() {
    auto conn = db.connect();
    auto tx = conn.begin();
    auto jobs = reports.claim(tx, 10, 5min, "host:1");
    tx.commit();
    return jobs;
  }
  ProcessResult run_report_jobs(std::vector<std::string> args = {},
                                const std::optional<std::string>& user = std::nullopt) {
    args.insert(args.begin(), {bin("run-report-jobs"), "--db", db.conninfo(user)});
    return run_program(args);
  }
  std::int64_t report_rows() { return count("SELECT count(*) FROM report_run"); }

  const pg::JobStore reports{report::report_job_type().spec};
};

// ---- The registry and the store -------------------------------------------

TEST_F(ReportJobTest, its_package_registers_the_type_without_a_table_exactly_as_compiled) {
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto row = pg::find_registered_type(tx, "report");
  ASSERT_TRUE(row);
  EXPECT_FALSE(row->has_table());
  EXPECT_EQ(row->package, "report");
  EXPECT_TRUE(spec_differences(report::report_job_type().spec, row->spec).empty());
  EXPECT_TRUE(row->spec.one_pending_per_target);
  EXPECT_EQ(row->spec.default_max_retries, 2);
  EXPECT_EQ(count("SELECT count(*) FROM job_type WHERE name = 'report' AND type_table IS NULL "
                  "AND target_column IS NULL AND target_table IS NULL AND type_code IS NULL"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM database_revision WHERE package = 'report'"), 1);
}

TEST_F(ReportJobTest, a_spec_names_its_table_target_and_code_together_or_none_of_them) {
  auto half = foo::foo_job_type().spec;
  half.target_column.clear();
  EXPECT_THROW(pg::JobStore{half}, ConfigError);
  auto coded = report::report_job_type().spec;
  coded.type_code = 1;
  EXPECT_THROW(pg::JobStore{coded}, ConfigError);
  EXPECT_FALSE(report::report_job_type().spec.has_table());
  EXPECT_TRUE(foo::foo_job_type().spec.has_table());
}

TEST_F(ReportJobTest, the_store_enqueues_gets_and_claims_a_job_with_no_target_and_its_metadata_in_the_job) {
  const auto id = enqueue_report({{"period", "2d"}});
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE job_type = 'report' AND pending_key = 0 AND "
                  "json_data = '{\"period\": \"2d\"}' AND max_retries = 2"),
            1);

  auto conn = db.connect();
  auto tx = conn.begin();
  const auto job = reports.get(tx, id);
  EXPECT_FALSE(job.target_id);
  EXPECT_EQ(job.metadata, (nlohmann::json{{"period", "2d"}}));
  ASSERT_EQ(reports.ready(tx, 10).size(), 1U);
  EXPECT_EQ(reports.ready(tx, 10).front().metadata, job.metadata);
  // Each store knows only its own type's jobs.
  EXPECT_THROW((void)store.get(tx, id), NotFound);
  EXPECT_THROW((void)reports.get(tx, enqueue()), NotFound);
  tx.commit();

  const auto claimed = claim_reports();
  ASSERT_EQ(claimed.size(), 1U);
  EXPECT_EQ(claimed[0].id, id);
  EXPECT_EQ(claimed[0].status, JobStatus::running);
  EXPECT_FALSE(claimed[0].target_id);
  EXPECT_EQ(claimed[0].type_code, 0);
  EXPECT_EQ(claimed[0].metadata, (nlohmann::json{{"period", "2d"}}));
}

TEST_F(ReportJobTest, a_target_for_a_type_without_a_table_is_bad_input_and_writes_nothing) {
  auto conn = db.connect();
  auto tx = conn.begin();
  try {
    (void)reports.enqueue(tx, {.target_id = db.make_foo()});
    ADD_FAILURE() << "a target was accepted";
  } catch (const BadInput& e) {
    EXPECT_TRUE(contains(e.what(), "has no target")) << e.what();
  }
  EXPECT_EQ(count("SELECT count(*) FROM job"), 0);
}

TEST_F(ReportJobTest, a_second_pending_report_is_a_duplicate_until_the_first_is_finished) {
  const auto first = enqueue_report();
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    try {
      (void)reports.enqueue(tx, {});
      ADD_FAILURE() << "a second pending ReportJob was accepted";
    } catch (const DuplicateJob& e) {
      EXPECT_TRUE(contains(e.what(), "a ReportJob is already pending (job " +
                                         std::to_string(first) + ")"));
    }
  }
  // From SQL: the same rule, SQLSTATE 23505.
  try {
    db.sql("SELECT jobrunner_enqueue('report')");
    ADD_FAILURE() << "a second pending ReportJob was accepted from SQL";
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "23505") << e.what();
  }
  // A bulk call of two is refused whole.
  EXPECT_THROW(db.sql("SELECT jobrunner_enqueue_many('report', '[{}, {}]')"), pg::SqlError);
  EXPECT_EQ(count("SELECT count(*) FROM job"), 1);

  db.sql("UPDATE job SET status = 2, date_finished = now() WHERE id = $1", first);
  const auto second = db.scalar("SELECT jobrunner_enqueue('report', metadata => '{\"period\": "
                                "\"12h\"}')");
  EXPECT_NE(second, first);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE json_data->>'period' = '12h'"), 1);
}

TEST_F(ReportJobTest, a_target_from_sql_is_refused_with_22023) {
  try {
    db.sql("SELECT jobrunner_enqueue('report', 1)");
    ADD_FAILURE() << "accepted";
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "22023") << e.what();
  }
}

TEST_F(ReportJobTest, the_claim_of_a_type_without_a_table_reads_job_through_its_indexes) {
  db.sql("INSERT INTO job (job_type, status, attempt_count, date_started, date_finished) "
         "SELECT 'report', 2, 1, now(), now() FROM generate_series(1, 20000)");
  (void)enqueue_report();
  db.sql("ANALYZE job");
  const auto plan = db.sql("EXPLAIN " + pg::query("job_claim"), "report", 64, "host:1", 60000);
  std::string text;
  for (const auto& row : plan) text += row.text("QUERY PLAN") + "\n";
  EXPECT_TRUE(contains(text, "job__ready__idx"));
  EXPECT_TRUE(contains(text, "Index Scan using job_pkey on job"));
  EXPECT_EQ(text.find("Seq Scan"), std::string::npos) << text;
}

// ---- The runner ------------------------------------------------------------

TEST_F(ReportJobTest, run_report_jobs_writes_the_report_in_the_jobs_transaction) {
  (void)job_in(kCompleted);
  (void)job_in(kFailed);
  (void)job_in(kCompleted, "3 days");  // outside the period
  const auto id = enqueue_report({{"period", "1d"}});

  const auto result = run_report_jobs();

  EXPECT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.err, "Ran 1 ReportJobs."));
  EXPECT_EQ(status_of(id), kCompleted);
  ASSERT_EQ(report_rows(), 1);
  const auto summary = nlohmann::json::parse(
      db.sql("SELECT summary::text AS s FROM report_run WHERE job = $1", id).at(0).text("s"));
  EXPECT_EQ(summary, (nlohmann::json{{"foo", {{"COMPLETED", 1}, {"FAILED", 1}}}}));
  EXPECT_EQ(count("SELECT count(*) FROM report_run WHERE period_end - period_start = "
                  "interval '1 day'"),
            1);
}

TEST_F(ReportJobTest, a_bad_period_is_a_user_error_and_writes_no_report) {
  const auto id = enqueue_report({{"period", "soon"}});

  const auto result = run_report_jobs();

  EXPECT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_EQ(report_rows(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM error_report"), 0);  // a user error files none
  EXPECT_TRUE(contains(db.sql("SELECT log FROM job WHERE id = $1", id).at(0).text("log"),
                       "\"period\""));
}

TEST_F(ReportJobTest, a_runner_without_a_table_against_a_registration_with_one_exits_78) {
  const auto id = enqueue_report();
  db.sql("UPDATE job_type SET type_table = 'foojob', target_column = 'foo', target_table = "
         "'foo', type_code = 0 WHERE name = 'report'");

  const auto result = run_report_jobs();

  EXPECT_EQ(result.exit_code, kConfig) << shown(result);
  EXPECT_TRUE(contains(result.err, "table: compiled none, registered 'foojob'"));
  EXPECT_TRUE(contains(result.err, "target column: compiled none, registered 'foo'"));
  EXPECT_EQ(status_of(id), kWaiting);
}

TEST_F(ReportJobTest, a_runner_with_a_table_against_a_registration_without_one_exits_78) {
  db.sql("UPDATE job_type SET type_table = NULL, target_column = NULL, target_table = NULL, "
         "type_code = NULL WHERE name = 'foo'");

  const auto result = run_foo_jobs();

  EXPECT_EQ(result.exit_code, kConfig) << shown(result);
  EXPECT_TRUE(contains(result.err, "table: compiled 'foojob', registered none"));
}

TEST_F(ReportJobTest, a_runner_of_an_unregistered_type_without_a_table_exits_78) {
  db.sql("DELETE FROM job_type WHERE name = 'report'");
  const auto result = run_report_jobs();
  EXPECT_EQ(result.exit_code, kConfig) << shown(result);
  EXPECT_TRUE(contains(result.err, "job type 'report' is not registered"));
}

TEST_F(ReportJobTest, the_packages_runner_role_runs_reports_with_its_own_grants) {
  const auto upgrade = jobctl({"db", "upgrade", "--migrations-dir", kPackage.string()});
  ASSERT_EQ(upgrade.exit_code, kOk) << shown(upgrade);
  const auto grants = jobctl({"db", "permissions", "--migrations-dir", kPackage.string()});
  ASSERT_EQ(grants.exit_code, kOk) << shown(grants);
  // What the crontab's line runs, as the enqueuer's role.
  const auto enqueued = run_program({bin("jobctl"), "--db", db.conninfo("jobrunner_report_enqueuer"),
                                     "enqueue", "report", "--requester", "cron"});
  ASSERT_EQ(enqueued.exit_code, kOk) << shown(enqueued);
  (void)job_in(kCompleted);

  const auto result = run_report_jobs({}, "jobrunner_report_runner");

  EXPECT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(report_rows(), 1);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE job_type = 'report' AND status = 2"), 1);
}

// ---- jobctl ----------------------------------------------------------------

TEST_F(ReportJobTest, jobctl_enqueues_a_report_without_a_target_and_refuses_a_second) {
  const auto result = jobctl({"enqueue", "report", "--json", "{\"period\": \"7d\"}"});
  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto id = std::stoll(lines_of(result.out).at(0));
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE id = " + std::to_string(id) +
                  " AND job_type = 'report' AND json_data->>'period' = '7d'"),
            1);

  const auto before = snapshot();
  expect_refused(jobctl({"enqueue", "report"}), kDataError,
                 {"a ReportJob is already pending (job " + std::to_string(id) + ")"});
  EXPECT_EQ(snapshot(), before);
}

TEST_F(ReportJobTest, jobctl_refuses_a_target_for_a_type_without_a_table_as_a_usage_error) {
  const auto foo = std::to_string(db.make_foo());
  const auto before = snapshot();
  expect_refused(jobctl({"enqueue", "report", "--target", foo}), kUsage,
                 {"job type 'report' has no table of its own", "--target"});
  expect_refused(jobctl({"enqueue", "report", "--foo", foo}), kUsage,
                 {"--foo " + foo, "has no table of its own"});
  const TempFile lines("{\"json\": {}}\n{\"target\": " + foo + "}\n");
  expect_refused(jobctl({"enqueue", "report", "--from", lines.path()}), kDataError,
                 {"line 2: job type 'report' has no table of its own"});
  EXPECT_EQ(snapshot(), before);
  // A type with a table still needs its target.
  expect_refused(jobctl({"enqueue", "foo"}), kUsage, {"--target ID", "--foo ID"});
}

TEST_F(ReportJobTest, jobctl_enqueues_reports_from_lines_with_metadata) {
  const TempFile lines("{\"json\": {\"period\": \"1h\"}, \"priority\": 3}\n");
  const auto result = jobctl({"enqueue", "report", "--from", lines.path()});
  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE job_type = 'report' AND priority = 3 AND "
                  "json_data->>'period' = '1h'"),
            1);
}

TEST_F(ReportJobTest, jobctl_lists_shows_and_counts_a_report) {
  const auto id = enqueue_report({{"period", "1d"}});
  const auto ids = std::to_string(id);

  const auto list = jobctl({"list", "--type", "report", "--json"});
  ASSERT_EQ(list.exit_code, kOk) << shown(list);
  const auto listed = nlohmann::json::parse(list.out);
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0]["id"], id);

  const auto show = jobctl({"show", ids, "--json"});
  ASSERT_EQ(show.exit_code, kOk) << shown(show);
  const auto shown_job = nlohmann::json::parse(show.out);
  EXPECT_EQ(shown_job["job_type"], "report");
  EXPECT_EQ(shown_job["json_data"], (nlohmann::json{{"period", "1d"}}));
  EXPECT_TRUE(shown_job["type_row"].is_null());
  const auto text = jobctl({"show", ids});
  EXPECT_TRUE(contains(text.out, "type_row: - (the type has no table of its own)"));

  const auto stats = jobctl({"stats", "--type", "report", "--json"});
  ASSERT_EQ(stats.exit_code, kOk) << shown(stats);
  const auto types = nlohmann::json::parse(stats.out)["types"];
  ASSERT_EQ(types.size(), 1U);
  EXPECT_EQ(types[0]["job_type"], "report");
  EXPECT_EQ(types[0]["ready"], 1);
}

TEST_F(ReportJobTest, jobctl_moves_a_report_and_a_retry_beside_a_pending_one_is_refused) {
  const auto first = enqueue_report();
  const auto f = std::to_string(first);
  ASSERT_EQ(jobctl({"suspend", f}).exit_code, kOk);
  EXPECT_EQ(status_of(first), kSuspended);
  ASSERT_EQ(jobctl({"resume", f}).exit_code, kOk);
  EXPECT_EQ(status_of(first), kWaiting);
  ASSERT_EQ(jobctl({"cancel", f, "--reason", "not tonight"}).exit_code, kOk);
  EXPECT_EQ(status_of(first), kCancelled);

  // Cancelled, it no longer holds the singleton: a new one may be enqueued,
  // and then the old one cannot come back.
  const auto second = enqueue_report();
  const auto before = snapshot();
  expect_refused(jobctl({"retry", f}), kDataError,
                 {"retry refused, a ReportJob is already pending (job " + std::to_string(second) +
                  ")"});
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(status_of(first), kCancelled);

  ASSERT_EQ(jobctl({"cancel", std::to_string(second)}).exit_code, kOk);
  const auto retried = jobctl({"retry", f});
  EXPECT_EQ(retried.exit_code, kOk) << shown(retried);
  EXPECT_EQ(status_of(first), kWaiting);
}

TEST_F(ReportJobTest, jobctl_rescues_an_expired_report_and_files_its_report_when_spent) {
  const auto id = enqueue_report();
  db.sql("UPDATE job SET status = 1, attempt_count = 3, lease_token = 7, lease_owner = 'dead:1', "
         "lease_expires = now() - interval '1 minute' WHERE id = $1",
         id);

  const auto result = jobctl({"rescue", "--type", "report"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(lines_of(result.out), (std::vector<std::string>{"1"}));
  EXPECT_EQ(status_of(id), kFailed);  // 3 attempts > 2 retries: spent
  const auto vars = nlohmann::json::parse(
      db.sql("SELECT variables::text AS v FROM error_report WHERE job = $1", id).at(0).text("v"));
  EXPECT_EQ(vars["job_type"], "report");
  EXPECT_FALSE(vars.contains("_id"));
  const auto oops = jobctl({"oops", "list", "--type", "report", "--json"});
  ASSERT_EQ(oops.exit_code, kOk) << shown(oops);
  EXPECT_EQ(nlohmann::json::parse(oops.out).size(), 1U);
}

TEST_F(ReportJobTest, jobctl_prunes_finished_reports_and_keeps_what_they_wrote) {
  const auto id = enqueue_report();
  ASSERT_EQ(run_report_jobs().exit_code, kOk);
  db.sql("UPDATE job SET date_finished = now() - interval '40 days' WHERE id = $1", id);

  const auto result = jobctl({"prune", "--older-than", "30d", "--type", "report"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(count("SELECT count(*) FROM job"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM report_run WHERE job IS NULL"), 1);
}

TEST_F(ReportJobTest, a_paused_report_type_is_not_run) {
  const auto id = enqueue_report();
  ASSERT_EQ(jobctl({"pause", "report", "--reason", "quiet night"}).exit_code, kOk);

  const auto result = run_report_jobs();

  EXPECT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(status_of(id), kWaiting);
  ASSERT_EQ(jobctl({"unpause", "report"}).exit_code, kOk);
  ASSERT_EQ(run_report_jobs().exit_code, kOk);
  EXPECT_EQ(status_of(id), kCompleted);
}

}  // namespace
}  // namespace jobrunner::jobctl_test
