// jobctl list | show | stats | runs | oops list | oops show: what an operator
// sees of a queue with jobs in every status, and bad input to each.
#include <string>
#include <vector>

#include "jobctl_fixture.hpp"

namespace jobrunner::jobctl_test {
namespace {

class JobctlInspectTest : public JobctlTest {
 protected:
  std::vector<std::int64_t> listed_ids(const std::vector<std::string>& args) {
    auto full = args;
    full.insert(full.begin(), "list");
    full.push_back("--json");
    const auto result = jobctl(full);
    EXPECT_EQ(result.exit_code, kOk) << shown(result);
    std::vector<std::int64_t> ids;
    if (result.exit_code != kOk) return ids;
    for (const auto& job : nlohmann::json::parse(result.out)) ids.push_back(job["id"]);
    return ids;
  }
};

// ---- list -------------------------------------------------------------------

TEST_F(JobctlInspectTest, list_shows_every_status_newest_first) {
  const auto ids = one_job_in_every_status();

  const auto result = jobctl({"list"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 2u + ids.size()) << result.out;
  EXPECT_TRUE(contains(lines[0], "ID"));
  EXPECT_TRUE(contains(lines[0], "STATUS"));
  EXPECT_TRUE(lines[2].starts_with(std::to_string(ids.at(kCancelled)) + " "));
  EXPECT_TRUE(contains(lines[2], "CANCELLED"));
  EXPECT_TRUE(lines.back().starts_with(std::to_string(ids.at(kWaiting)) + " "));
}

TEST_F(JobctlInspectTest, list_filters_by_status_type_requester_and_times) {
  const auto ids = one_job_in_every_status();
  const auto alices = enqueue({}, "alice");
  db.sql("UPDATE job SET date_created = now() - interval '2 days' WHERE id = $1", alices);
  db.sql("UPDATE job SET date_finished = now() - interval '3 hours' WHERE id = $1",
         ids.at(kFailed));

  using Ids = std::vector<std::int64_t>;
  EXPECT_EQ(listed_ids({"--status", "FAILED,completed"}), (Ids{ids.at(kFailed), ids.at(kCompleted)}));
  EXPECT_EQ(listed_ids({"--status", "cancelled", "--status", "SUSPENDED"}),
            (Ids{ids.at(kCancelled), ids.at(kSuspended)}));
  EXPECT_EQ(listed_ids({"--type", "foo", "--requester", "alice"}), Ids{alices});
  EXPECT_EQ(listed_ids({"--created-before", "1d"}), Ids{alices});
  EXPECT_EQ(listed_ids({"--created-after", "1d", "--status", "WAITING"}), Ids{ids.at(kWaiting)});
  EXPECT_EQ(listed_ids({"--finished-before", "1h"}), Ids{ids.at(kFailed)});
  EXPECT_EQ(listed_ids({"--finished-after", "1h"}), (Ids{ids.at(kCancelled), ids.at(kCompleted)}));
  EXPECT_EQ(listed_ids({"--finished-after", "2000-01-01T00:00:00Z", "--order", "finished"}),
            (Ids{ids.at(kCancelled), ids.at(kCompleted), ids.at(kFailed)}));
  EXPECT_EQ(listed_ids({"--order", "oldest", "--limit", "2"}),
            (Ids{ids.at(kWaiting), ids.at(kRunning)}));
}

TEST_F(JobctlInspectTest, list_in_claim_order_puts_lower_priority_first) {
  const auto a = enqueue();
  const auto b = enqueue();
  db.sql("UPDATE job SET priority = -5 WHERE id = $1", b);

  EXPECT_EQ(listed_ids({"--order", "claim"}), (std::vector<std::int64_t>{b, a}));
}

TEST_F(JobctlInspectTest, list_json_has_every_column) {
  const auto id = job_in(kRunning);

  const auto result = jobctl({"list", "--json"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto job = nlohmann::json::parse(result.out).at(0);
  EXPECT_EQ(job["id"], id);
  EXPECT_EQ(job["status"], "RUNNING");
  EXPECT_EQ(job["lease_owner"], "otherhost:42");
  for (const char* key : {"job_type", "requester", "reason", "priority", "scheduled_start",
                          "lease_expires", "attempt_count", "max_retries", "date_created",
                          "date_started", "date_finished", "json_data", "log"}) {
    EXPECT_TRUE(job.contains(key)) << key;
  }
}

TEST_F(JobctlInspectTest, an_empty_list_is_an_answer_not_an_error) {
  const auto table = jobctl({"list", "--status", "CANCELLED"});
  ASSERT_EQ(table.exit_code, kOk) << shown(table);
  EXPECT_TRUE(contains(table.out, "(no jobs)"));

  const auto json = jobctl({"list", "--status", "CANCELLED", "--json"});
  ASSERT_EQ(json.exit_code, kOk) << shown(json);
  EXPECT_EQ(nlohmann::json::parse(json.out), nlohmann::json::array());
}

struct BadArgs {
  std::string name;
  std::vector<std::string> args;
  int exit_code;
  std::string message;
};

void PrintTo(const BadArgs& bad, std::ostream* out) { *out << bad.name; }

class JobctlBadInspectTest : public JobctlTest, public ::testing::WithParamInterface<BadArgs> {};

TEST_P(JobctlBadInspectTest, is_refused_with_one_line) {
  one_job_in_every_status();
  const auto before = snapshot();

  const auto result = jobctl(GetParam().args);

  expect_refused(result, GetParam().exit_code, {GetParam().message});
  EXPECT_EQ(snapshot(), before);
}

INSTANTIATE_TEST_SUITE_P(
    Jobctl, JobctlBadInspectTest,
    ::testing::Values(
        BadArgs{"list_an_unknown_status", {"list", "--status", "DONE"}, kDataError,
                "--status: unknown status 'DONE' (use WAITING, RUNNING, COMPLETED, FAILED, "
                "SUSPENDED, CANCELLED)"},
        BadArgs{"list_an_unknown_type", {"list", "--type", "bar"}, kDataError,
                "unknown job type 'bar'"},
        BadArgs{"list_a_malformed_time", {"list", "--created-after", "2026-13-45"}, kDataError,
                "--created-after: invalid time '2026-13-45'"},
        BadArgs{"list_an_unknown_order", {"list", "--order", "random"}, kUsage, "--order"},
        BadArgs{"list_a_zero_limit", {"list", "--limit", "0"}, kUsage, "--limit"},
        BadArgs{"show_an_unknown_id", {"show", "999999"}, kDataError, "no job with id 999999"},
        BadArgs{"show_no_id", {"show"}, kUsage, "ID is required"},
        BadArgs{"stats_an_unknown_type", {"stats", "--type", "bar"}, kDataError,
                "unknown job type 'bar'"},
        BadArgs{"stats_a_zero_window", {"stats", "--window", "0s"}, kDataError,
                "the window of finished jobs must be longer than 0"},
        BadArgs{"stats_a_malformed_window", {"stats", "--window", "a day"}, kUsage,
                "invalid duration 'a day'"},
        BadArgs{"runs_an_unknown_type", {"runs", "--type", "bar"}, kDataError,
                "unknown job type 'bar'"},
        BadArgs{"oops_show_an_unknown_report", {"oops", "show", "OOPS-4242"}, kDataError,
                "no error report OOPS-4242"},
        BadArgs{"oops_show_a_malformed_id", {"oops", "show", "OOPS-x"}, kDataError,
                "invalid error report id 'OOPS-x'"},
        BadArgs{"oops_list_an_unknown_job", {"oops", "list", "--job", "999999"}, kDataError,
                "no job with id 999999"},
        BadArgs{"oops_list_a_malformed_since", {"oops", "list", "--since", "a while"},
                kDataError, "--since: invalid time 'a while'"},
        BadArgs{"an_unknown_command", {"frobnicate"}, kUsage, "frobnicate"},
        BadArgs{"no_command", {}, kUsage, "a command is required"}),
    [](const ::testing::TestParamInfo<BadArgs>& param_info) { return param_info.param.name; });

// ---- show ---------------------------------------------------------------------

TEST_F(JobctlInspectTest, show_gives_the_row_the_type_row_attempts_reports_and_the_log) {
  const auto id = enqueue({{"outcome", "error"}, {"message", "the foo exploded"}}, "carol");
  ASSERT_EQ(run_foo_jobs().exit_code, kOk);

  const auto text = jobctl({"show", std::to_string(id)});
  ASSERT_EQ(text.exit_code, kOk) << shown(text);
  for (const char* part : {"status: FAILED", "requester: carol", "attempts: 1 of 4",
                           "type_row: foojob: foo ", "metadata: {\"message\":\"the foo exploded\"",
                           "attempt 1: failed", "OOPS-", "the foo exploded", "log (last "}) {
    EXPECT_TRUE(contains(text.out, part));
  }

  const auto json = jobctl({"show", std::to_string(id), "--json"});
  ASSERT_EQ(json.exit_code, kOk) << shown(json);
  const auto job = nlohmann::json::parse(json.out);
  EXPECT_EQ(job["status"], "FAILED");
  EXPECT_EQ(job["type_row"]["table"], "foojob");
  EXPECT_EQ(job["type_row"]["json_data"]["outcome"], "error");
  EXPECT_EQ(job["attempts"].size(), 1u);
  ASSERT_EQ(job["error_reports"].size(), 1u);
  EXPECT_EQ(job["error_reports"][0]["message"], "the foo exploded");
  EXPECT_EQ(job["notifications"], nlohmann::json::array());
}

TEST_F(JobctlInspectTest, show_lists_the_notice_to_the_requester_of_a_user_error) {
  const auto id = enqueue({{"outcome", "user_error"}, {"message", "bad colour"}}, "dave");
  ASSERT_EQ(run_foo_jobs().exit_code, kOk);

  const auto json = jobctl({"show", std::to_string(id), "--json"});

  ASSERT_EQ(json.exit_code, kOk) << shown(json);
  const auto job = nlohmann::json::parse(json.out);
  ASSERT_EQ(job["notifications"].size(), 1u) << json.out;
  EXPECT_EQ(job["notifications"][0]["recipient"], "dave");
  EXPECT_EQ(job["notifications"][0]["body"], "bad colour");
}

TEST_F(JobctlInspectTest, show_keeps_only_the_newest_log_lines_asked_for) {
  const auto id = enqueue();
  for (const char* verb : {"suspend", "resume", "suspend", "resume"}) {
    ASSERT_EQ(jobctl({verb, std::to_string(id)}).exit_code, kOk);
  }

  const auto result = jobctl({"show", std::to_string(id), "--log-lines", "1"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.out, "log (last 1 of 4 lines)"));
  EXPECT_TRUE(contains(result.out, "(resume)"));
}

// ---- stats and runs -----------------------------------------------------------

TEST_F(JobctlInspectTest, stats_counts_lag_running_leases_failures_pauses_and_the_last_run) {
  const auto ids = one_job_in_every_status();
  ASSERT_EQ(run_foo_jobs({"--limit", "0"}).exit_code, kOk);  // runs the WAITING one
  const auto ready = enqueue();
  db.sql("UPDATE job SET date_created = now() - interval '2 hours' WHERE id = $1", ready);
  const auto later = enqueue();
  db.sql("UPDATE job SET scheduled_start = now() + interval '1 hour' WHERE id = $1", later);
  db.sql("UPDATE job SET date_finished = now() - interval '10 minutes' WHERE id = $1",
         ids.at(kFailed));
  // Finished before the window (24h by default): not counted.
  job_in(kCompleted, "2 days");
  ASSERT_EQ(jobctl({"pause", "foo", "--reason", "maintenance", "--by", "erin"}).exit_code, kOk);

  const auto result = jobctl({"stats", "--json"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto stats = nlohmann::json::parse(result.out);
  // Every registered type, in name order: foo, then noop (which has no jobs).
  ASSERT_EQ(stats["types"].size(), 2u) << result.out;
  EXPECT_EQ(stats["types"][1]["job_type"], "noop");
  EXPECT_EQ(stats["types"][1]["counts"]["WAITING"], 0);
  const auto& foo = stats["types"][0];
  EXPECT_EQ(foo["job_type"], "foo");
  EXPECT_EQ(foo["counts"]["WAITING"], 2);
  EXPECT_EQ(foo["counts"]["RUNNING"], 1);
  EXPECT_EQ(foo["counts"]["SUSPENDED"], 1);
  EXPECT_EQ(foo["counts"].size(), 3u) << "finished jobs are counted within the window only";
  EXPECT_EQ(stats["finished_window"]["duration_s"], 86400);
  EXPECT_TRUE(stats["finished_window"]["since"].is_string());
  EXPECT_EQ(foo["finished_in_window"]["COMPLETED"], 2);
  EXPECT_EQ(foo["finished_in_window"]["FAILED"], 1);
  EXPECT_EQ(foo["finished_in_window"]["CANCELLED"], 1);
  EXPECT_TRUE(stats.contains("job_rows_estimate"));
  EXPECT_EQ(foo["ready"], 1);
  EXPECT_GE(foo["oldest_ready_age_s"].get<double>(), 2 * 3600 - 60);
  EXPECT_LT(foo["oldest_ready_age_s"].get<double>(), 2 * 3600 + 600);
  EXPECT_EQ(foo["failed_last_hour"], 1);
  EXPECT_EQ(foo["paused"]["paused_by"], "erin");
  EXPECT_EQ(foo["paused"]["reason"], "maintenance");
  EXPECT_EQ(foo["last_run"]["jobs_run"], 1);
  EXPECT_EQ(foo["last_run"]["exit_code"], 0);
  ASSERT_EQ(stats["running"].size(), 1u);
  EXPECT_EQ(stats["running"][0]["id"], ids.at(kRunning));
  EXPECT_EQ(stats["running"][0]["lease_owner"], "otherhost:42");
  EXPECT_GT(stats["running"][0]["lease_left_s"].get<double>(), 0);
  EXPECT_EQ(stats["running"][0]["lease_expired"], false);

  const auto text = jobctl({"stats"});
  ASSERT_EQ(text.exit_code, kOk) << shown(text);
  for (const char* part : {"Jobs by type", "only those finished in the last 1d, since ",
                           "COMPLETED 1d", "CANCELLED 1d", "LAG", "FAILED 1h",
                           "(the planner's estimate, as of the last ANALYZE; not a count)",
                           "Running jobs (1)", "otherhost:42", "Runners",
                           "paused by erin since", "maintenance"}) {
    EXPECT_TRUE(contains(text.out, part));
  }

  // A window of 1h: its FAILED column is the last hour's, shown once.
  const auto hour = jobctl({"stats", "--window", "1h"});
  ASSERT_EQ(hour.exit_code, kOk) << shown(hour);
  const auto heading = hour.out.substr(hour.out.find("TYPE"));
  EXPECT_TRUE(contains(heading, "FAILED 1h"));
  EXPECT_EQ(heading.find("FAILED 1h"), heading.rfind("FAILED 1h")) << hour.out;

  const auto wider = jobctl({"stats", "--window", "3d", "--json"});
  ASSERT_EQ(wider.exit_code, kOk) << shown(wider);
  const auto w = nlohmann::json::parse(wider.out);
  EXPECT_EQ(w["finished_window"]["duration_s"], 3 * 86400);
  EXPECT_EQ(w["types"][0]["finished_in_window"]["COMPLETED"], 3);
}

TEST_F(JobctlInspectTest, stats_of_an_empty_queue_shows_the_known_types) {
  const auto result = jobctl({"stats"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.out, "foo "));
  EXPECT_TRUE(contains(result.out, "never"));
  EXPECT_TRUE(contains(result.out, "Running jobs (0)"));
}

TEST_F(JobctlInspectTest, stats_shows_an_expired_lease_as_awaiting_rescue) {
  const auto id = job_in(kRunning);
  db.sql("UPDATE job SET lease_expires = now() - interval '90 seconds' WHERE id = $1", id);

  const auto result = jobctl({"stats"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.out, "expired 1m3"));
  EXPECT_TRUE(contains(result.out, "to be rescued"));
}

TEST_F(JobctlInspectTest, runs_lists_each_runner_run_newest_first) {
  enqueue();
  ASSERT_EQ(run_foo_jobs().exit_code, kOk);
  ASSERT_EQ(run_foo_jobs().exit_code, kOk);

  const auto json = jobctl({"runs", "--json"});
  ASSERT_EQ(json.exit_code, kOk) << shown(json);
  const auto runs = nlohmann::json::parse(json.out);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_GT(runs[0]["id"].get<std::int64_t>(), runs[1]["id"].get<std::int64_t>());
  EXPECT_EQ(runs[1]["jobs_run"], 1);
  EXPECT_EQ(runs[0]["jobs_run"], 0);
  for (const auto& run : runs) {
    EXPECT_EQ(run["job_type"], "foo");
    EXPECT_EQ(run["exit_code"], 0);
    EXPECT_EQ(run["jobs_not_completed"], 0);
    EXPECT_FALSE(run["hostname"].get<std::string>().empty());
    EXPECT_GT(run["pid"].get<int>(), 0);
    EXPECT_FALSE(run["date_finished"].is_null());
  }

  const auto one = jobctl({"runs", "--type", "foo", "--limit", "1"});
  ASSERT_EQ(one.exit_code, kOk) << shown(one);
  EXPECT_EQ(lines_of(one.out).size(), 3u) << one.out;
  EXPECT_TRUE(contains(one.out, "NOT COMPLETED"));
}

// ---- oops -----------------------------------------------------------------------

TEST_F(JobctlInspectTest, oops_list_filters_and_oops_show_gives_one_report) {
  const auto a = enqueue({{"outcome", "error"}, {"message", "first failure"}});
  const auto b = enqueue({{"outcome", "error"}, {"message", "second failure"}});
  ASSERT_EQ(run_foo_jobs().exit_code, kOk);
  db.sql("UPDATE error_report SET date_created = now() - interval '2 days' WHERE job = $1", a);

  const auto of_a = jobctl({"oops", "list", "--job", std::to_string(a), "--json"});
  ASSERT_EQ(of_a.exit_code, kOk) << shown(of_a);
  const auto reports = nlohmann::json::parse(of_a.out);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0]["message"], "first failure");
  const auto oops_id = reports[0]["id"].get<std::string>();

  const auto recent = jobctl({"oops", "list", "--since", "1d", "--type", "foo", "--json"});
  ASSERT_EQ(recent.exit_code, kOk) << shown(recent);
  const auto recent_reports = nlohmann::json::parse(recent.out);
  ASSERT_EQ(recent_reports.size(), 1u);
  EXPECT_EQ(recent_reports[0]["job"], b);

  const auto show = jobctl({"oops", "show", oops_id});
  ASSERT_EQ(show.exit_code, kOk) << shown(show);
  for (const std::string& part : std::vector<std::string>{
           "id:          " + oops_id, "first failure", "\"foo_id\"",
           std::to_string(a) + " (foo, now FAILED"}) {
    EXPECT_TRUE(contains(show.out, part));
  }
  const auto number = oops_id.substr(5);
  const auto json = jobctl({"oops", "show", number, "--json"});
  ASSERT_EQ(json.exit_code, kOk) << shown(json);
  const auto report = nlohmann::json::parse(json.out);
  EXPECT_EQ(report["id"], oops_id);
  EXPECT_EQ(report["job_status"], "FAILED");
  EXPECT_EQ(report["variables"]["job_id"], a);
}

TEST_F(JobctlInspectTest, help_lists_every_command_with_examples) {
  const auto main_help = run_program({bin("jobctl"), "--help"});
  ASSERT_EQ(main_help.exit_code, kOk);
  for (const char* command : {"db", "enqueue", "list", "show", "suspend", "resume", "retry",
                              "cancel", "stats", "runs", "oops", "prune", "pause", "unpause",
                              "paused"}) {
    EXPECT_TRUE(contains(main_help.out, std::string("\n  ") + command + " ")) << command;
    if (std::string(command) == "db" || std::string(command) == "oops") continue;
    const auto help = run_program({bin("jobctl"), command, "--help"});
    EXPECT_EQ(help.exit_code, kOk) << command;
    EXPECT_TRUE(contains(help.out, "Example")) << command;
  }
}

}  // namespace
}  // namespace jobrunner::jobctl_test
