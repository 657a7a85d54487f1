// The real executables (run-foo-jobs, jobctl) against a test database: their
// output, exit codes (docs/exit-codes.md) and what they write.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "foo/foo_job.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/pg/migrations.hpp"
#include "program.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using testing::bin;
using testing::DatabaseTest;
using testing::ProcessResult;
using testing::run_program;

constexpr int kOk = 0, kUsage = 64, kDataError = 65, kLocked = 69, kTempFailure = 75,
              kConfig = 78;

std::vector<std::string> non_empty_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << part << "' not found in:\n" << text;
}

// Describes a run for failure messages.
std::string shown(const ProcessResult& result) {
  return "exit " + std::to_string(result.exit_code) + "\n--- stdout:\n" + result.out +
         "--- stderr:\n" + result.err;
}

// An empty database (no schema), dropped again at the end of the test.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(const std::string& name) : name_(name) {
    admin().exec_outside_transaction("CREATE DATABASE " + name_);
  }
  ~ScratchDatabase() {
    try {
      admin().exec_outside_transaction("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // The server is thrown away after the run.
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  std::string conninfo() const { return testing::server_conninfo() + " dbname=" + name_; }

 private:
  static pg::Connection admin() {
    return pg::Connection::open(testing::server_conninfo() + " dbname=postgres");
  }
  std::string name_;
};

// A directory removed at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / name) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

class CliTest : public DatabaseTest {
 protected:
  // Runs an executable against the test database (DATABASE_URL).
  ProcessResult run(const std::string& program, std::vector<std::string> args) {
    args.insert(args.begin(), bin(program));
    return run_program(args, {{"DATABASE_URL", db.conninfo()}});
  }
  ProcessResult jobctl(std::vector<std::string> args) { return run("jobctl", std::move(args)); }
  ProcessResult run_foo_jobs(std::vector<std::string> args = {}) {
    return run("run-foo-jobs", std::move(args));
  }

  std::int64_t enqueue(const nlohmann::json& metadata = nlohmann::json::object()) {
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto id = store.enqueue(tx, {.target_id = db.make_foo(), .metadata = metadata});
    tx.commit();
    return id;
  }

  std::int64_t status_of(std::int64_t id) {
    return db.scalar("SELECT status FROM job WHERE id = $1", id);
  }
  std::int64_t job_count() { return db.scalar("SELECT count(*) FROM job"); }

  static constexpr std::int64_t kWaiting = 0, kCompleted = 2, kFailed = 3, kSuspended = 4;

  pg::JobStore store{foo::foo_job_type().spec};
};

// ---- run-foo-jobs -------------------------------------------------------------

TEST_F(CliTest, run_foo_jobs_runs_every_outcome_and_logs_what_it_did) {
  const auto success = enqueue({{"outcome", "success"}});
  const auto retry = enqueue({{"outcome", "retry"}});
  const auto user_error = enqueue({{"outcome", "user_error"}});
  const auto error = enqueue({{"outcome", "error"}});
  const auto suspend = enqueue({{"outcome", "suspend"}});

  const auto result = run_foo_jobs();

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.err, "Ran 1 FooJobs."));
  EXPECT_TRUE(contains(result.err, "4 FooJobs did not complete."));
  EXPECT_EQ(status_of(success), kCompleted);
  EXPECT_EQ(status_of(retry), kWaiting);
  EXPECT_EQ(status_of(user_error), kFailed);
  EXPECT_EQ(status_of(error), kFailed);
  EXPECT_EQ(status_of(suspend), kSuspended);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foo_frozzle"), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM error_report"), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run WHERE job_type = 'foo' AND jobs_run = 1 "
                      "AND jobs_not_completed = 4 AND exit_code = 0 AND date_finished IS NOT NULL"),
            1);
}

TEST_F(CliTest, a_log_reader_that_went_away_does_not_end_the_run) {
  // stdout and stderr: a pipe whose reader is gone before the runner
  // starts (as `run-foo-jobs 2>&1 | head -1` once head has left). Python
  // starts it with SIGPIPE at its default action, as a shell does.
  const auto success = enqueue({{"outcome", "success"}});
  const auto error = enqueue({{"outcome", "error"}});
  const std::string spawn =
      "import os, subprocess, sys\n"
      "r, w = os.pipe()\n"
      "os.close(r)\n"
      "print(subprocess.run(sys.argv[1:], stdout=w, stderr=w).returncode)\n";

  const auto result =
      run_program({"/usr/bin/python3", "-c", spawn, bin("run-foo-jobs"), "--db", db.conninfo()});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(result.out, "0\n") << "the runner's exit status; -13 is SIGPIPE";
  EXPECT_EQ(status_of(success), kCompleted);
  EXPECT_EQ(status_of(error), kFailed);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run WHERE exit_code = 0 "
                      "AND date_finished IS NOT NULL"),
            1);
}

