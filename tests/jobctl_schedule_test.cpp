// jobctl schedule add | list | show | pause | resume | remove | next | tick
// through the real jobctl against the real PostgreSQL, with the test clock
// (JOBRUNNER_TEST_NOW) driving simulated time: adding and reading
// schedules, bad input refused with nothing written, occurrences enqueued
// exactly once (also by 4 racing processes over a simulated hour), a
// duplicate pending job recorded as skipped, every misfire policy after an
// outage, pause and resume, removal, pruning and the grants of a runner.
#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "jobctl_fixture.hpp"

namespace jobrunner::jobctl_test {
namespace {

using testing::start_program;
using testing::wait_program;

class JobctlScheduleTest : public JobctlTest {
 protected:
  // jobctl at the simulated time `now` (ISO 8601), as `user` if given.
  ProcessResult at(const std::string& now, std::vector<std::string> args,
                   const std::optional<std::string>& user = std::nullopt) {
    args.insert(args.begin(), {bin("jobctl"), "--db", db.conninfo(user)});
    return run_program(args, {{"JOBRUNNER_TEST_NOW", now}, {"JOBRUNNER_ALLOW_TEST_CLOCK", "1"}});
  }
  ProcessResult tick(const std::string& now) { return at(now, {"schedule", "tick"}); }

  // Adds a schedule at `now`; fails the test if refused.
  void add(const std::string& now, std::vector<std::string> args) {
    args.insert(args.begin(), {"schedule", "add"});
    const auto result = at(now, args);
    ASSERT_EQ(result.exit_code, kOk) << shown(result);
  }
  std::string noop_target() { return std::to_string(db.make_foo()); }

  std::int64_t jobs_of(const std::string& schedule) {
    return count("SELECT count(*) FROM job WHERE requester = 'schedule:" + schedule + "'");
  }
  // The occurrences of a schedule that enqueued a job, in order.
  std::vector<std::string> enqueued(const std::string& schedule) {
    std::vector<std::string> out;
    for (const auto& row : db.sql(
             "SELECT to_char(o.occurs_at AT TIME ZONE 'UTC', 'HH24:MI') AS t "
             "FROM job_schedule_occurrence o JOIN job_schedule s ON s.id = o.schedule "
             "WHERE s.name = $1 AND o.job IS NOT NULL ORDER BY o.occurs_at",
             schedule)) {
      out.push_back(row.text("t"));
    }
    return out;
  }
  std::string skipped_reasons(const std::string& schedule) {
    return db.sql("SELECT coalesce(string_agg(o.skipped, ' | ' ORDER BY o.occurs_at), '') AS r "
                  "FROM job_schedule_occurrence o JOIN job_schedule s ON s.id = o.schedule "
                  "WHERE s.name = $1 AND o.job IS NULL",
                  schedule)
        .front()
        .text("r");
  }
};

using Strings = std::vector<std::string>;

// ---- adding and reading ------------------------------------------------------------

TEST_F(JobctlScheduleTest, add_computes_the_next_due_time_in_the_zone_and_list_show_next_print_it) {
  const auto foo = std::to_string(db.make_foo());
  const auto added = at("2026-01-05T10:07:00Z",
                        {"schedule", "add", "polish-foo", "--type", "foo", "--target", foo,
                         "--json", R"({"work_ms": 1})", "--cron", "*/15 * * * *", "--zone",
                         "Europe/Berlin", "--misfire", "all", "--misfire-limit", "7"});
  ASSERT_EQ(added.exit_code, kOk) << shown(added);
  EXPECT_TRUE(contains(added.out, "next due 2026-01-05 11:15:00+01:00 CET (2026-01-05T10:15:00Z)"))
      << shown(added);
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule WHERE name = 'polish-foo' AND "
                  "next_due = '2026-01-05T10:15:00Z' AND misfire = 'all' AND misfire_limit = 7 "
                  "AND metadata = '{\"work_ms\": 1}' AND target = " + foo),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM job"), 0);  // the trial enqueue was undone

  const auto list = jobctl({"schedule", "list"});
  ASSERT_EQ(list.exit_code, kOk) << shown(list);
  EXPECT_TRUE(contains(list.out, "polish-foo"));
  EXPECT_TRUE(contains(list.out, "2026-01-05T10:15:00Z"));
  EXPECT_TRUE(contains(list.out, "LAST OCCURRENCE"));

