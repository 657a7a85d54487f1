// jobctl enqueue: one job from options, many from JSON lines (a file or
// stdin), and every kind of bad input refused with nothing written.
#include <string>
#include <vector>

#include "jobctl_fixture.hpp"

namespace jobrunner::jobctl_test {
namespace {

class JobctlEnqueueTest : public JobctlTest {};

TEST_F(JobctlEnqueueTest, one_job_takes_every_option) {
  const auto foo = std::to_string(db.make_foo());

  const auto result =
      jobctl({"enqueue", "foo", "--foo", foo, "--json", R"({"work_ms": 5})", "--priority", "-3",
              "--max-retries", "7", "--requester", "alice", "--reason", "a test"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 1u) << shown(result);
  const auto id = std::stoll(lines.front());
  EXPECT_EQ(count("SELECT count(*) FROM job JOIN foojob ON foojob.job = job.id WHERE job.id = " +
                  std::to_string(id) + " AND foojob.foo = " + foo +
                  " AND job.priority = -3 AND job.max_retries = 7 AND job.requester = 'alice' "
                  "AND job.reason = 'a test' AND job.scheduled_start IS NULL AND "
                  "foojob.json_data = '{\"work_ms\": 5}'"),
            1);
}

TEST_F(JobctlEnqueueTest, in_schedules_the_job_that_long_from_now) {
  const auto foo = std::to_string(db.make_foo());

  const auto result = jobctl({"enqueue", "foo", "--target", foo, "--in", "1h30m"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE scheduled_start BETWEEN "
                  "now() + interval '89 minutes' AND now() + interval '91 minutes'"),
            1);
}

TEST_F(JobctlEnqueueTest, at_schedules_the_job_at_that_time) {
  const auto foo = std::to_string(db.make_foo());

  const auto result = jobctl({"enqueue", "foo", "--foo", foo, "--at", "2031-02-03T04:05:06Z"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE scheduled_start = '2031-02-03T04:05:06Z'"), 1);
}

TEST_F(JobctlEnqueueTest, json_output_gives_the_ids) {
  const auto foo = std::to_string(db.make_foo());

  const auto result = jobctl({"enqueue", "foo", "--foo", foo, "--json-output"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto out = nlohmann::json::parse(result.out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["id"].get<std::int64_t>(), count("SELECT max(id) FROM job"));
}

TEST_F(JobctlEnqueueTest, many_jobs_from_a_file_each_line_with_its_own_fields) {
  const auto a = db.make_foo(), b = db.make_foo(), c = db.make_foo();
  TempFile file("{\"foo\": " + std::to_string(a) + ", \"json\": {\"work_ms\": 1}, \"priority\": 2}\n"
                "\n"
                "{\"target\": " + std::to_string(b) + ", \"in\": \"10m\", \"max_retries\": 0, "
                "\"reason\": \"second\"}\n"
                "{\"foo\": " + std::to_string(c) + ", \"at\": \"2031-01-01T00:00:00Z\", "
                "\"requester\": \"bob\"}\n");

  const auto result = jobctl({"enqueue", "foo", "--from", file.path(), "--requester", "batch",
                              "--priority", "9"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto ids = lines_of(result.out);
  ASSERT_EQ(ids.size(), 3u) << shown(result);
  auto holds = [&](const std::string& id, const std::string& condition) {
    return count("SELECT count(*) FROM job JOIN foojob ON foojob.job = job.id WHERE job.id = " +
                 id + " AND " + condition);
  };
  EXPECT_EQ(holds(ids[0], "foojob.foo = " + std::to_string(a) +
                              " AND priority = 2 AND requester = 'batch' AND "
                              "foojob.json_data = '{\"work_ms\": 1}' AND max_retries = 3"),
            1);
  EXPECT_EQ(holds(ids[1], "foojob.foo = " + std::to_string(b) +
                              " AND priority = 9 AND max_retries = 0 AND reason = 'second' AND "
                              "scheduled_start > now() + interval '9 minutes'"),
            1);
  EXPECT_EQ(holds(ids[2], "foojob.foo = " + std::to_string(c) +
                              " AND requester = 'bob' AND "
                              "scheduled_start = '2031-01-01T00:00:00Z'"),
            1);
}

TEST_F(JobctlEnqueueTest, many_jobs_from_stdin) {
  const auto a = db.make_foo(), b = db.make_foo();
  TempFile file("{\"foo\": " + std::to_string(a) + "}\n{\"foo\": " + std::to_string(b) + "}\n");

  const auto result = jobctl_sh("enqueue foo --from - --json-output < '" + file.path() + "'");

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto out = nlohmann::json::parse(result.out);
  ASSERT_EQ(out.size(), 2u) << shown(result);
  EXPECT_EQ(out[0]["line"], 1);
  EXPECT_EQ(out[1]["line"], 2);
  EXPECT_EQ(count("SELECT count(*) FROM job"), 2);
}

struct BadLine {
  std::string name;
  std::string line;  // "FOO" stands for an existing foo, "OTHER" for a second one
  std::string message;
};

void PrintTo(const BadLine& bad, std::ostream* out) { *out << bad.name; }

class JobctlBadLineTest : public JobctlTest, public ::testing::WithParamInterface<BadLine> {};

TEST_P(JobctlBadLineTest, names_its_line_and_writes_nothing) {
  const auto foo = std::to_string(db.make_foo());
  const auto other = std::to_string(db.make_foo());
  auto bad = GetParam().line;
  for (auto pos = bad.find("FOO"); pos != std::string::npos; pos = bad.find("FOO")) {
    bad.replace(pos, 3, foo);
  }
  for (auto pos = bad.find("OTHER"); pos != std::string::npos; pos = bad.find("OTHER")) {
    bad.replace(pos, 5, other);
  }
  // Two good lines first: they must be rolled back with the bad third one.
  TempFile file("{\"foo\": " + other + "}\n\n" + "{\"foo\": " + foo + ", \"priority\": 1}\n" +
                bad + "\n");
  const auto before = snapshot();

  const auto result = jobctl({"enqueue", "foo", "--from", file.path()});

  expect_refused(result, kDataError, {"line 4", GetParam().message});
  EXPECT_EQ(snapshot(), before);
}

INSTANTIATE_TEST_SUITE_P(
    Jobctl, JobctlBadLineTest,
    ::testing::Values(
        BadLine{"malformed_json", R"({"foo": 1,)", "not valid JSON"},
        BadLine{"not_an_object", R"([1, 2])", "expected a JSON object"},
        BadLine{"no_target", R"({"json": {}})", "no \"foo\""},
        BadLine{"target_not_an_integer", R"({"foo": "12"})", "\"foo\" must be an integer"},
        BadLine{"both_foo_and_target", R"({"foo": FOO, "target": FOO})", "not both"},
        BadLine{"an_unknown_key", R"({"foo": FOO, "colour": "red"})", "unknown key \"colour\""},
        BadLine{"json_not_an_object", R"({"foo": FOO, "json": "x"})",
                "\"json\" must be a JSON object"},
        BadLine{"a_bad_duration", R"({"foo": FOO, "in": "5 parsecs"})", "invalid duration"},
        BadLine{"a_bad_time", R"({"foo": FOO, "at": "the day after tomorrow"})",
                "invalid time"},
        BadLine{"both_at_and_in", R"({"foo": FOO, "at": "2031-01-01", "in": "5m"})",
                "not both"},
        BadLine{"negative_max_retries", R"({"foo": FOO, "max_retries": -1})", "max_retries"},
        BadLine{"priority_out_of_range", R"({"foo": FOO, "priority": 100000})", "priority"},
        BadLine{"an_unknown_foo", R"({"foo": 999999})", "no foo with id 999999"},
        BadLine{"a_duplicate_of_an_earlier_line", R"({"foo": OTHER})", "already pending"}),
    [](const ::testing::TestParamInfo<BadLine>& param_info) { return param_info.param.name; });

TEST_F(JobctlEnqueueTest, an_empty_file_is_bad_input) {
  TempFile file("\n  \n");

  const auto result = jobctl({"enqueue", "foo", "--from", file.path()});

  expect_refused(result, kDataError, {"no jobs in"});
}

struct BadOptions {
  std::string name;
  std::vector<std::string> args;  // after "enqueue foo"; "FOO" is an existing foo
  int exit_code;
  std::string message;
};

void PrintTo(const BadOptions& bad, std::ostream* out) { *out << bad.name; }

class JobctlBadEnqueueOptionsTest : public JobctlTest,
                                    public ::testing::WithParamInterface<BadOptions> {};

TEST_P(JobctlBadEnqueueOptionsTest, are_refused_and_write_nothing) {
  const auto foo = std::to_string(db.make_foo());
  std::vector<std::string> args{"enqueue", "foo"};
  for (const auto& arg : GetParam().args) args.push_back(arg == "FOO" ? foo : arg);

  const auto result = jobctl(args);

  expect_refused(result, GetParam().exit_code, {GetParam().message});
  EXPECT_EQ(count("SELECT count(*) FROM job"), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Jobctl, JobctlBadEnqueueOptionsTest,
    ::testing::Values(
        BadOptions{"no_target_and_no_file", {}, kUsage, "--target"},
        BadOptions{"a_file_and_a_target", {"--from", "/dev/null", "--foo", "FOO"}, kUsage,
                   "excludes"},
        BadOptions{"a_missing_file", {"--from", "/nonexistent/jobs.jsonl"}, kUsage,
                   "/nonexistent/jobs.jsonl"},
        BadOptions{"a_malformed_in", {"--foo", "FOO", "--in", "soon"}, kUsage,
                   "invalid duration 'soon'"},
        BadOptions{"at_and_in", {"--foo", "FOO", "--in", "5m", "--at", "2031-01-01"}, kUsage,
                   "excludes"},
        BadOptions{"a_priority_out_of_range", {"--foo", "FOO", "--priority", "40000"}, kUsage,
                   "--priority"},
        BadOptions{"a_bad_time", {"--foo", "FOO", "--at", "tomorrowish"}, kDataError,
                   "invalid time 'tomorrowish'"},
        BadOptions{"metadata_that_is_not_an_object", {"--foo", "FOO", "--json", "42"},
                   kDataError, "JSON object"}),
    [](const ::testing::TestParamInfo<BadOptions>& param_info) { return param_info.param.name; });

TEST_F(JobctlEnqueueTest, an_unknown_type_is_bad_input) {
  const auto result = jobctl({"enqueue", "nosuchtype", "--target", "1"});

  expect_refused(result, kDataError, {"unknown job type 'nosuchtype'", "known types: foo"});
}

}  // namespace
}  // namespace jobrunner::jobctl_test