TEST_F(CliTest, run_foo_jobs_works_as_its_own_role_after_db_permissions) {
  const auto id = enqueue();
  const auto permissions = jobctl({"--db", db.conninfo(), "db", "permissions"});
  ASSERT_EQ(permissions.exit_code, kOk) << shown(permissions);

  const auto result = run_foo_jobs({"--db", db.conninfo("jobrunner_foo_runner")});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foo_frozzle WHERE job = $1", id), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run WHERE jobs_run = 1"), 1);
}

TEST_F(CliTest, the_runner_role_cannot_write_what_it_has_no_grant_for) {
  const auto permissions = jobctl({"--db", db.conninfo(), "db", "permissions"});
  ASSERT_EQ(permissions.exit_code, kOk) << shown(permissions);
  auto conn = db.connect("jobrunner_foo_runner");
  auto tx = conn.begin();

  try {
    tx.exec("INSERT INTO foo (name) VALUES ('not mine to make')");
    FAIL() << "jobrunner_foo_runner inserted into foo";
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "42501") << e.what();
  }
}

TEST_F(CliTest, a_runner_connected_as_a_role_without_its_grants_is_a_configuration_error) {
  const auto id = enqueue();
  const auto permissions = jobctl({"--db", db.conninfo(), "db", "permissions"});
  ASSERT_EQ(permissions.exit_code, kOk) << shown(permissions);

  // The enqueuer may not update jobs nor record runs.
  const auto result = run_foo_jobs({"--db", db.conninfo("jobrunner_foo_enqueuer")});

  EXPECT_EQ(result.exit_code, kConfig) << shown(result);
  EXPECT_TRUE(contains(result.err, "jobctl db permissions"));
  EXPECT_EQ(status_of(id), kWaiting);
}