  const auto next = at("2026-01-05T10:07:00Z", {"schedule", "next", "polish-foo", "-n", "3"});
  ASSERT_EQ(next.exit_code, kOk) << shown(next);
  const auto lines = lines_of(next.out);
  ASSERT_EQ(lines.size(), 5u) << shown(next);  // header, rule, 3 times
  EXPECT_TRUE(contains(lines[2], "2026-01-05 11:15:00+01:00 CET"));
  EXPECT_TRUE(contains(lines[2], "2026-01-05T10:15:00Z"));
  EXPECT_TRUE(contains(lines[4], "2026-01-05T10:45:00Z"));

  const auto show = jobctl({"schedule", "show", "polish-foo"});
  ASSERT_EQ(show.exit_code, kOk) << shown(show);
  EXPECT_TRUE(contains(show.out, "*/15 * * * * in Europe/Berlin"));
  EXPECT_TRUE(contains(show.out, "all (limit 7, grace 5m)"));
  EXPECT_TRUE(contains(show.out, "(none yet)"));

  const auto json = jobctl({"schedule", "show", "polish-foo", "--json"});
  ASSERT_EQ(json.exit_code, kOk) << shown(json);
  const auto parsed = nlohmann::json::parse(json.out);
  EXPECT_EQ(parsed["next_due"], "2026-01-05T10:15:00Z");
  EXPECT_EQ(parsed["target"].get<std::int64_t>(), std::stoll(foo));
}

TEST_F(JobctlScheduleTest, next_tries_an_expression_across_a_daylight_saving_change) {
  const auto next = at("2026-03-28T12:00:00Z", {"schedule", "next", "--cron", "30 2 * * *",
                                                "--zone", "Europe/Berlin", "-n", "2"});
  ASSERT_EQ(next.exit_code, kOk) << shown(next);
  EXPECT_TRUE(contains(next.out, "2026-03-29 03:00:00+02:00 CEST")) << shown(next);  // the gap
  EXPECT_TRUE(contains(next.out, "2026-03-30 02:30:00+02:00 CEST")) << shown(next);
}

// ---- refused input: exit code, message, nothing written ----------------------------

TEST_F(JobctlScheduleTest, bad_expressions_zones_types_targets_and_names_are_refused) {
  const auto foo = std::to_string(db.make_foo());
  add("2026-01-05T10:00:00Z", {"taken", "--type", "noop", "--target", foo, "--cron", "@daily"});
  const auto before = count("SELECT count(*) FROM job_schedule");
  struct Case {
    Strings args;
    int code;
    Strings parts;
  };
  const std::vector<Case> cases = {
      {{"s1", "--type", "foo", "--target", foo, "--cron", "0 25 * * *"},
       kDataError,
       {"hour field \"25\"", "out of range 0-23"}},
      {{"s1", "--type", "foo", "--target", foo, "--cron", "* * * *"},
       kDataError,
       {"expected 5 fields"}},
      {{"s1", "--type", "foo", "--target", foo, "--cron", "0 0 30 2 *"},
       kDataError,
       {"never exist"}},
      {{"s1", "--type", "foo", "--target", foo, "--cron", "@daily", "--zone", "Europe/Berln"},
       kDataError,
       {"unknown time zone \"Europe/Berln\""}},
      {{"s1", "--type", "nosuch", "--cron", "@daily"}, kDataError, {"unknown job type 'nosuch'"}},
      {{"s1", "--type", "foo", "--cron", "@daily"}, kDataError, {"no target"}},
      {{"s1", "--type", "foo", "--target", "999999", "--cron", "@daily"},
       kDataError,
       {"there is no foo with id 999999"}},
      {{"Bad Name", "--type", "foo", "--target", foo, "--cron", "@daily"},
       kDataError,
       {"schedule name 'Bad Name' is not valid"}},
      {{"s1", "--type", "foo", "--target", foo, "--cron", "@daily", "--json", "[1]"},
       kDataError,
       {"--json must be a JSON object"}},
      {{"s1", "--type", "foo", "--target", foo, "--cron", "@daily", "--misfire-grace", "2d"},
       kDataError,
       {"misfire grace"}},
      {{"taken", "--type", "foo", "--target", foo, "--cron", "@daily"},
       kDataError,
       {"a schedule named 'taken' exists already"}},
      {{"s1", "--type", "foo", "--target", foo, "--cron", "@daily", "--misfire", "latest"},
       kUsage,
       {"--misfire"}},
      {{"s1", "--type", "foo", "--target", foo}, kUsage, {"--cron"}},
  };
  for (const auto& c : cases) {
    Strings args = {"schedule", "add"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const auto before_snapshot = snapshot();
    const auto result = at("2026-01-05T10:00:00Z", args);
    SCOPED_TRACE(c.args.back());
    expect_refused(result, c.code, c.parts);
    EXPECT_EQ(count("SELECT count(*) FROM job_schedule"), before);
    EXPECT_EQ(snapshot(), before_snapshot);
  }
}

TEST_F(JobctlScheduleTest, the_test_clock_is_refused_unless_explicitly_allowed) {
  add("2026-01-05T09:59:00Z",
      {"every-minute", "--type", "noop", "--target", noop_target(), "--cron", "* * * * *"});
  const auto result =
      run_program({bin("jobctl"), "--db", db.conninfo(), "schedule", "tick"},
                  {{"JOBRUNNER_TEST_NOW", "2026-01-05T10:30:00Z"},
                   {"JOBRUNNER_ALLOW_TEST_CLOCK", std::nullopt}});
  expect_refused(result, 78, {"JOBRUNNER_TEST_NOW", "JOBRUNNER_ALLOW_TEST_CLOCK=1"});
  EXPECT_EQ(count("SELECT count(*) FROM job"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule_occurrence"), 0);
}

// ---- the tick ----------------------------------------------------------------------

TEST_F(JobctlScheduleTest, a_due_occurrence_is_enqueued_once) {
  add("2026-01-05T09:59:30Z",
      {"every-minute", "--type", "noop", "--target", noop_target(), "--cron", "* * * * *"});
  const auto early = tick("2026-01-05T09:59:50Z");
  ASSERT_EQ(early.exit_code, kOk) << shown(early);
  EXPECT_TRUE(contains(early.out, "enqueued 0 jobs")) << shown(early);

  const auto first = tick("2026-01-05T10:00:10Z");
  ASSERT_EQ(first.exit_code, kOk) << shown(first);
  EXPECT_TRUE(contains(first.out, "every-minute 2026-01-05T10:00:00Z: enqueued job")) << shown(first);
  const auto again = tick("2026-01-05T10:00:20Z");
  ASSERT_EQ(again.exit_code, kOk) << shown(again);
  EXPECT_TRUE(contains(again.out, "enqueued 0 jobs")) << shown(again);

  EXPECT_EQ(enqueued("every-minute"), Strings{"10:00"});
  EXPECT_EQ(jobs_of("every-minute"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE reason = "
                  "'schedule every-minute, occurrence 2026-01-05T10:00:00Z' AND status = 0"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule WHERE last_occurrence = "
                  "'2026-01-05T10:00:00Z' AND next_due = '2026-01-05T10:01:00Z'"),
            1);
  const auto list = jobctl({"schedule", "list"});
  EXPECT_TRUE(contains(list.out, "2026-01-05T10:00:00Z job ")) << shown(list);
}

TEST_F(JobctlScheduleTest, a_duplicate_pending_job_is_recorded_as_a_skipped_occurrence) {
  const auto foo = std::to_string(db.make_foo());
  add("2026-01-05T09:59:30Z",
      {"foo-minutely", "--type", "foo", "--target", foo, "--cron", "* * * * *"});
  ASSERT_EQ(tick("2026-01-05T10:00:05Z").exit_code, kOk);
  const auto pending = count("SELECT max(id) FROM job");
  const auto second = tick("2026-01-05T10:01:05Z");
  ASSERT_EQ(second.exit_code, kOk) << shown(second);
  EXPECT_TRUE(contains(second.out, "skipped: a FooJob for foo " + foo + " is already pending (job " +
                                       std::to_string(pending) + ")"))
      << shown(second);
  EXPECT_EQ(jobs_of("foo-minutely"), 1);
  EXPECT_EQ(enqueued("foo-minutely"), Strings{"10:00"});
  EXPECT_TRUE(contains(skipped_reasons("foo-minutely"), "already pending"));
  const auto show = jobctl({"schedule", "show", "foo-minutely"});
  EXPECT_TRUE(contains(show.out, "2026-01-05T10:01:00Z")) << shown(show);
  EXPECT_TRUE(contains(show.out, "is already pending")) << shown(show);
  // The schedule moved on all the same.
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule WHERE next_due = '2026-01-05T10:02:00Z'"), 1);
}

TEST_F(JobctlScheduleTest, every_misfire_policy_after_an_outage) {
  const auto target = noop_target();
  for (const auto& [name, extra] : std::vector<std::pair<std::string, Strings>>{
           {"h-skip", {"--misfire", "skip"}},
           {"h-once", {"--misfire", "once"}},
           {"h-all", {"--misfire", "all"}},
           {"h-all-3", {"--misfire", "all", "--misfire-limit", "3"}}}) {
    Strings args = {name, "--type", "noop", "--target", target, "--cron", "@hourly"};
    args.insert(args.end(), extra.begin(), extra.end());
    add("2026-01-05T09:30:00Z", args);
  }
  // Nothing ticked from 09:30 to 15:02: 10:00 ... 14:00 were missed (more
  // than 5 minutes late), 15:00 is on time.
  const auto result = tick("2026-01-05T15:02:00Z");
  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(enqueued("h-skip"), Strings{"15:00"});
  EXPECT_EQ(enqueued("h-once"), (Strings{"14:00", "15:00"}));
  EXPECT_EQ(enqueued("h-all"), (Strings{"10:00", "11:00", "12:00", "13:00", "14:00", "15:00"}));
  EXPECT_EQ(enqueued("h-all-3"), (Strings{"12:00", "13:00", "14:00", "15:00"}));
  EXPECT_TRUE(contains(skipped_reasons("h-skip"),
                       "missed: 5 occurrences from 2026-01-05T10:00:00Z to 2026-01-05T14:00:00Z"));
  EXPECT_TRUE(contains(skipped_reasons("h-skip"), "misfire policy skip"));
  EXPECT_TRUE(contains(skipped_reasons("h-once"), "missed: 4 occurrences"));
  EXPECT_TRUE(contains(skipped_reasons("h-all-3"), "missed: 2 occurrences"));
  EXPECT_EQ(skipped_reasons("h-all"), "");
  EXPECT_TRUE(contains(result.out, "h-skip: left out 5 missed occurrences")) << shown(result);
  EXPECT_TRUE(contains(result.err, "left out")) << shown(result);
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule WHERE next_due = '2026-01-05T16:00:00Z'"), 4);
}

TEST_F(JobctlScheduleTest, tick_type_ticks_only_that_types_schedules_and_a_gone_target_is_a_skip) {
  const auto foo = db.make_foo("short-lived");
  add("2026-01-05T09:59:30Z", {"of-foo", "--type", "foo", "--target", std::to_string(foo),
                               "--cron", "* * * * *"});
  add("2026-01-05T09:59:30Z",
      {"of-noop", "--type", "noop", "--target", noop_target(), "--cron", "* * * * *"});
  const auto noop_only = at("2026-01-05T10:00:05Z", {"schedule", "tick", "--type", "noop"});
  ASSERT_EQ(noop_only.exit_code, kOk) << shown(noop_only);
  EXPECT_EQ(enqueued("of-noop"), Strings{"10:00"});
  EXPECT_EQ(jobs_of("of-foo"), 0);

  // The foo goes away: the enqueue is refused, recorded, and the schedule goes on.
  db.sql("DELETE FROM foo WHERE id = $1", foo);
  const auto result = at("2026-01-05T10:00:10Z", {"schedule", "tick", "--type", "foo"});
  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(skipped_reasons("of-foo"),
                       "the enqueue was refused: there is no foo with id " + std::to_string(foo)))
      << skipped_reasons("of-foo");
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule WHERE name = 'of-foo' AND "
                  "next_due = '2026-01-05T10:01:00Z'"),
            1);
}

// 4 processes tick minute by minute over a simulated hour, each with its
// own clock (so they run ahead of and behind each other): every occurrence
// gets exactly one job, whatever the interleaving.
TEST_F(JobctlScheduleTest, four_racing_tickers_enqueue_each_occurrence_exactly_once) {
  add("2026-01-05T09:59:30Z", {"race", "--type", "noop", "--target", noop_target(), "--cron",
                               "* * * * *", "--misfire", "all"});
  const std::string loop =
      "i=0; while [ $i -le 60 ]; do "
      "  h=10; m=$i; if [ $i -eq 60 ]; then h=11; m=0; fi; "
      "  JOBRUNNER_TEST_NOW=$(printf '2026-01-05T%02d:%02d:%02dZ' $h $m $1) "
      "    \"$JOBCTL\" --db \"$JOBCTL_DB\" schedule tick >/dev/null || exit 1; "
      "  i=$((i + 1)); "
      "done";
  std::vector<int> pids;
  for (const char* second : {"5", "20", "35", "50"}) {
    pids.push_back(start_program({"/bin/sh", "-c", loop, "racer", second},
                                 {{"JOBCTL", bin("jobctl")},
                                  {"JOBCTL_DB", db.conninfo()},
                                  {"JOBRUNNER_ALLOW_TEST_CLOCK", "1"}}));
  }
  for (const int pid : pids) {
    const auto result = wait_program(pid);
    EXPECT_EQ(result.exit_code, 0) << shown(result);
  }
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule_occurrence WHERE job IS NOT NULL"), 61);
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule_occurrence WHERE job IS NULL"), 0);
  EXPECT_EQ(count("SELECT count(DISTINCT job) FROM job_schedule_occurrence"), 61);
  EXPECT_EQ(count("SELECT count(*) FROM job"), 61);
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule_occurrence WHERE occurs_at BETWEEN "
                  "'2026-01-05T10:00:00Z' AND '2026-01-05T11:00:00Z'"),
            61);
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule WHERE next_due = '2026-01-05T11:01:00Z'"), 1);
}

