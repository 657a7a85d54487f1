// Runners tick their type's recurring schedules (docs/schedules.md#who-ticks),
// through the real runner executables with the test clock: a cron-mode run
// enqueues what is due and runs it; 4 daemons racing over a simulated hour
// enqueue each occurrence once; a daemon's timer fires at the next due time
// with no poll to help it; a cron run after an outage applies the misfire
// policy; a runner of another type leaves the schedule alone; and a role
// that may not tick still runs its jobs, with a warning.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jobrunner/pg/permissions.hpp"
#include "jobrunner/pg/schedules.hpp"
#include "noop/noop_job.hpp"
#include "runner_process_test.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::Program;

class RunnerScheduleTest : public testing::RunnerProcessTest {
 protected:
  // Adds a schedule of NoopJobs (their target is a foo) at the simulated
  // time `now`.
  void add_noop_schedule(const std::string& name, const std::string& cron, const std::string& now,
                         MisfirePolicy misfire = MisfirePolicy::once) {
    pg::NewSchedule s;
    s.name = name;
    s.job_type = "noop";
    s.target = db.make_foo();
    s.cron = cron;
    s.misfire = misfire;
    auto conn = db.connect();
    auto tx = conn.begin();
    (void)pg::add_schedule(tx, s, now);
    tx.commit();
  }

  // A test clock file that daemons read at each tick (JOBRUNNER_TEST_NOW=@file).
  struct ClockFile {
    std::filesystem::path path;
    explicit ClockFile(const std::string& now)
        : path(std::filesystem::temp_directory_path() /
               ("jobrunner-clock-" + std::to_string(getpid()) + "-" +
                std::to_string(reinterpret_cast<std::uintptr_t>(this)))) {
      set(now);
    }
    ~ClockFile() { std::filesystem::remove(path); }
    // Written whole, then renamed over the old one: a reader sees one or
    // the other.
    void set(const std::string& now) const {
      const auto next = path.string() + ".next";
      std::ofstream(next) << now << "\n";
      std::filesystem::rename(next, path);
    }
    std::map<std::string, std::optional<std::string>> env() const {
      return {{"JOBRUNNER_TEST_NOW", "@" + path.string()}, {"JOBRUNNER_ALLOW_TEST_CLOCK", "1"}};
    }
  };

  static std::map<std::string, std::optional<std::string>> at(const std::string& now) {
    return {{"JOBRUNNER_TEST_NOW", now}, {"JOBRUNNER_ALLOW_TEST_CLOCK", "1"}};
  }

  std::int64_t count(const std::string& sql) const { return db.scalar(sql); }
  std::int64_t occurrences_with_jobs() const {
    return count("SELECT count(*) FROM job_schedule_occurrence WHERE job IS NOT NULL");
  }
};

TEST_F(RunnerScheduleTest, a_cron_run_enqueues_the_due_occurrence_and_runs_it) {
  add_noop_schedule("every-minute", "* * * * *", "2026-01-05T09:59:30Z");
  // A runner of another type leaves it alone.
  const auto foo_run = testing::run_program(runner_argv({}, "foo"), at("2026-01-05T10:00:05Z"));
  ASSERT_EQ(foo_run.exit_code, 0) << foo_run.err;
  EXPECT_EQ(count("SELECT count(*) FROM job"), 0);

  const auto run = testing::run_program(runner_argv({}, "noop"), at("2026-01-05T10:00:05Z"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("schedule 'every-minute' 2026-01-05T10:00:00Z: enqueued noop job"),
            std::string::npos)
      << run.err;
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE job_type = 'noop' AND status = 2 AND "
                  "requester = 'schedule:every-minute'"),
            1);
  EXPECT_NE(run.err.find("Ran 1 NoopJobs."), std::string::npos) << run.err;
  // The same minute again: recorded already, nothing more.
  const auto again = testing::run_program(runner_argv({}, "noop"), at("2026-01-05T10:00:40Z"));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(count("SELECT count(*) FROM job"), 1);
}