TEST_F(CliTest, a_second_overlapping_runner_is_refused_and_changes_nothing) {
  const auto id = enqueue();
  {
    auto holder = db.connect();  // the lock is a leased row: it outlives this connection
    auto tx = holder.begin();
    ASSERT_TRUE(store.try_lock_type(tx, "other-host:42", std::chrono::hours(1)).token);
    tx.commit();
  }

  const auto result = run_foo_jobs();

  EXPECT_EQ(result.exit_code, kLocked) << shown(result);
  EXPECT_TRUE(contains(result.err, "holds the lock of job type 'foo' (other-host:42, until"))
      << shown(result);
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(db.scalar("SELECT attempt_count FROM job WHERE id = $1", id), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run"), 0);
}

TEST_F(CliTest, json_logs_are_one_valid_object_per_line) {
  enqueue();
  enqueue({{"outcome", "error"}});

  const auto result = run_foo_jobs({"--log-format", "json"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto lines = non_empty_lines(result.err);
  ASSERT_FALSE(lines.empty());
  bool saw_summary = false;
  for (const auto& line : lines) {
    nlohmann::json object;
    ASSERT_NO_THROW(object = nlohmann::json::parse(line)) << line;
    ASSERT_TRUE(object.is_object()) << line;
    for (const char* key : {"time", "level", "msg"}) {
      EXPECT_TRUE(object.contains(key)) << "no '" << key << "' in " << line;
    }
    if (object.value("msg", "") == "Ran 1 FooJobs.") saw_summary = true;
  }
  EXPECT_TRUE(saw_summary) << result.err;
}

TEST_F(CliTest, run_foo_jobs_rejects_a_malformed_lease_naming_the_duration) {
  const auto result = run_foo_jobs({"--lease", "5x"});

  EXPECT_EQ(result.exit_code, kUsage) << shown(result);
  const auto lines = non_empty_lines(result.err);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(contains(lines.front(), "--lease"));
  EXPECT_TRUE(contains(lines.front(), "duration"));
  EXPECT_TRUE(contains(lines.front(), "5x"));
}

TEST_F(CliTest, run_foo_jobs_rejects_a_negative_max_runtime) {
  const auto id = enqueue();

  const auto result = run_foo_jobs({"--max-runtime", "-1s"});

  EXPECT_EQ(result.exit_code, kUsage) << shown(result);
  EXPECT_TRUE(contains(result.err, "--max-runtime"));
  EXPECT_EQ(status_of(id), kWaiting);
}

// A duration option below its minimum (docs/cli.md): refused before the
// runner connects, naming the option and the minimum.
struct TooShort {
  std::string name;
  std::vector<std::string> args;
  std::string option;   // named in the message
  std::string minimum;  // "the minimum of <minimum>"
};

void PrintTo(const TooShort& bad, std::ostream* out) { *out << bad.name; }

class TooShortTest : public CliTest, public ::testing::WithParamInterface<TooShort> {};

TEST_P(TooShortTest, is_refused_with_exit_64_naming_the_minimum_and_changes_nothing) {
  const auto id = enqueue();

  const auto result = run_foo_jobs(GetParam().args);

  EXPECT_EQ(result.exit_code, kUsage) << shown(result);
  const auto lines = non_empty_lines(result.err);
  ASSERT_FALSE(lines.empty()) << shown(result);
  EXPECT_TRUE(contains(lines.front(), GetParam().option));
  EXPECT_TRUE(contains(lines.front(), "below the minimum of " + GetParam().minimum));
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(db.scalar("SELECT attempt_count FROM job WHERE id = $1", id), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE lease_token IS NOT NULL"), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run"), 0);
}

INSTANTIATE_TEST_SUITE_P(
    RunFooJobs, TooShortTest,
    ::testing::Values(
        TooShort{"a_lease_of_zero", {"--lease", "0s"}, "--lease", "1s"},
        TooShort{"a_lease_below_a_second", {"--lease", "999ms"}, "--lease", "1s"},
        // --max-runtime bounds the daemon should the refusal ever be lost.
        TooShort{"a_poll_interval_of_zero",
                 {"--daemon", "--max-runtime", "2s", "--poll-interval", "0s"},
                 "--poll-interval", "100ms"},
        TooShort{"a_job_timeout_of_zero", {"--isolate", "--job-timeout", "0s"}, "--job-timeout",
                 "1s"},
        TooShort{"a_max_runtime_of_zero", {"--max-runtime", "0s"}, "--max-runtime", "1s"}),
    [](const ::testing::TestParamInfo<TooShort>& bad_info) { return bad_info.param.name; });

TEST_F(CliTest, a_grace_and_a_retry_delay_of_zero_mean_at_once_and_are_accepted) {
  const auto id = enqueue({{"outcome", "retry"}});

  const auto result = run_foo_jobs({"--grace", "0s", "--retry-delay", "0s", "--limit", "1"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND scheduled_start <= now()", id),
            1)
      << "a retry delay of 0s makes the job ready at once";
}

TEST_F(CliTest, a_job_type_whose_spec_sets_a_lease_below_the_minimum_is_a_configuration_error) {
  const auto id = enqueue();

  const auto result = run("run-short-lease-jobs", {});

  EXPECT_EQ(result.exit_code, kConfig) << shown(result);
  EXPECT_TRUE(contains(result.err, "JobTypeSpec::lease"));
  EXPECT_TRUE(contains(result.err, "500ms"));
  EXPECT_TRUE(contains(result.err, "below the minimum of 1s"));
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(db.scalar("SELECT attempt_count FROM job WHERE id = $1", id), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run"), 0);
}

TEST_F(CliTest, an_unknown_option_is_a_usage_error) {
  const auto runner = run_foo_jobs({"--frobnicate"});
  EXPECT_EQ(runner.exit_code, kUsage) << shown(runner);
  EXPECT_TRUE(contains(runner.err, "--frobnicate"));

  const auto ctl = jobctl({"list", "--frobnicate"});
  EXPECT_EQ(ctl.exit_code, kUsage) << shown(ctl);
  EXPECT_TRUE(contains(ctl.err, "--frobnicate"));
}

TEST_F(CliTest, run_foo_jobs_help_lists_every_option_and_the_exit_codes) {
  const auto result = run_program({bin("run-foo-jobs"), "--help"});

  EXPECT_EQ(result.exit_code, kOk) << shown(result);
  for (const char* option : {"--db", "--limit", "--max-runtime", "--lease", "--retry-delay",
                             "--log-level", "--log-format", "--version", "--help"}) {
    EXPECT_TRUE(contains(result.out, option));
  }
  EXPECT_TRUE(contains(result.out, "Exit codes"));
  for (const char* code : {"  0 ", "  64 ", "  69 ", "  70 ", "  75 ", "  78 "}) {
    EXPECT_TRUE(contains(result.out, code));
  }
  // The minimums of the duration options.
  for (const char* minimum : {"At least 1s", "At least 100ms"}) {
    EXPECT_TRUE(contains(result.out, minimum));
  }
}

TEST_F(CliTest, version_prints_a_version_number) {
  for (const char* program : {"run-foo-jobs", "jobctl"}) {
    const auto result = run_program({bin(program), "--version"});
    EXPECT_EQ(result.exit_code, kOk) << program << ": " << shown(result);
    const auto lines = non_empty_lines(result.out);
    ASSERT_EQ(lines.size(), 1u) << program << ": " << shown(result);
    EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(lines.front().front())) &&
                lines.front().find('.') != std::string::npos)
        << program << " printed " << lines.front();
  }
}

TEST_F(CliTest, jobctl_help_lists_its_commands) {
  const auto result = run_program({bin("jobctl"), "--help"});

  EXPECT_EQ(result.exit_code, kOk) << shown(result);
  for (const char* command :
       {"db", "enqueue", "list", "show", "suspend", "resume", "retry", "oops"}) {
    EXPECT_TRUE(contains(result.out, std::string("\n  ") + command + " "));
  }
  EXPECT_TRUE(contains(result.out, "Exit codes"));
}

// ---- jobctl enqueue -----------------------------------------------------------

TEST_F(CliTest, jobctl_enqueue_prints_the_new_job_id) {
  const auto foo = db.make_foo();

  const auto result = jobctl({"enqueue", "foo", "--foo", std::to_string(foo), "--json",
                              R"({"outcome": "retry"})", "--requester", "alice"});

  ASSERT_EQ(result.exit_code, kOk) << shown(result);
  const auto lines = non_empty_lines(result.out);
  ASSERT_EQ(lines.size(), 1u) << shown(result);
  const auto id = std::stoll(lines.front());
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job JOIN foojob ON foojob.job = job.id "
                      "WHERE job.id = $1 AND job.status = 0 AND job.job_type = 'foo' AND "
                      "job.requester = 'alice' AND foojob.foo = $2 AND "
                      "foojob.json_data = '{\"outcome\": \"retry\"}'::jsonb",
                      id, foo),
            1);
}