TEST_F(JobctlScheduleTest, due_now_makes_the_latest_occurrence_the_first_and_a_tick_enqueues_it) {
  const auto added = at("2026-01-05T10:07:20Z", {"schedule", "add", "now", "--type", "noop",
                                                 "--target", noop_target(), "--cron",
                                                 "*/5 * * * *", "--due-now"});
  ASSERT_EQ(added.exit_code, kOk) << shown(added);
  EXPECT_TRUE(contains(added.out, "next due 2026-01-05T10:05:00Z")) << shown(added);
  ASSERT_EQ(tick("2026-01-05T10:07:30Z").exit_code, kOk);
  EXPECT_EQ(enqueued("now"), Strings{"10:05"});
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule WHERE next_due = '2026-01-05T10:10:00Z'"), 1);
  // Longer ago than the grace: the misfire policy decides (once: a catch-up).
  add("2026-01-05T10:07:20Z", {"daily", "--type", "noop", "--target", noop_target(), "--cron",
                               "0 3 * * *", "--due-now"});
  const auto late = tick("2026-01-05T10:07:40Z");
  ASSERT_EQ(late.exit_code, kOk) << shown(late);
  EXPECT_TRUE(contains(late.out, "daily 2026-01-05T03:00:00Z: enqueued job")) << shown(late);
  EXPECT_TRUE(contains(late.out, "caught up by misfire policy once")) << shown(late);
  expect_refused(at("2026-01-05T10:07:20Z", {"schedule", "add", "p", "--type", "noop", "--target",
                                             noop_target(), "--cron", "* * * * *", "--due-now",
                                             "--paused"}),
                 kUsage, {"excludes"});
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule WHERE name = 'p'"), 0);
}

