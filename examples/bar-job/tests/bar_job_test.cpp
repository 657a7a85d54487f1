// BarJob against a real PostgreSQL: enqueue and get, error report variables,
// the registration, and runs through jobrunner's Runner (the polish commits
// with COMPLETED; a user error rolls it back).
//
// BAR_TEST_DSN names the server: a libpq key=value conninfo whose user may
// create databases, e.g. "host=/tmp/pg port=5432 user=jobrunner". Each test
// gets a fresh database, migrated with jobrunner's patches (built into the
// library) and this package's (BAR_PACKAGE_DIR, the directory
// jobrunner_install_job_package staged), and drops it at the end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "bar_job.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/admin.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/pg/migrations.hpp"
#include "jobrunner/pg/registry.hpp"
#include "jobrunner/runtime/notification_hook.hpp"
#include "jobrunner/runtime/runner.hpp"

namespace {

using jobrunner::JobStatus;
namespace pg = jobrunner::pg;

std::string server_dsn() {
  const char* dsn = std::getenv("BAR_TEST_DSN");
  if (dsn == nullptr || *dsn == '\0') {
    ADD_FAILURE() << "BAR_TEST_DSN is not set: give a libpq key=value conninfo of a server "
                     "where this user may create databases";
    return "";
  }
  return dsn;
}

// A database of its own, created for one test and dropped after it.
class ScratchDatabase {
 public:
  ScratchDatabase()
      : server_(server_dsn()),
        name_("bar_test_" + std::to_string(getpid()) + "_" + std::to_string(++count_)) {
    auto admin = pg::Connection::open(server_);
    admin.exec_outside_transaction("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    admin.exec_outside_transaction("CREATE DATABASE " + name_);
  }
  ~ScratchDatabase() {
    try {
      auto admin = pg::Connection::open(server_);
      admin.exec_outside_transaction("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not drop database " << name_ << ": " << e.what();
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  // Later keys of a key=value conninfo win.
  std::string dsn() const { return server_ + " dbname=" + name_; }

 private:
  static inline int count_ = 0;
  std::string server_;
  std::string name_;
};

class BarJobTest : public testing::Test {
 protected:
  BarJobTest() {
    const std::filesystem::path dir = BAR_PACKAGE_DIR;
    pg::upgrade(conn, pg::all_patches(pg::embedded_patches(),
                                      {pg::load_package(dir, dir / "security.cfg")}));
  }
  std::int64_t scalar(const std::string& sql) {
    auto tx = conn.begin();
    return tx.exec(sql).front().integer("value");
  }
  std::int64_t make_bar() {
    auto tx = conn.begin();
    const auto id = tx.exec("INSERT INTO bar (name) VALUES ('a bar') RETURNING id").front();
    tx.commit();
    return id.integer("id");
  }
  // Enqueues in a committed transaction of its own, as an application would.
  std::int64_t enqueue(std::int64_t bar, nlohmann::json metadata = nlohmann::json::object()) {
    auto tx = conn.begin();
    const auto id = store.enqueue(tx, {.target_id = bar, .metadata = std::move(metadata)});
    tx.commit();
    return id;
  }
  jobrunner::Job get(std::int64_t id) {
    auto tx = conn.begin();
    return store.get(tx, id);
  }
  jobrunner::RunStats run_ready_jobs() {
    jobrunner::RecordingNotificationHook hook;
    jobrunner::Runner runner(conn, bar::bar_job_type(), jobrunner::RunnerOptions{.owner = "test"},
                             hook);
    return runner.run_once();
  }

  ScratchDatabase db;
  pg::Connection conn = pg::Connection::open(db.dsn());
  const pg::JobStore store{bar::bar_job_type().spec};
};

TEST_F(BarJobTest, the_registered_type_agrees_with_the_compiled_spec) {
  auto tx = conn.begin();
  const auto registered = pg::find_registered_type(tx, "bar");
  ASSERT_TRUE(registered.has_value());
  EXPECT_EQ(registered->package, "bar");
  EXPECT_TRUE(jobrunner::spec_differences(bar::bar_job_type().spec, registered->spec).empty());
}

// Launchpad's test_instantiate.
TEST_F(BarJobTest, an_enqueued_job_can_be_got_by_id) {
  const auto bar = make_bar();
  const auto id = enqueue(bar, {{"coats", 2}});
  const auto job = get(id);
  EXPECT_EQ(job.job_type, "bar");
  EXPECT_EQ(job.target_id, bar);
  EXPECT_EQ(job.type_code, static_cast<int>(bar::BarJobType::polish_bar));
  EXPECT_EQ(job.metadata["coats"], 2);
  EXPECT_EQ(job.status, JobStatus::waiting);
}

TEST_F(BarJobTest, a_second_pending_job_for_the_same_bar_is_refused) {
  const auto bar = make_bar();
  enqueue(bar);
  EXPECT_THROW(enqueue(bar), jobrunner::DuplicateJob);
  EXPECT_EQ(scalar("SELECT count(*) AS value FROM barjob"), 1);
}

// Launchpad's test_getOopsVars.
TEST_F(BarJobTest, oops_vars_name_the_job_and_its_bar) {
  const auto bar = make_bar();
  const auto id = enqueue(bar);
  const auto job = bar::bar_job_type().make(get(id));
  const auto vars = job->oops_vars();
  EXPECT_EQ(vars.at("job_id"), id);
  EXPECT_EQ(vars.at("job_type"), "bar");
  EXPECT_EQ(vars.at("bar_id"), bar);
  EXPECT_EQ(vars.at("bar_job_type"), "POLISH_BAR");
}

TEST_F(BarJobTest, the_runner_polishes_the_bar_and_completes_the_job) {
  const auto bar = make_bar();
  const auto id = enqueue(bar, {{"coats", 3}});
  const auto stats = run_ready_jobs();
  EXPECT_EQ(stats.completed, 1);
  EXPECT_EQ(stats.not_completed, 0);
  EXPECT_EQ(get(id).status, JobStatus::completed);
  EXPECT_EQ(scalar("SELECT polish_count AS value FROM bar WHERE id = " + std::to_string(bar)), 3);
  EXPECT_EQ(scalar("SELECT count(*) AS value FROM bar_polish WHERE job = " + std::to_string(id) +
                   " AND coats = 3"),
            1);
}

// An operator's retry of a COMPLETED job runs it again (Launchpad's
// COMPLETED -> WAITING): the bar gets the coats once more and the job keeps
// one bar_polish row, of its latest run.
TEST_F(BarJobTest, a_completed_job_that_is_retried_polishes_again_and_keeps_one_row) {
  const auto bar = make_bar();
  const auto id = enqueue(bar, {{"coats", 2}});
  ASSERT_EQ(run_ready_jobs().completed, 1);
  {
    auto tx = conn.begin();
    const auto moves = pg::move_jobs(
        tx, {.ids = {id}},
        {.to = JobStatus::waiting, .from = {JobStatus::completed}, .verb = "retry"});
    ASSERT_EQ(moves.size(), 1U);
    tx.commit();
  }
  const auto stats = run_ready_jobs();
  EXPECT_EQ(stats.completed, 1);
  EXPECT_EQ(stats.not_completed, 0);
  EXPECT_EQ(get(id).status, JobStatus::completed);
  EXPECT_EQ(scalar("SELECT polish_count AS value FROM bar WHERE id = " + std::to_string(bar)), 4);
  EXPECT_EQ(scalar("SELECT count(*) AS value FROM bar_polish WHERE job = " + std::to_string(id)),
            1);
}

// The one-transaction rule: a job that fails leaves none of its work.
TEST_F(BarJobTest, too_many_coats_fail_the_job_notify_the_requester_and_leave_the_bar_as_it_was) {
  const auto bar = make_bar();
  const auto id = enqueue(bar, {{"coats", 99}});
  const auto stats = run_ready_jobs();
  EXPECT_EQ(stats.completed, 0);
  EXPECT_EQ(stats.not_completed, 1);
  EXPECT_EQ(get(id).status, JobStatus::failed);
  EXPECT_EQ(scalar("SELECT polish_count AS value FROM bar WHERE id = " + std::to_string(bar)), 0);
  EXPECT_EQ(scalar("SELECT count(*) AS value FROM bar_polish"), 0);
  EXPECT_EQ(scalar("SELECT count(*) AS value FROM job_notification WHERE job = " +
                   std::to_string(id)),
            1);
  EXPECT_EQ(scalar("SELECT count(*) AS value FROM error_report"), 0);  // a user error
}

}  // namespace