struct BadEnqueue {
  std::string name;
  std::vector<std::string> args;  // after "enqueue"; "FOO" stands for an existing foo id
  int exit_code;
  std::string message;  // a part of the error line
};

void PrintTo(const BadEnqueue& bad, std::ostream* out) { *out << bad.name; }

class BadEnqueueTest : public CliTest, public ::testing::WithParamInterface<BadEnqueue> {};

TEST_P(BadEnqueueTest, is_refused_with_one_clear_line_and_writes_nothing) {
  const auto foo = std::to_string(db.make_foo());
  std::vector<std::string> args{"enqueue"};
  for (const auto& arg : GetParam().args) args.push_back(arg == "FOO" ? foo : arg);

  const auto result = jobctl(args);

  EXPECT_EQ(result.exit_code, GetParam().exit_code) << shown(result);
  const auto lines = non_empty_lines(result.err);
  ASSERT_FALSE(lines.empty()) << shown(result);
  EXPECT_TRUE(contains(lines.front(), GetParam().message));
  if (GetParam().exit_code == kDataError) {
    EXPECT_EQ(lines.size(), 1u) << shown(result);
  }
  EXPECT_TRUE(result.out.empty()) << shown(result);
  EXPECT_EQ(job_count(), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM foojob"), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Jobctl, BadEnqueueTest,
    ::testing::Values(
        BadEnqueue{"malformed_json", {"foo", "--foo", "FOO", "--json", "{bad"}, kDataError,
                   "JSON"},
        BadEnqueue{"json_that_is_not_an_object", {"foo", "--foo", "FOO", "--json", "[1]"},
                   kDataError, "object"},
        BadEnqueue{"an_unknown_foo", {"foo", "--foo", "999999"}, kDataError, "no foo with id"},
        BadEnqueue{"an_unknown_job_type", {"bar", "--foo", "FOO"}, kDataError,
                   "unknown job type"},
        BadEnqueue{"a_bad_start_time", {"foo", "--foo", "FOO", "--at", "not-a-time"},
                   kDataError, "not-a-time"},
        BadEnqueue{"negative_max_retries", {"foo", "--foo", "FOO", "--max-retries", "-1"},
                   kUsage, "--max-retries"},
        BadEnqueue{"an_unknown_option", {"foo", "--foo", "FOO", "--colour", "red"}, kUsage,
                   "--colour"},
        BadEnqueue{"the_target_flag_twice", {"foo", "--foo", "FOO", "--foo", "FOO"}, kUsage,
                   "more than one target or unknown option: --foo, --foo"},
        BadEnqueue{"the_target_flag_without_its_id", {"foo", "--foo"}, kUsage,
                   "unknown option --foo, or a target flag without its ID"},
        BadEnqueue{"a_stray_argument", {"foo", "--foo", "FOO", "extra"}, kUsage,
                   "--foo takes one ID, not 2:"},
        BadEnqueue{"a_target_without_its_flag", {"foo", "--target", "FOO", "extra"}, kUsage,
                   "The following argument was not expected: extra (the target is --target ID"}),
    [](const ::testing::TestParamInfo<BadEnqueue>& bad_info) { return bad_info.param.name; });

TEST_F(CliTest, jobctl_enqueue_refuses_a_duplicate_pending_job) {
  const auto foo = std::to_string(db.make_foo());
  const auto first = jobctl({"enqueue", "foo", "--foo", foo});
  ASSERT_EQ(first.exit_code, kOk) << shown(first);

  const auto second = jobctl({"enqueue", "foo", "--foo", foo});

  EXPECT_EQ(second.exit_code, kDataError) << shown(second);
  EXPECT_EQ(non_empty_lines(second.err).size(), 1u) << shown(second);
  EXPECT_TRUE(contains(second.err, "already pending"));
  EXPECT_EQ(job_count(), 1);
}

// ---- An unreachable or unprepared database --------------------------------------

TEST_F(CliTest, an_unreachable_database_is_a_temporary_failure) {
  const std::string nowhere = "host=/nonexistent port=1 dbname=x connect_timeout=2";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {bin("run-foo-jobs"), "--db", nowhere}, {bin("jobctl"), "--db", nowhere, "list"}}) {
    const auto result = run_program(args, {{"DATABASE_URL", std::nullopt}});
    EXPECT_EQ(result.exit_code, kTempFailure) << args.front() << ": " << shown(result);
    EXPECT_TRUE(contains(result.err, "database unavailable")) << args.front();
  }
}