TEST_F(RunnerScheduleTest, a_cron_run_after_an_outage_applies_the_misfire_policy) {
  add_noop_schedule("five", "*/5 * * * *", "2026-01-05T09:59:30Z", MisfirePolicy::once);
  ASSERT_EQ(testing::run_program(runner_argv({}, "noop"), at("2026-01-05T10:00:05Z")).exit_code, 0);
  // Nothing ran from 10:00:05 to 11:02: 11:00 is on time (within the 5 min
  // grace); 10:05 .. 10:55 are missed, and once keeps the latest of them.
  const auto run = testing::run_program(runner_argv({}, "noop"), at("2026-01-05T11:02:00Z"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("2026-01-05T10:55:00Z: enqueued noop job"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("caught up by misfire policy once"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("2026-01-05T11:00:00Z: enqueued noop job"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("misfire policy once left out 10 missed occurrences from "
                         "2026-01-05T10:05:00Z to 2026-01-05T10:50:00Z"),
            std::string::npos)
      << run.err;
  EXPECT_EQ(occurrences_with_jobs(), 3);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE status = 2"), 3);
}

// 4 daemons on one simulated clock that the test moves minute by minute:
// each occurrence is enqueued once and run once, whichever daemon ticks.
TEST_F(RunnerScheduleTest, four_racing_daemons_enqueue_each_occurrence_of_an_hour_once) {
  add_noop_schedule("race", "* * * * *", "2026-01-05T09:59:30Z", MisfirePolicy::all);
  const ClockFile clock("2026-01-05T09:59:40Z");
  std::vector<std::unique_ptr<Program>> daemons;
  for (int i = 0; i < 4; ++i) {
    daemons.push_back(std::make_unique<Program>(
        runner_argv({"--daemon", "--poll-interval", "100ms"}, "noop"), clock.env()));
  }
  for (int minute = 0; minute <= 60; ++minute) {
    char now[32];
    std::snprintf(now, sizeof now, "2026-01-05T%02d:%02d:05Z", 10 + minute / 60, minute % 60);
    clock.set(now);
    ASSERT_TRUE(eventually([&] { return occurrences_with_jobs() == minute + 1; }))
        << "minute " << minute << ": " << occurrences_with_jobs() << " occurrences enqueued";
  }
  ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM job WHERE status = 2") == 61; }));
  for (auto& daemon : daemons) {
    daemon->signal(SIGTERM);
    ASSERT_TRUE(daemon->exited_within(60s));
    const auto result = daemon->wait();
    EXPECT_EQ(result.exit_code, 0) << result.err;
  }
  EXPECT_EQ(count("SELECT count(*) FROM job"), 61);
  EXPECT_EQ(count("SELECT count(DISTINCT job) FROM job_schedule_occurrence"), 61);
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule_occurrence WHERE job IS NULL"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE attempt_count <> 1"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule WHERE next_due = '2026-01-05T11:01:00Z'"), 1);
}

// With a poll interval of an hour only the daemon's schedule timer can
// tick: at its start it learns that the next occurrence is due in 1 s and
// wakes then (and, should it wake before the test moved the clock, again a
// second later).
TEST_F(RunnerScheduleTest, a_daemon_wakes_at_the_next_due_time_without_polling) {
  add_noop_schedule("timer", "* * * * *", "2026-01-05T09:59:30Z");
  const ClockFile clock("2026-01-05T09:59:59Z");
  Program daemon(runner_argv({"--daemon", "--poll-interval", "1h", "--log-level", "debug"}, "noop"),
                 clock.env());
  ASSERT_TRUE(daemon.logged_within("schedules of job type 'noop': the next is due in 1s"))
      << daemon.stderr_so_far();
  EXPECT_EQ(count("SELECT count(*) FROM job"), 0);
  clock.set("2026-01-05T10:00:00Z");
  ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM job WHERE status = 2") == 1; }))
      << daemon.stderr_so_far();
  daemon.signal(SIGTERM);
  ASSERT_TRUE(daemon.exited_within(60s));
  EXPECT_EQ(daemon.wait().exit_code, 0);
}

TEST_F(RunnerScheduleTest, a_role_that_may_not_tick_runs_its_jobs_and_warns) {
  {
    auto conn = db.connect();
    pg::apply_permissions(conn, pg::parse_security_config(pg::embedded_security_config()));
  }
  db.sql("REVOKE UPDATE ON job_schedule FROM jobrunner_noop_runner");
  add_noop_schedule("denied", "* * * * *", "2026-01-05T09:59:30Z");
  const auto foo = db.make_foo();
  {
    auto conn = db.connect();
    auto tx = conn.begin();
    (void)pg::JobStore(noop::noop_job_type().spec).enqueue(tx, {.target_id = foo});
    tx.commit();
  }
  std::vector<std::string> argv{testing::bin("run-noop-jobs"), "--db",
                                db.conninfo("jobrunner_noop_runner")};
  const auto run = testing::run_program(argv, at("2026-01-05T10:00:05Z"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("may not tick the schedules of job type 'noop'"), std::string::npos)
      << run.err;
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE status = 2"), 1);  // its own job ran
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule_occurrence"), 0);
}

}  // namespace
}  // namespace jobrunner