// ---- pause, resume, remove ---------------------------------------------------------

TEST_F(JobctlScheduleTest, a_paused_schedule_is_not_ticked_and_resumes_without_a_backlog) {
  add("2026-01-05T09:30:00Z",
      {"hourly", "--type", "noop", "--target", noop_target(), "--cron", "@hourly", "--misfire", "all"});
  const auto pause = jobctl({"schedule", "pause", "hourly"});
  ASSERT_EQ(pause.exit_code, kOk) << shown(pause);
  expect_refused(jobctl({"schedule", "pause", "hourly"}), kDataError, {"paused already"});
  ASSERT_EQ(tick("2026-01-05T12:30:00Z").exit_code, kOk);
  EXPECT_EQ(jobs_of("hourly"), 0);

  const auto resume = at("2026-01-05T12:30:00Z", {"schedule", "resume", "hourly"});
  ASSERT_EQ(resume.exit_code, kOk) << shown(resume);
  EXPECT_TRUE(contains(resume.out, "next due 2026-01-05T13:00:00Z")) << shown(resume);
  expect_refused(jobctl({"schedule", "resume", "hourly"}), kDataError, {"is not paused"});
  ASSERT_EQ(tick("2026-01-05T12:40:00Z").exit_code, kOk);
  EXPECT_EQ(jobs_of("hourly"), 0);
  ASSERT_EQ(tick("2026-01-05T13:00:10Z").exit_code, kOk);
  EXPECT_EQ(enqueued("hourly"), Strings{"13:00"});  // not 10:00, 11:00, 12:00
}