// A TCP port on loopback where the kernel accepts connections but no server
// ever answers: what a hung or firewalled database host looks like.
class SilentServer {
 public:
  SilentServer() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    const auto* generic = reinterpret_cast<sockaddr*>(&address);
    if (fd_ < 0 || bind(fd_, generic, size) != 0 || listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      throw std::runtime_error("cannot listen on a loopback port");
    }
    port_ = ntohs(address.sin_port);
  }
  ~SilentServer() { close(fd_); }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

TEST_F(CliTest, a_server_that_never_answers_is_given_up_after_the_default_connect_timeout) {
  const SilentServer server;
  const std::string silent = "host=127.0.0.1 port=" + std::to_string(server.port()) +
                             " dbname=x user=u sslmode=disable";
  const std::map<std::string, std::optional<std::string>> env{
      {"DATABASE_URL", std::nullopt}, {"PGCONNECT_TIMEOUT", std::nullopt}};
  // Both at once: each waits the default 10 s.
  testing::Program runner({bin("run-foo-jobs"), "--db", silent}, env);
  testing::Program jobctl({bin("jobctl"), "--db", silent, "list"}, env);
  for (auto* program : {&runner, &jobctl}) {
    ASSERT_TRUE(program->exited_within(std::chrono::seconds(60)))
        << "still waiting for a server that never answers";
    const auto result = program->wait();
    EXPECT_EQ(result.exit_code, kTempFailure) << shown(result);
    EXPECT_TRUE(contains(result.err, "timeout expired")) << shown(result);
  }
}

