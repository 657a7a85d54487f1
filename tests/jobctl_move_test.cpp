// jobctl suspend | resume | retry | cancel: by id or by filter, all or
// nothing, every refused move naming the job and both states.
#include <set>
#include <string>
#include <vector>

#include "jobctl_fixture.hpp"

namespace jobrunner::jobctl_test {
namespace {

class JobctlMoveTest : public JobctlTest {};

TEST_F(JobctlMoveTest, cancel_finishes_a_waiting_job_with_its_reason_and_the_runner_skips_it) {
  const auto id = enqueue();

  const auto result = jobctl({"cancel", std::to_string(id), "--reason", "asked by mistake"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.out, "WAITING"));
  EXPECT_TRUE(contains(result.out, "CANCELLED"));
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE id = " + std::to_string(id) +
                  " AND status = 5 AND date_finished IS NOT NULL AND reason = 'asked by mistake' "
                  "AND log LIKE '%moved from WAITING to CANCELLED by an operator (cancel): "
                  "asked by mistake%'"),
            1);
  const auto run = run_foo_jobs();
  ASSERT_EQ(run.exit_code, kOk) << shown(run);
  EXPECT_TRUE(contains(run.err, "Ran 0 FooJobs."));
  EXPECT_EQ(status_of(id), kCancelled);
}

TEST_F(JobctlMoveTest, cancel_takes_a_suspended_job_and_retry_brings_a_cancelled_one_back) {
  const auto id = job_in(kSuspended);

  ASSERT_EQ(jobctl({"cancel", std::to_string(id)}).exit_code, kOk);
  EXPECT_EQ(status_of(id), kCancelled);

  const auto retry = jobctl({"retry", std::to_string(id)});
  ASSERT_EQ(retry.exit_code, kOk) << shown(retry);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE id = " + std::to_string(id) +
                  " AND status = 0 AND date_finished IS NULL AND scheduled_start IS NULL"),
            1);
}

TEST_F(JobctlMoveTest, suspend_takes_a_running_job_from_its_runner) {
  const auto id = job_in(kRunning);

  const auto result = jobctl({"suspend", std::to_string(id)});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE id = " + std::to_string(id) +
                  " AND status = 4 AND lease_token IS NULL AND lease_expires IS NULL"),
            1);
}

TEST_F(JobctlMoveTest, retry_makes_completed_and_failed_jobs_ready_now) {
  const auto completed = job_in(kCompleted);
  const auto failed = job_in(kFailed);
  db.sql("UPDATE job SET scheduled_start = now() + interval '1 day'");

  const auto result =
      jobctl({"retry", std::to_string(completed), std::to_string(failed), "--json"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto out = nlohmann::json::parse(result.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["id"], completed);
  EXPECT_EQ(out[0]["from"], "COMPLETED");
  EXPECT_EQ(out[0]["to"], "WAITING");
  EXPECT_EQ(out[1]["from"], "FAILED");
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE status = 0 AND date_finished IS NULL AND "
                  "scheduled_start IS NULL"),
            2);
}

// Which statuses each command moves; every other status is refused.
struct Command {
  std::string name;
  std::set<std::int64_t> from;
  std::int64_t to;
};

void PrintTo(const Command& c, std::ostream* out) { *out << c.name; }

class JobctlEveryMoveTest : public JobctlTest, public ::testing::WithParamInterface<Command> {};

const char* kNames[] = {"WAITING", "RUNNING", "COMPLETED", "FAILED", "SUSPENDED", "CANCELLED"};