TEST_F(JobctlScheduleTest, removing_a_schedule_leaves_its_jobs_alone) {
  add("2026-01-05T09:59:30Z",
      {"gone", "--type", "noop", "--target", noop_target(), "--cron", "* * * * *"});
  ASSERT_EQ(tick("2026-01-05T10:01:10Z").exit_code, kOk);
  ASSERT_EQ(jobs_of("gone"), 2);
  const auto removed = jobctl({"schedule", "remove", "gone"});
  ASSERT_EQ(removed.exit_code, kOk) << shown(removed);
  EXPECT_TRUE(contains(removed.out, "its 2 occurrence records")) << shown(removed);
  EXPECT_EQ(jobs_of("gone"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule_occurrence"), 0);
  expect_refused(jobctl({"schedule", "show", "gone"}), kDataError, {"no schedule named 'gone'"});
  expect_refused(jobctl({"schedule", "remove", "gone"}), kDataError, {"no schedule named 'gone'"});
}

// ---- pruning and grants ------------------------------------------------------------

TEST_F(JobctlScheduleTest, prune_removes_old_occurrence_records_with_their_jobs) {
  const auto foo = std::to_string(db.make_foo());
  add("2026-01-05T09:59:30Z", {"p", "--type", "foo", "--target", foo, "--cron", "* * * * *"});
  ASSERT_EQ(tick("2026-01-05T10:00:05Z").exit_code, kOk);  // a job
  ASSERT_EQ(tick("2026-01-05T10:01:05Z").exit_code, kOk);  // skipped: pending
  ASSERT_EQ(tick("2026-01-05T10:02:05Z").exit_code, kOk);  // skipped: pending
  // The job finished long ago; one skipped record is old, one recent.
  db.sql("UPDATE job SET status = 2, date_finished = now() - interval '40 days'");
  db.sql("UPDATE job_schedule_occurrence SET date_recorded = now() - interval '40 days' "
         "WHERE occurs_at = '2026-01-05T10:01:00Z'");
  const auto dry = jobctl({"prune", "--older-than", "30d", "--dry-run"});
  ASSERT_EQ(dry.exit_code, kOk) << shown(dry);
  EXPECT_TRUE(contains(dry.out, "would delete 1 skipped schedule occurrence record")) << shown(dry);
  EXPECT_EQ(count("SELECT count(*) FROM job_schedule_occurrence"), 3);

  const auto pruned = jobctl({"prune", "--older-than", "30d"});
  ASSERT_EQ(pruned.exit_code, kOk) << shown(pruned);
  EXPECT_EQ(count("SELECT count(*) FROM job"), 0);
  Strings left;
  for (const auto& row : db.sql("SELECT to_char(occurs_at AT TIME ZONE 'UTC', 'HH24:MI') AS t "
                                "FROM job_schedule_occurrence ORDER BY occurs_at")) {
    left.push_back(row.text("t"));
  }
  EXPECT_EQ(left, Strings{"10:02"});  // the job's went with it, the old skipped one too
  // A pruned record never fires again: the schedule looks after next_due only.
  ASSERT_EQ(tick("2026-01-05T10:02:30Z").exit_code, kOk);
  EXPECT_EQ(count("SELECT count(*) FROM job"), 0);
}

TEST_F(JobctlScheduleTest, a_runner_role_has_the_grants_to_tick_its_schedules) {
  const auto permissions = jobctl({"db", "permissions"});
  ASSERT_EQ(permissions.exit_code, kOk) << shown(permissions);
  const auto foo = std::to_string(db.make_foo());
  add("2026-01-05T09:59:30Z", {"by-runner", "--type", "foo", "--target", foo, "--cron",
                               "* * * * *"});
  const auto first = at("2026-01-05T10:00:05Z", {"schedule", "tick", "--type", "foo"},
                        "jobrunner_foo_runner");
  ASSERT_EQ(first.exit_code, kOk) << shown(first);
  const auto second = at("2026-01-05T10:01:05Z", {"schedule", "tick", "--type", "foo"},
                         "jobrunner_foo_runner");
  ASSERT_EQ(second.exit_code, kOk) << shown(second);
  EXPECT_EQ(enqueued("by-runner"), Strings{"10:00"});
  EXPECT_TRUE(contains(skipped_reasons("by-runner"), "already pending"));
  const auto prune = run_foo_jobs({"--retention", "1d"}, "jobrunner_foo_runner");
  EXPECT_EQ(prune.exit_code, kOk) << shown(prune);
  // An enqueuer may not tick.
  const auto denied = at("2026-01-05T10:02:05Z", {"schedule", "tick"}, "jobrunner_foo_enqueuer");
  EXPECT_EQ(denied.exit_code, 78) << shown(denied);
}

}  // namespace
}  // namespace jobrunner::jobctl_test