TEST_F(CliTest, a_password_in_the_connection_string_is_never_printed) {
  const std::string password = "s3cr3tpw";
  const std::vector<std::string> conninfos{
      "host=/nonexistent port=1 dbname=x user=u password=" + password,
      "postgresql://u:" + password + "@/x?host=/nonexistent&port=1"};
  for (const auto& conninfo : conninfos) {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {bin("run-foo-jobs"), "--db", conninfo},
             {bin("jobctl"), "--db", conninfo, "list"},
             {bin("jobctl"), "--db", conninfo, "--log-format", "json", "db", "status"}}) {
      const auto result = run_program(args, {{"DATABASE_URL", std::nullopt}});
      EXPECT_EQ(result.exit_code, kTempFailure) << conninfo << ": " << shown(result);
      EXPECT_FALSE(contains(result.out + result.err, password)) << conninfo;
    }
    // The same through DATABASE_URL.
    const auto result = run_program({bin("run-foo-jobs")}, {{"DATABASE_URL", conninfo}});
    EXPECT_EQ(result.exit_code, kTempFailure) << conninfo << ": " << shown(result);
    EXPECT_FALSE(contains(result.out + result.err, password)) << conninfo;
  }
}

TEST_F(CliTest, a_connection_string_libpq_refuses_before_connecting_is_a_configuration_error) {
  // Each would fail the same way on every retry: 78, not 75 (cron would
  // retry a 75 for ever). The good part of each names this test's database,
  // which must stay untouched.
  const std::string good = db.conninfo();
  const std::vector<std::pair<std::string, std::string>> cases{
      {good + " port=notaport", "port must be a number, not 'notaport'"},
      {good + " port", "missing \"=\" after \"port\""},
      {good + " dbname='unterminated", "unterminated quoted string"},
      {good + " no_such_option=1", "invalid connection option \"no_such_option\""},
      {good + " connect_timeout=soon", "connect_timeout must be an integer, not 'soon'"},
      {good + " keepalives_idle=x", "keepalives_idle must be an integer, not 'x'"},
      {good + " sslmode=sometimes", "sslmode must be one of"},
      {good + " target_session_attrs=writable", "target_session_attrs must be one of"},
      {"host=/a,/b port=1,2,3 dbname=x", "it names 3 ports for 2 hosts"},
      {"postgresql:///x?port=abc", "port must be a number, not 'abc'"},
  };
  for (const auto& [conninfo, message] : cases) {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {bin("run-foo-jobs"), "--db", conninfo},
             {bin("run-foo-jobs"), "--daemon", "--db", conninfo},
             {bin("jobctl"), "--db", conninfo, "list"}}) {
      const auto result = run_program(args, {{"DATABASE_URL", std::nullopt}});
      EXPECT_EQ(result.exit_code, kConfig) << conninfo << ": " << shown(result);
      EXPECT_TRUE(contains(result.err, "the connection string is invalid: " + message))
          << conninfo;
    }
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM runner_run"), 0);
}

TEST_F(CliTest, a_password_in_a_connection_string_that_cannot_be_parsed_is_never_printed) {
  for (const std::string conninfo :
       {"password=s3cr3tpw port", "host=/x password='s3cr3tpw", "postgresql://u:s3cr3tpw@h:x/d"}) {
    const auto result = run_program({bin("run-foo-jobs"), "--db", conninfo});
    EXPECT_EQ(result.exit_code, kConfig) << shown(result);
    EXPECT_TRUE(contains(result.err, "the connection string is invalid")) << shown(result);
    EXPECT_FALSE(contains(result.out + result.err, "s3cr3tpw")) << conninfo;
  }
}

TEST_F(CliTest, an_unmigrated_schema_is_a_configuration_error_that_says_to_upgrade) {
  const ScratchDatabase empty(db.name() + "_empty");

  const auto runner = run_program({bin("run-foo-jobs"), "--db", empty.conninfo()});
  EXPECT_EQ(runner.exit_code, kConfig) << shown(runner);
  EXPECT_TRUE(contains(runner.err, "jobctl db upgrade"));

  const auto list = run_program({bin("jobctl"), "--db", empty.conninfo(), "list"});
  EXPECT_EQ(list.exit_code, kConfig) << shown(list);
  EXPECT_TRUE(contains(list.err, "jobctl db upgrade"));
}

// ---- jobctl db ----------------------------------------------------------------

