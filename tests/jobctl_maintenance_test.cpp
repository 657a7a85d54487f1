// jobctl prune | pause | unpause | paused, and what runners do about them:
// a paused type's runner exits at once (a daemon at its next poll), and
// --retention prunes the runner's own finished jobs and ended runs.
#include <chrono>
#include <string>
#include <vector>

#include "jobctl_fixture.hpp"
#include "program.hpp"

namespace jobrunner::jobctl_test {
namespace {

using namespace std::chrono_literals;

class JobctlMaintenanceTest : public JobctlTest {
 protected:
  // A finished job with an error report, a notice and a frozzle, so that
  // pruning it shows the cascade.
  std::int64_t finished_job_with_everything(std::int64_t status, const std::string& ago) {
    const auto id = job_in(status, ago);
    db.sql("INSERT INTO error_report (job, error_type, message) VALUES ($1, 'E', 'm')", id);
    db.sql("INSERT INTO job_notification (job, recipient, subject, body) "
           "VALUES ($1, 'x', 's', 'b')", id);
    db.sql("INSERT INTO foo_frozzle (foo, job) SELECT foo, job FROM foojob WHERE job = $1", id);
    return id;
  }
  bool exists(std::int64_t id) {
    return count("SELECT count(*) FROM job WHERE id = " + std::to_string(id)) == 1;
  }
  std::int64_t leftovers_of(std::int64_t id) {
    const auto job = std::to_string(id);
    return count("SELECT (SELECT count(*) FROM foojob WHERE job = " + job +
                 ") + (SELECT count(*) FROM error_report WHERE job = " + job +
                 ") + (SELECT count(*) FROM job_notification WHERE job = " + job +
                 ") + (SELECT count(*) FROM foo_frozzle WHERE job = " + job + ")");
  }
};

// ---- prune ----------------------------------------------------------------------

TEST_F(JobctlMaintenanceTest, prune_deletes_old_finished_jobs_with_their_rows_and_nothing_else) {
  const auto old_completed = finished_job_with_everything(kCompleted, "40 days");
  const auto old_failed = finished_job_with_everything(kFailed, "40 days");
  const auto old_cancelled = finished_job_with_everything(kCancelled, "40 days");
  const auto new_failed = finished_job_with_everything(kFailed, "1 day");
  // Unfinished jobs that carry an old date_finished (Launchpad's requeue kept
  // it): its pruner would have deleted them; ours never does.
  std::vector<std::int64_t> unfinished;
  for (const auto status : {kWaiting, kRunning, kSuspended}) {
    const auto id = job_in(status);
    db.sql("UPDATE job SET date_finished = now() - interval '90 days' WHERE id = $1", id);
    unfinished.push_back(id);
  }

  const auto result = jobctl({"prune", "--older-than", "30d"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.out, "deleted 3 jobs finished before"));
  EXPECT_TRUE(contains(result.out, "COMPLETED 1, FAILED 1, CANCELLED 1"));
  for (const auto id : {old_completed, old_failed, old_cancelled}) {
    EXPECT_FALSE(exists(id)) << id;
    EXPECT_EQ(leftovers_of(id), 0) << id;
  }
  EXPECT_TRUE(exists(new_failed));
  EXPECT_EQ(leftovers_of(new_failed), 4);
  for (const auto id : unfinished) EXPECT_TRUE(exists(id)) << id;
}

TEST_F(JobctlMaintenanceTest, prune_by_status_and_type_in_small_batches) {
  std::vector<std::int64_t> completed;
  for (int i = 0; i < 5; ++i) completed.push_back(job_in(kCompleted, "2 hours"));
  const auto failed = job_in(kFailed, "2 hours");

  const auto result = jobctl({"prune", "--older-than", "1h", "--status", "COMPLETED", "--type",
                              "foo", "--batch-size", "2", "--json"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto out = nlohmann::json::parse(result.out);
  EXPECT_EQ(out["deleted"], 5);
  EXPECT_EQ(out["batches"], 3);
  EXPECT_EQ(out["by_status"]["COMPLETED"], 5);
  EXPECT_EQ(out["by_status"]["FAILED"], 0);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE status = 2"), 0);
  EXPECT_TRUE(exists(failed));
}

TEST_F(JobctlMaintenanceTest, prune_dry_run_counts_and_deletes_nothing) {
  job_in(kCompleted, "3 days");
  job_in(kCancelled, "3 days");
  const auto before = snapshot();

  const auto result = jobctl({"prune", "--older-than", "1d", "--dry-run"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.out, "would delete 2 jobs"));
  EXPECT_TRUE(contains(result.out, "nothing was changed"));
  EXPECT_EQ(snapshot(), before);
}

TEST_F(JobctlMaintenanceTest, prune_with_nothing_old_enough_is_not_an_error) {
  job_in(kCompleted, "1 minute");

  const auto result = jobctl({"prune", "--older-than", "1h"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.out, "deleted 0 jobs"));
  EXPECT_EQ(count("SELECT count(*) FROM job"), 1);
}

TEST_F(JobctlMaintenanceTest, prune_deletes_old_ended_runs_and_keeps_runs_without_an_end) {
  const auto old_ended = run_of("foo", "40 days", "40 days");
  const auto old_ended_noop = run_of("noop", "40 days", "39 days");
  // Started before the cutoff, ended after it: its end is what counts.
  const auto long_run = run_of("foo", "40 days", "10 days");
  const auto recent = run_of("foo", "1 day", "1 day");
  // No end: still going (a daemon up for 40 days), or killed before it
  // could record one. Nothing in the row tells which, so it stays.
  const auto no_end = run_of("foo", "40 days", std::nullopt);
  const auto old_job = job_in(kCompleted, "40 days");

  const auto result = jobctl({"prune", "--older-than", "30d"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.out, "deleted 1 job finished before"));
  EXPECT_TRUE(contains(result.out, "and 2 runner runs that ended before it"));
  EXPECT_TRUE(contains(result.out, "kept 1 run without an end that started before it"));
  EXPECT_TRUE(contains(result.out, "--abandoned-runs"));
  EXPECT_FALSE(exists(old_job));
  EXPECT_FALSE(run_exists(old_ended));
  EXPECT_FALSE(run_exists(old_ended_noop));
  EXPECT_TRUE(run_exists(long_run));
  EXPECT_TRUE(run_exists(recent));
  EXPECT_TRUE(run_exists(no_end));
}

TEST_F(JobctlMaintenanceTest, prune_of_abandoned_runs_deletes_old_runs_without_an_end_too) {
  const auto old_ended = run_of("foo", "40 days", "40 days");
  const auto old_no_end = run_of("foo", "40 days", std::nullopt);
  const auto recent_no_end = run_of("foo", "1 day", std::nullopt);
  const auto other_type = run_of("noop", "40 days", std::nullopt);

  const auto result = jobctl({"prune", "--older-than", "30d", "--abandoned-runs", "--type",
                              "foo", "--batch-size", "1", "--json"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto out = nlohmann::json::parse(result.out);
  EXPECT_EQ(out["runs"]["deleted"], 2);
  EXPECT_EQ(out["runs"]["unfinished_matched"], 1);
  EXPECT_EQ(out["runs"]["unfinished_kept"], 0);
  EXPECT_FALSE(run_exists(old_ended));
  EXPECT_FALSE(run_exists(old_no_end));
  EXPECT_TRUE(run_exists(recent_no_end)) << "started after the cutoff";
  EXPECT_TRUE(run_exists(other_type)) << "--type foo prunes only run-foo-jobs' runs";
}

TEST_F(JobctlMaintenanceTest, prune_dry_run_counts_runs_and_deletes_none) {
  run_of("foo", "3 days", "3 days");
  run_of("foo", "3 days", std::nullopt);
  const auto before = snapshot();

  const auto plain = jobctl({"prune", "--older-than", "1d", "--dry-run", "--json"});
  const auto abandoned =
      jobctl({"prune", "--older-than", "1d", "--dry-run", "--abandoned-runs", "--json"});

  ASSERT_EQ(plain.exit_code, kOk) << shown(plain);
  ASSERT_EQ(abandoned.exit_code, kOk) << shown(abandoned);
  const auto p = nlohmann::json::parse(plain.out);
  EXPECT_EQ(p["runs"]["deleted"], 0);
  EXPECT_EQ(p["runs"]["matched"], 1);
  EXPECT_EQ(p["runs"]["unfinished_kept"], 1);
  const auto a = nlohmann::json::parse(abandoned.out);
  EXPECT_EQ(a["runs"]["matched"], 2);
  EXPECT_EQ(a["runs"]["unfinished_matched"], 1);
  EXPECT_EQ(a["runs"]["unfinished_kept"], 0);
  EXPECT_EQ(snapshot(), before);
}

struct BadArgs {
  std::string name;
  std::vector<std::string> args;
  int exit_code;
  std::string message;
};

void PrintTo(const BadArgs& bad, std::ostream* out) { *out << bad.name; }

class JobctlBadMaintenanceTest : public JobctlMaintenanceTest,
                                 public ::testing::WithParamInterface<BadArgs> {};

TEST_P(JobctlBadMaintenanceTest, is_refused_with_one_line_and_changes_nothing) {
  for (const auto status : {kWaiting, kRunning, kSuspended, kCompleted, kFailed, kCancelled}) {
    job_in(status, "100 days");
  }
  run_of("foo", "100 days", "100 days");
  run_of("foo", "100 days", std::nullopt);
  ASSERT_EQ(jobctl({"pause", "foo"}).exit_code, kOk);
  const auto before = snapshot();

  const auto result = jobctl(GetParam().args);

  expect_refused(result, GetParam().exit_code, {GetParam().message});
  EXPECT_EQ(snapshot(), before);
}

INSTANTIATE_TEST_SUITE_P(
    Jobctl, JobctlBadMaintenanceTest,
    ::testing::Values(
        BadArgs{"prune_without_an_age", {"prune"}, kUsage, "--older-than is required"},
        BadArgs{"prune_a_malformed_age", {"prune", "--older-than", "a month"}, kUsage,
                "invalid duration 'a month'"},
        BadArgs{"prune_waiting_jobs", {"prune", "--older-than", "1d", "--status", "WAITING"},
                kDataError, "never WAITING"},
        BadArgs{"prune_suspended_jobs",
                {"prune", "--older-than", "1d", "--status", "FAILED,SUSPENDED"}, kDataError,
                "never SUSPENDED"},
        BadArgs{"prune_an_unknown_status", {"prune", "--older-than", "1d", "--status", "OLD"},
                kDataError, "unknown status 'OLD'"},
        BadArgs{"prune_an_unknown_type", {"prune", "--older-than", "1d", "--type", "bar"},
                kDataError, "unknown job type 'bar'"},
        BadArgs{"prune_a_zero_batch", {"prune", "--older-than", "1d", "--batch-size", "0"},
                kUsage, "--batch-size"},
        BadArgs{"pause_a_paused_type", {"pause", "foo"}, kDataError,
                "job type 'foo' is already paused by"},
        BadArgs{"pause_an_unknown_type", {"pause", "bar"}, kDataError, "unknown job type 'bar'"},
        BadArgs{"pause_without_a_type", {"pause"}, kUsage, "TYPE is required"},
        BadArgs{"unpause_an_unknown_type", {"unpause", "bar"}, kDataError,
                "unknown job type 'bar'"}),
    [](const ::testing::TestParamInfo<BadArgs>& param_info) { return param_info.param.name; });

// ---- pause ----------------------------------------------------------------------

TEST_F(JobctlMaintenanceTest, a_paused_type_runner_exits_at_once_saying_who_paused_it_and_why) {
  const auto id = enqueue();

  const auto pause =
      jobctl({"pause", "foo", "--reason", "database maintenance", "--by", "frank", "--json"});
  ASSERT_EQ(pause.exit_code, kOk) << shown(pause);
  EXPECT_EQ(nlohmann::json::parse(pause.out)["paused_by"], "frank");

  const auto run = run_foo_jobs();
  EXPECT_EQ(run.exit_code, kOk) << shown(run);
  EXPECT_TRUE(contains(run.err, "job type 'foo' is paused by frank since "));
  EXPECT_TRUE(contains(run.err, ": database maintenance; exiting without running jobs"));
  EXPECT_EQ(status_of(id), kWaiting);

  const auto paused = jobctl({"paused"});
  ASSERT_EQ(paused.exit_code, kOk) << shown(paused);
  EXPECT_TRUE(contains(paused.out, "frank"));
  EXPECT_TRUE(contains(paused.out, "database maintenance"));

  const auto unpause = jobctl({"unpause", "foo"});
  ASSERT_EQ(unpause.exit_code, kOk) << shown(unpause);
  EXPECT_EQ(count("SELECT count(*) FROM job_type_pause"), 0);
  ASSERT_EQ(run_foo_jobs().exit_code, kOk);
  EXPECT_EQ(status_of(id), kCompleted);

  const auto again = jobctl({"unpause", "foo"});
  expect_refused(again, kDataError, {"job type 'foo' is not paused"});
}

TEST_F(JobctlMaintenanceTest, pause_defaults_to_the_login_name) {
  const auto result = run_program({bin("jobctl"), "--db", db.conninfo(), "pause", "foo"},
                                  {{"USER", "grace"}});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(count("SELECT count(*) FROM job_type_pause WHERE paused_by = 'grace' AND "
                  "job_type = 'foo' AND reason IS NULL"),
            1);
  const auto json = jobctl({"paused", "--json"});
  ASSERT_EQ(json.exit_code, kOk) << shown(json);
  EXPECT_EQ(nlohmann::json::parse(json.out).at(0)["job_type"], "foo");
}

TEST_F(JobctlMaintenanceTest, a_daemon_stops_at_its_next_poll_once_its_type_is_paused) {
  testing::Program daemon(
      {bin("run-foo-jobs"), "--db", db.conninfo(), "--daemon", "--poll-interval", "100ms"});
  // Its run is recorded after its check for a pause at start: the pause
  // below can only be noticed at a poll.
  ASSERT_TRUE(testing::eventually([&] { return count("SELECT count(*) FROM runner_run") == 1; }))
      << "the daemon never started";
  const auto pause = jobctl({"pause", "foo", "--reason", "deploy"});
  ASSERT_EQ(pause.exit_code, kOk) << shown(pause);
  // Killed by the Program at the end if it ignores the pause.
  ASSERT_TRUE(daemon.exited_within(60s)) << "the daemon did not stop once its type was paused";
  const auto run = daemon.wait();

  EXPECT_EQ(run.exit_code, kOk) << shown(run);
  EXPECT_TRUE(contains(run.err, "job type 'foo' was paused by ")) << run.err;
  EXPECT_TRUE(contains(run.err, ": deploy; stopping")) << run.err;
}

// ---- retention --------------------------------------------------------------------

TEST_F(JobctlMaintenanceTest, a_runner_with_retention_prunes_its_old_finished_jobs) {
  const auto old_done = finished_job_with_everything(kCompleted, "10 days");
  const auto old_cancelled = job_in(kCancelled, "10 days");
  const auto recent = job_in(kFailed, "1 hour");
  const auto suspended = job_in(kSuspended);
  db.sql("UPDATE job SET date_finished = now() - interval '30 days' WHERE id = $1", suspended);
  db.sql("SELECT jobrunner_register_type(name => 'other', display_name => 'OtherJob', "
         "package => 'test')");
  db.sql("INSERT INTO job (job_type, status, date_finished) "
         "VALUES ('other', 2, now() - interval '30 days')");
  const auto old_run = run_of("foo", "10 days", "10 days");
  const auto old_run_without_end = run_of("foo", "10 days", std::nullopt);
  const auto recent_run = run_of("foo", "1 hour", "1 hour");
  const auto other_run = run_of("noop", "10 days", "10 days");

  const auto run = run_foo_jobs({"--retention", "7d"});

  ASSERT_EQ(run.exit_code, kOk) << shown(run);
  EXPECT_TRUE(contains(run.err, "Pruned 2 finished FooJobs and 1 ended runner runs"));
  EXPECT_FALSE(run_exists(old_run));
  EXPECT_TRUE(run_exists(old_run_without_end)) << "a runner never prunes a run without an end";
  EXPECT_TRUE(run_exists(recent_run));
  EXPECT_TRUE(run_exists(other_run)) << "a runner prunes only its own type's runs";
  EXPECT_EQ(count("SELECT count(*) FROM runner_run WHERE job_type = 'foo' AND "
                  "date_started > now() - interval '1 minute'"),
            1)
      << "this run itself is recorded";
  EXPECT_FALSE(exists(old_done));
  EXPECT_EQ(leftovers_of(old_done), 0);
  EXPECT_FALSE(exists(old_cancelled));
  EXPECT_TRUE(exists(recent));
  EXPECT_TRUE(exists(suspended));
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE job_type = 'other'"), 1)
      << "a runner prunes only its own type";
}

TEST_F(JobctlMaintenanceTest, the_runner_role_has_the_grants_for_pauses_and_retention) {
  // Roles are cluster-wide: another test may be creating them at this moment.
  auto permissions = jobctl({"db", "permissions"});
  if (permissions.exit_code != kOk) permissions = jobctl({"db", "permissions"});
  ASSERT_EQ(permissions.exit_code, kOk) << shown(permissions);
  const auto old_done = finished_job_with_everything(kFailed, "10 days");
  const auto old_run = run_of("foo", "10 days", "10 days");
  const auto id = enqueue();

  const auto run = run_foo_jobs({"--retention", "1d"}, "jobrunner_foo_runner");

  ASSERT_EQ(run.exit_code, kOk) << shown(run);
  EXPECT_FALSE(exists(old_done));
  EXPECT_FALSE(run_exists(old_run));
  EXPECT_EQ(leftovers_of(old_done), 0);
  EXPECT_EQ(status_of(id), kCompleted);

  ASSERT_EQ(jobctl({"pause", "foo"}).exit_code, kOk);
  const auto paused = run_foo_jobs({}, "jobrunner_foo_runner");
  EXPECT_EQ(paused.exit_code, kOk) << shown(paused);
  EXPECT_TRUE(contains(paused.err, "is paused by"));
}

TEST_F(JobctlMaintenanceTest, a_malformed_retention_is_a_usage_error) {
  const auto run = run_foo_jobs({"--retention", "forever"});

  EXPECT_EQ(run.exit_code, kUsage) << shown(run);
  EXPECT_TRUE(contains(run.err, "invalid duration 'forever'"));
}

}  // namespace
}  // namespace jobrunner::jobctl_test