TEST_P(JobctlEveryMoveTest, moves_exactly_its_statuses_and_refuses_the_others_naming_both) {
  const auto& command = GetParam();
  const auto ids = one_job_in_every_status();
  for (const auto& [from, id] : ids) {
    const auto before = snapshot();
    const auto result = jobctl({command.name, std::to_string(id)});
    if (command.from.contains(from)) {
      EXPECT_EQ(result.exit_code, kOk) << kNames[from] << ": " << shown(result);
      EXPECT_EQ(status_of(id), command.to) << kNames[from];
    } else {
      SCOPED_TRACE(std::string(command.name) + " of a " + kNames[from] + " job");
      expect_refused(result, kDataError,
                     {"job " + std::to_string(id) + " is " + kNames[from], kNames[command.to]});
      EXPECT_EQ(snapshot(), before);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Jobctl, JobctlEveryMoveTest,
    ::testing::Values(Command{"suspend", {kWaiting, kRunning}, kSuspended},
                      Command{"resume", {kSuspended}, kWaiting},
                      Command{"retry", {kCompleted, kFailed, kCancelled}, kWaiting},
                      Command{"cancel", {kWaiting, kSuspended}, kCancelled}),
    [](const ::testing::TestParamInfo<Command>& param_info) { return param_info.param.name; });

TEST_F(JobctlMoveTest, a_filter_moves_every_matching_job_in_one_go) {
  const auto failed_a = job_in(kFailed);
  const auto failed_b = job_in(kFailed);
  const auto completed = job_in(kCompleted);
  const auto waiting = job_in(kWaiting);

  const auto result = jobctl({"retry", "--type", "foo", "--status", "FAILED"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(status_of(failed_a), kWaiting);
  EXPECT_EQ(status_of(failed_b), kWaiting);
  EXPECT_EQ(status_of(completed), kCompleted);
  EXPECT_EQ(status_of(waiting), kWaiting);
  EXPECT_EQ(lines_of(result.out).size(), 4u) << "a header, a rule and two moves:\n" << result.out;
  EXPECT_TRUE(contains(result.err, "moved 2 jobs to WAITING"));
}

TEST_F(JobctlMoveTest, a_filter_by_requester_and_time_picks_only_those_jobs) {
  const auto mine = enqueue({}, "alice");
  const auto old_mine = enqueue({}, "alice");
  const auto theirs = enqueue({}, "bob");
  db.sql("UPDATE job SET date_created = now() - interval '3 days' WHERE id = $1", old_mine);

  const auto result = jobctl({"cancel", "--requester", "alice", "--created-after", "1d"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(status_of(mine), kCancelled);
  EXPECT_EQ(status_of(old_mine), kWaiting);
  EXPECT_EQ(status_of(theirs), kWaiting);
}

TEST_F(JobctlMoveTest, one_job_in_the_wrong_state_stops_the_whole_filter_and_is_named) {
  const auto waiting_a = job_in(kWaiting);
  const auto completed = job_in(kCompleted);
  const auto waiting_b = job_in(kWaiting);
  const auto before = snapshot();

  const auto result = jobctl({"cancel", "--type", "foo", "--reason", "all of them"});

  expect_refused(result, kDataError,
                 {"job " + std::to_string(completed) + " is COMPLETED",
                  "cannot go from COMPLETED to CANCELLED", "no job was changed"});
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(status_of(waiting_a), kWaiting);
  EXPECT_EQ(status_of(waiting_b), kWaiting);
}

TEST_F(JobctlMoveTest, retry_of_a_suspended_job_points_to_resume) {
  const auto id = job_in(kSuspended);

  const auto result = jobctl({"retry", std::to_string(id)});

  expect_refused(result, kDataError,
                 {"job " + std::to_string(id) + " is SUSPENDED",
                  "retry moves only FAILED, COMPLETED or CANCELLED jobs to WAITING"});
  EXPECT_EQ(status_of(id), kSuspended);
}

TEST_F(JobctlMoveTest, dry_run_checks_and_prints_but_changes_nothing) {
  const auto failed = job_in(kFailed);
  const auto before = snapshot();

  const auto result = jobctl({"retry", "--status", "failed", "--dry-run"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.out, std::to_string(failed)));
  EXPECT_TRUE(contains(result.err, "dry run"));
  EXPECT_EQ(snapshot(), before);
}

TEST_F(JobctlMoveTest, an_unknown_id_among_known_ones_changes_nothing) {
  const auto failed = job_in(kFailed);
  const auto before = snapshot();

  const auto result = jobctl({"retry", std::to_string(failed), "999999"});

  expect_refused(result, kDataError, {"no job with id 999999"});
  EXPECT_EQ(snapshot(), before);
}

struct BadMove {
  std::string name;
  std::vector<std::string> args;
  int exit_code;
  std::string message;
};

void PrintTo(const BadMove& bad, std::ostream* out) { *out << bad.name; }

class JobctlBadMoveTest : public JobctlTest, public ::testing::WithParamInterface<BadMove> {};

TEST_P(JobctlBadMoveTest, is_refused_with_one_line_and_changes_nothing) {
  one_job_in_every_status();
  const auto before = snapshot();

  const auto result = jobctl(GetParam().args);

  expect_refused(result, GetParam().exit_code, {GetParam().message});
  EXPECT_EQ(snapshot(), before);
}

INSTANTIATE_TEST_SUITE_P(
    Jobctl, JobctlBadMoveTest,
    ::testing::Values(
        BadMove{"no_ids_and_no_filter", {"retry"}, kUsage, "give job ids"},
        BadMove{"ids_and_a_filter", {"retry", "1", "--type", "foo"}, kUsage, "not both"},
        BadMove{"an_id_that_is_not_a_number", {"cancel", "seven"}, kUsage, "seven"},
        BadMove{"an_unknown_status", {"retry", "--status", "BROKEN"}, kDataError,
                "unknown status 'BROKEN'"},
        BadMove{"an_unknown_type", {"suspend", "--type", "bar", "--status", "WAITING"},
                kDataError, "unknown job type 'bar'"},
        BadMove{"a_malformed_time", {"retry", "--status", "FAILED", "--finished-after", "lately"},
                kDataError, "--finished-after: invalid time 'lately'"},
        BadMove{"a_malformed_duration_as_time",
                {"retry", "--status", "FAILED", "--finished-after", "5y"}, kDataError,
                "--finished-after: invalid time or duration '5y'"},
        BadMove{"a_filter_that_matches_nothing",
                {"retry", "--status", "FAILED", "--requester", "nobody"}, kDataError,
                "no job matches --status FAILED --requester nobody"},
        BadMove{"an_unknown_id", {"resume", "424242"}, kDataError, "no job with id 424242"}),
    [](const ::testing::TestParamInfo<BadMove>& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace jobrunner::jobctl_test