TEST_F(CliTest, db_upgrade_applies_every_patch_once_and_then_has_nothing_to_apply) {
  const ScratchDatabase empty(db.name() + "_upgrade");
  const std::vector<std::string> upgrade{bin("jobctl"), "--db", empty.conninfo(), "db",
                                         "upgrade"};

  const auto first = run_program(upgrade);
  ASSERT_EQ(first.exit_code, kOk) << shown(first);
  EXPECT_TRUE(contains(first.err, "applied schema patch 0001-job.sql"));
  EXPECT_TRUE(contains(first.err, "applied schema patch 0002-foo.sql"));
  EXPECT_FALSE(contains(first.err, "nothing to apply"));

  const auto second = run_program(upgrade);
  ASSERT_EQ(second.exit_code, kOk) << shown(second);
  EXPECT_TRUE(contains(second.err, "nothing to apply"));
  EXPECT_FALSE(contains(second.err, "applied schema patch"));

  const auto status = run_program({bin("jobctl"), "--db", empty.conninfo(), "db", "status"});
  ASSERT_EQ(status.exit_code, kOk) << shown(status);
  std::map<std::string, std::string> state;  // patch name -> its line
  for (const auto& line : non_empty_lines(status.out)) state[line.substr(0, line.find(' '))] = line;
  for (const auto& patch : pg::embedded_patches()) {
    ASSERT_TRUE(state.count(patch.name)) << patch.name << " not listed:\n" << status.out;
    EXPECT_TRUE(contains(state[patch.name], " applied ")) << state[patch.name];
  }
  EXPECT_TRUE(state.count("0001-job.sql"));
  EXPECT_TRUE(state.count("0002-foo.sql"));
}

// A job type package (--migrations-dir) whose applied patch is edited
// afterwards: refused like an edited core patch, per package.
class EditedPatchTest : public CliTest {
 protected:
  EditedPatchTest() : root("jobrunner-cli-test-" + db.name()), dir(root.path() / "edited") {
    std::filesystem::create_directories(dir);
    write_file(dir / "0001-table.sql", "CREATE TABLE edited_table (id integer);\n");
  }
  ProcessResult db_command(const std::string& command) {
    return jobctl({"db", command, "--migrations-dir", dir.string()});
  }
  TempDir root;
  std::filesystem::path dir;
};

TEST_F(EditedPatchTest, db_status_accepts_an_unchanged_package_patch) {
  ASSERT_EQ(db_command("upgrade").exit_code, kOk);
  const auto result = db_command("status");

  EXPECT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.out, "edited/0001-table.sql")) << shown(result);
  EXPECT_FALSE(contains(result.out, "CHANGED"));
}

TEST_F(EditedPatchTest, db_status_and_db_upgrade_refuse_an_edited_patch_naming_it) {
  ASSERT_EQ(db_command("upgrade").exit_code, kOk);
  {
    std::ofstream out(dir / "0001-table.sql", std::ios::app);
    out << "\n-- an edit after the patch was applied\n";
  }
  write_file(dir / "0002-extra.sql", "CREATE TABLE extra_table (id integer);\n");
  const auto revisions = db.scalar("SELECT count(*) FROM database_revision");

  const auto status = db_command("status");
  EXPECT_EQ(status.exit_code, kConfig) << shown(status);
  const auto changed_line = [&] {
    for (const auto& line : non_empty_lines(status.out)) {
      if (line.starts_with("edited/0001-table.sql")) return line;
    }
    return std::string();
  }();
  EXPECT_TRUE(contains(changed_line, "CHANGED")) << shown(status);

  const auto upgrade = db_command("upgrade");
  EXPECT_EQ(upgrade.exit_code, kConfig) << shown(upgrade);
  EXPECT_TRUE(contains(upgrade.err, "package edited, 0001-table.sql"));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM database_revision"), revisions);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'extra_table'"), 0)
      << "nothing may be applied while a patch is edited";
}

// ---- jobctl list, show, oops ----------------------------------------------------

TEST_F(CliTest, jobctl_list_show_and_oops_list_show_what_the_runner_did) {
  const auto done = enqueue();
  const auto failed = enqueue({{"outcome", "error"}, {"message", "the foo exploded"}});
  const auto waiting = enqueue();
  db.sql("UPDATE job SET scheduled_start = now() + interval '1 hour' WHERE id = $1", waiting);
  ASSERT_EQ(run_foo_jobs().exit_code, kOk);

  const auto list = jobctl({"list"});
  ASSERT_EQ(list.exit_code, kOk) << shown(list);
  std::map<std::string, std::string> rows;  // id -> its line
  for (const auto& line : non_empty_lines(list.out)) rows[line.substr(0, line.find(' '))] = line;
  EXPECT_TRUE(contains(rows[std::to_string(done)], "COMPLETED")) << list.out;
  EXPECT_TRUE(contains(rows[std::to_string(failed)], "FAILED")) << list.out;
  EXPECT_TRUE(contains(rows[std::to_string(waiting)], "WAITING")) << list.out;

  const auto only_failed = jobctl({"list", "--status", "failed"});
  ASSERT_EQ(only_failed.exit_code, kOk) << shown(only_failed);
  EXPECT_TRUE(contains(only_failed.out, "FAILED"));
  EXPECT_FALSE(contains(only_failed.out, "COMPLETED"));
  EXPECT_FALSE(contains(only_failed.out, "WAITING"));

  const auto show = jobctl({"show", std::to_string(failed)});
  ASSERT_EQ(show.exit_code, kOk) << shown(show);
  EXPECT_TRUE(contains(show.out, "status: FAILED"));
  EXPECT_TRUE(contains(show.out, "OOPS-"));
  EXPECT_TRUE(contains(show.out, "the foo exploded"));

  const auto oops = jobctl({"oops", "list"});
  ASSERT_EQ(oops.exit_code, kOk) << shown(oops);
  const auto lines = non_empty_lines(oops.out);
  ASSERT_EQ(lines.size(), 3u) << "a header, a rule and one report:\n" << oops.out;
  EXPECT_TRUE(contains(lines[2], "OOPS-"));
  EXPECT_TRUE(contains(lines[2], " " + std::to_string(failed) + " "));
  EXPECT_TRUE(contains(lines[2], "logic_error"));
  EXPECT_TRUE(contains(lines[2], "the foo exploded"));
}

TEST_F(CliTest, jobctl_show_of_an_unknown_id_is_bad_input) {
  const auto result = jobctl({"show", "999999"});

  EXPECT_EQ(result.exit_code, kDataError) << shown(result);
  EXPECT_TRUE(contains(result.err, "no job with id 999999"));
}

// ---- jobctl suspend, resume, retry ------------------------------------------------

TEST_F(CliTest, jobctl_suspend_and_resume_park_a_waiting_job_and_bring_it_back) {
  const auto id = enqueue();

  const auto suspend = jobctl({"suspend", std::to_string(id), "--reason", "maintenance"});
  ASSERT_EQ(suspend.exit_code, kOk) << shown(suspend);
  EXPECT_EQ(status_of(id), kSuspended);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND reason = 'maintenance'", id), 1);

  const auto resume = jobctl({"resume", std::to_string(id)});
  ASSERT_EQ(resume.exit_code, kOk) << shown(resume);
  EXPECT_EQ(status_of(id), kWaiting);
}

TEST_F(CliTest, jobctl_retry_runs_a_failed_job_again) {
  const auto id = enqueue({{"outcome", "error"}});
  ASSERT_EQ(run_foo_jobs().exit_code, kOk);
  ASSERT_EQ(status_of(id), kFailed);

  const auto retry = jobctl({"retry", std::to_string(id)});

  ASSERT_EQ(retry.exit_code, kOk) << shown(retry);
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND date_finished IS NULL AND "
                      "scheduled_start IS NULL",
                      id),
            1);
}

TEST_F(CliTest, jobctl_refuses_moves_that_the_transition_table_forbids) {
  const auto waiting = enqueue();
  const auto completed = enqueue();
  db.sql("UPDATE job SET scheduled_start = now() + interval '1 hour' WHERE id = $1", waiting);
  ASSERT_EQ(run_foo_jobs().exit_code, kOk);
  ASSERT_EQ(status_of(completed), kCompleted);

  const auto retry_waiting = jobctl({"retry", std::to_string(waiting)});
  EXPECT_EQ(retry_waiting.exit_code, kDataError) << shown(retry_waiting);
  EXPECT_TRUE(contains(retry_waiting.err, "WAITING"));
  EXPECT_EQ(status_of(waiting), kWaiting);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND scheduled_start > now()",
                      waiting),
            1)
      << "a refused move must change nothing";

  const auto resume_waiting = jobctl({"resume", std::to_string(waiting)});
  EXPECT_EQ(resume_waiting.exit_code, kDataError) << shown(resume_waiting);

  const auto suspend_completed = jobctl({"suspend", std::to_string(completed)});
  EXPECT_EQ(suspend_completed.exit_code, kDataError) << shown(suspend_completed);
  EXPECT_TRUE(contains(suspend_completed.err, "COMPLETED"));
  EXPECT_EQ(status_of(completed), kCompleted);

  const auto unknown = jobctl({"suspend", "999999"});
  EXPECT_EQ(unknown.exit_code, kDataError) << shown(unknown);
  EXPECT_TRUE(contains(unknown.err, "no job with id 999999"));
}

}  // namespace
}  // namespace jobrunner
