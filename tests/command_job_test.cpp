// CommandJob and run-command-jobs (issue 12, item 1; docs/command-jobs.md):
// the allowlist file and its refusals, the validation of a job's fields,
// and real runs of command-test-helper (tests/support/command_helper.cpp)
// by the real runner against the test's database: each exit class, a
// timeout that kills the grandchildren too, a memory limit, a lot of
// output, hostile arguments, the environment and descriptors a command
// gets, the user it runs as, isolation, and job.result shown by jobctl.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command/allowlist.hpp"
#include "command/command_job.hpp"
#include "jobctl_fixture.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/core/outcome.hpp"
#include "jobrunner/pg/migrations.hpp"
#include "program.hpp"

namespace jobrunner::jobctl_test {
namespace {

using nlohmann::json;
using testing::eventually;
using namespace command;

constexpr int kConfig = 78;
const std::filesystem::path kPackage = JOBRUNNER_COMMAND_PACKAGE_DIR;

std::string helper() { return bin("command-test-helper"); }

// A command of command-test-helper: {"executable": helper, "args": [...]}.
json helper_command(std::vector<std::string> args, json extra = json::object()) {
  json command = {{"executable", helper()}, {"args", std::move(args)}};
  command.update(extra);
  return command;
}

// A directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("command-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
    std::filesystem::permissions(path_, std::filesystem::perms(0755));
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Whether a process is gone: no such pid, or a zombie nobody reaped (the
// container's init may not).
bool gone(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const auto close = text.rfind(')');
  return close == std::string::npos || (close + 2 < text.size() && text[close + 2] == 'Z');
}

pid_t pid_in(const std::string& file) {
  pid_t pid = 0;
  std::ifstream(file) >> pid;
  return pid;
}

const Allowlist::Host kUnprivileged{.euid = 1000, .environment = {{"TZ", "Europe/Berlin"}}};
const Allowlist::Host kRoot{.euid = 0, .environment = {}};

Allowlist parse_list(const json& commands, const Allowlist::Host& host = kUnprivileged) {
  return Allowlist::parse(json{{"commands", commands}}.dump(), "/etc/test/commands.json", host);
}

// ---- The allowlist file -----------------------------------------------------

struct BadFile {
  const char* what;
  std::string text;
  const char* expected;
};

TEST(CommandAllowlist, each_bad_file_is_a_configuration_error_naming_the_file_and_the_problem) {
  const auto file = [](const json& commands) { return json{{"commands", commands}}.dump(); };
  const auto with = [&](json extra) { return file({{"c", helper_command({"argv"}, std::move(extra))}}); };
  const std::vector<BadFile> cases = {
      {"not JSON", "{\"commands\": {", "is not valid JSON"},
      {"not an object", "[1, 2]", "must hold a JSON object"},
      {"no commands", "{}", "has no 'commands' object"},
      {"an unknown top-level key", R"({"commands": {}, "shell": "/bin/sh"})", "unknown key 'shell'"},
      {"an unknown key of a command", with({{"shell", true}}), "command 'c': unknown key 'shell'"},
      {"a relative executable", file({{"c", {{"executable", "bin/true"}}}}),
       "executable must be an absolute path, not 'bin/true'"},
      {"a missing executable", file({{"c", {{"executable", "/nonexistent/prog"}}}}),
       "executable /nonexistent/prog: No such file or directory"},
      {"no executable", file({{"c", json::object()}}), "'executable' is required"},
      {"a directory as executable", file({{"c", {{"executable", "/tmp"}}}}), "is not a regular file"},
      {"a bad regex",
       file({{"c", helper_command({"argv", "{who}"},
                                  {{"fields", {{"who", {{"type", "string"}, {"pattern", "([a-z"}}}}}})}}),
       "field 'who': 'pattern' '([a-z' is not a valid regular expression"},
      {"a placeholder without its field", file({{"c", helper_command({"argv", "--to={who}"})}}),
       "uses {who}, but 'fields' does not declare 'who'"},
      {"a field no argument uses",
       with({{"fields", {{"who", {{"type", "string"}}}}}}), "field 'who' is declared but no argument uses it"},
      {"a lone brace", file({{"c", helper_command({"argv", "{"})}}), "'{' must start a placeholder"},
      {"a lone closing brace", file({{"c", helper_command({"argv", "a}b"})}}), "'}' must be doubled"},
      {"an unknown field type",
       file({{"c", helper_command({"argv", "{n}"}, {{"fields", {{"n", {{"type", "float"}}}}}})}}),
       "'type' must be string, integer or boolean"},
      {"an unknown key of a field",
       file({{"c", helper_command({"argv", "{n}"},
                                  {{"fields", {{"n", {{"type", "string"}, {"maxlen", 3}}}}}})}}),
       "field 'n': unknown key 'maxlen'"},
      {"a default of the wrong type",
       file({{"c", helper_command({"argv", "{n}"},
                                  {{"fields", {{"n", {{"type", "integer"}, {"default", "x"}}}}}})}}),
       "'default' must be an integer"},
      {"an exit status out of range", with({{"exit_codes", {{"300", "retry"}}}}),
       "exit status from 0 to 255"},
      {"an unknown outcome", with({{"exit_codes", {{"3", "explode"}}}}),
       "must be one of completed, retry, user_error, suspend, error"},
      {"a bad timeout", with({{"timeout", "soon"}}), "'timeout'"},
      {"a relative working directory", with({{"working_directory", "tmp"}}),
       "working_directory must be an absolute path"},
      {"a missing working directory", with({{"working_directory", "/nonexistent/dir"}}),
       "working_directory /nonexistent/dir: No such file or directory"},
      {"a runner's variable in env", with({{"env", {{"JOBRUNNER_JOB_ID", "1"}}}}),
       "names starting with JOBRUNNER_ are the runner's"},
      {"a bad variable name", with({{"env", {{"A-B", "1"}}}}), "name 'A-B' is not valid"},
      {"a bad memory limit", with({{"memory_limit", "lots"}}), "'memory_limit'"},
      {"a bad command name", file({{"Bad Name", helper_command({"argv"})}}), "command name 'Bad Name'"},
      {"a user while the runner is not root", with({{"user", "nobody"}}),
       "command 'c': names user 'nobody', but a command can run as another user only when the "
       "runner runs as root (it runs as uid 1000)"},
  };
  for (const auto& c : cases) {
    try {
      (void)Allowlist::parse(c.text, "/etc/test/commands.json", kUnprivileged);
      ADD_FAILURE() << c.what << ": accepted";
    } catch (const ConfigError& e) {
      EXPECT_TRUE(contains(e.what(), "commands file /etc/test/commands.json: ")) << c.what;
      EXPECT_TRUE(contains(e.what(), c.expected)) << c.what;
    }
  }
}

TEST(CommandAllowlist, a_user_is_looked_up_when_the_runner_is_root_and_must_exist) {
  const auto list = parse_list({{"c", helper_command({"argv"}, {{"user", "nobody"}})}}, kRoot);
  const auto* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  const auto& credentials = list.commands().at("c").credentials;
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->uid, nobody->pw_uid);
  EXPECT_EQ(credentials->gid, nobody->pw_gid);

  EXPECT_THROW(
      {
        try {
          (void)parse_list({{"c", helper_command({"argv"}, {{"user", "no-such-user-here"}})}}, kRoot);
        } catch (const ConfigError& e) {
          EXPECT_TRUE(contains(e.what(), "user 'no-such-user-here' does not exist"));
          throw;
        }
      },
      ConfigError);
}

TEST(CommandAllowlist, the_default_exit_codes_are_those_of_sysexits_and_entries_replace_them) {
  const auto list = parse_list(
      {{"plain", helper_command({"argv"})},
       {"custom", helper_command({"argv"}, {{"exit_codes", {{"3", "retry"}, {"75", "error"},
                                                           {"other", "user_error"},
                                                           {"timeout", "retry"}}}})}});
  const auto& plain = list.commands().at("plain");
  EXPECT_EQ(plain.outcome_of_exit(0), CommandOutcome::completed);
  EXPECT_EQ(plain.outcome_of_exit(75), CommandOutcome::retry);
  EXPECT_EQ(plain.outcome_of_exit(64), CommandOutcome::user_error);
  EXPECT_EQ(plain.outcome_of_exit(65), CommandOutcome::user_error);
  EXPECT_EQ(plain.outcome_of_exit(1), CommandOutcome::error);
  EXPECT_EQ(plain.on_signal, CommandOutcome::error);
  EXPECT_EQ(plain.on_timeout, CommandOutcome::error);
  const auto& custom = list.commands().at("custom");
  EXPECT_EQ(custom.outcome_of_exit(3), CommandOutcome::retry);
  EXPECT_EQ(custom.outcome_of_exit(75), CommandOutcome::error);
  EXPECT_EQ(custom.outcome_of_exit(0), CommandOutcome::completed);
  EXPECT_EQ(custom.outcome_of_exit(9), CommandOutcome::user_error);
  EXPECT_EQ(custom.on_timeout, CommandOutcome::retry);
}

TEST(CommandAllowlist, the_environment_is_the_files_and_the_inherited_variables_that_are_set) {
  const auto list = parse_list({{"c", helper_command({"argv"}, {{"env", {{"LANG", "C.UTF-8"}}},
                                                                {"inherit_env", {"TZ", "UNSET_HERE"}}})}});
  EXPECT_EQ(list.commands().at("c").environment,
            (std::vector<std::string>{"LANG=C.UTF-8", "TZ=Europe/Berlin"}));
}

// ---- A job's fields ----------------------------------------------------------

class CommandFields : public ::testing::Test {
 protected:
  const Allowlist list = parse_list(
      {{"greet",
        helper_command({"argv", "--name={name}", "{text}", "{count}", "{loud}", "{{literal}}"},
                       {{"fields",
                         {{"name", {{"type", "string"}, {"max_length", 8}, {"pattern", "[a-z]+"}}},
                          {"text", {{"type", "string"}, {"max_length", 100}}},
                          {"count", {{"type", "integer"}, {"min", 1}, {"max", 10}}},
                          {"loud", {{"type", "boolean"}, {"default", false}}}}}})}});

  Invocation invoke(json args) const {
    return list.invocation({{"command", "greet"}, {"args", std::move(args)}});
  }
  // The UserError's message for these args (fails the test if none).
  std::string refusal(const json& metadata) const {
    try {
      (void)list.invocation(metadata);
    } catch (const UserError& e) {
      return e.what();
    }
    ADD_FAILURE() << "accepted: " << metadata.dump();
    return {};
  }
  std::string refusal_of_args(json args) const {
    return refusal({{"command", "greet"}, {"args", std::move(args)}});
  }
};

const std::string kHostile = "a; rm -rf / && $(id) `id` | cat > /etc/x < * ? ~ ' \" \\ \n\t {x} %s";

TEST_F(CommandFields, values_fill_their_placeholders_each_argument_staying_one_element) {
  const auto inv = invoke({{"name", "bob"}, {"text", kHostile}, {"count", 3}});
  EXPECT_EQ(inv.argv, (std::vector<std::string>{helper(), "argv", "--name=bob", kHostile, "3",
                                                 "false", "{literal}"}));
  EXPECT_EQ(invoke({{"name", "bob"}, {"text", ""}, {"count", 10}, {"loud", true}}).argv.at(5), "true");
}

TEST_F(CommandFields, a_value_that_fails_its_checks_is_a_user_error_naming_the_field) {
  const json ok = {{"name", "bob"}, {"text", "hi"}, {"count", 3}};
  const auto but = [&](const std::string& field, json value) {
    auto args = ok;
    args[field] = std::move(value);
    return refusal_of_args(args);
  };
  EXPECT_TRUE(contains(but("name", "robertabc"), "field 'name' is 9 characters long, more than its max_length 8"));
  EXPECT_TRUE(contains(but("name", "Bob"), "field 'name' does not match the pattern [a-z]+"));
  EXPECT_TRUE(contains(but("name", "bob; id"), "does not match the pattern"));
  EXPECT_TRUE(contains(but("name", 5), "field 'name' must be a string, not number"));
  EXPECT_TRUE(contains(but("text", std::string("a\0b", 3)), "field 'text' holds a NUL character"));
  EXPECT_TRUE(contains(but("text", std::string(101, 'x')), "more than its max_length 100"));
  EXPECT_TRUE(contains(but("count", "3"), "field 'count' must be an integer, not string"));
  EXPECT_TRUE(contains(but("count", 3.5), "must be an integer"));
  EXPECT_TRUE(contains(but("count", 11), "field 'count' must be at most 10"));
  EXPECT_TRUE(contains(but("count", 0), "must be at least 1"));
  EXPECT_TRUE(contains(but("loud", "yes"), "field 'loud' must be true or false"));
  EXPECT_TRUE(contains(but("extra", 1), "command 'greet' has no field \"extra\""));
  auto missing = ok;
  missing.erase("count");
  EXPECT_TRUE(contains(refusal_of_args(missing), "field 'count' is required"));
}

TEST_F(CommandFields, the_metadata_must_name_a_known_command_and_nothing_else) {
  EXPECT_TRUE(contains(refusal({{"command", "rm"}}),
                       "unknown command \"rm\": the allowlist /etc/test/commands.json has greet"));
  EXPECT_TRUE(contains(refusal(json::object()), "names no command"));
  EXPECT_TRUE(contains(refusal({{"command", 1}}), "names no command"));
  EXPECT_TRUE(contains(refusal({{"command", "greet"}, {"executable", "/bin/sh"}}),
                       "unknown key 'executable'"));
  EXPECT_TRUE(contains(refusal({{"command", "greet"}, {"args", {1, 2}}}), "\"args\" must be an object"));
}

// ---- run-command-jobs ----------------------------------------------------------

class CommandJobTest : public JobctlTest {
 protected:
  void SetUp() override { apply_package(kPackage); }

  // An allowlist file of these commands, kept until the test ends.
  std::string allowlist(const json& commands) {
    files_.push_back(std::make_unique<TempFile>(json{{"commands", commands}}.dump(2)));
    return files_.back()->path();
  }

  std::int64_t enqueue_command(const std::string& name, const json& args = json::object()) {
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto id = command_store.enqueue(tx, {.metadata = {{"command", name}, {"args", args}},
                                          .requester = "alice@example.com"});
    tx.commit();
    return id;
  }

  ProcessResult run_command_jobs(const std::string& file, std::vector<std::string> args = {},
                                 const std::map<std::string, std::optional<std::string>>& env = {}) {
    args.insert(args.begin(), {bin("run-command-jobs"), "--db", db.conninfo(), "--commands", file});
    return run_program(args, env);
  }
  // Runs the ready jobs and expects a clean run.
  void run_all(const std::string& file, std::vector<std::string> args = {}) {
    const auto result = run_command_jobs(file, std::move(args));
    ASSERT_EQ(result.exit_code, kOk) << shown(result);
  }

  std::string text_of(const std::string& sql, std::int64_t id) {
    return db.sql(sql, id).front().text("t");
  }
  std::string log_of(std::int64_t id) { return text_of("SELECT coalesce(log, '') AS t FROM job WHERE id = $1", id); }
  std::optional<json> result_of(std::int64_t id) {
    const auto rows = db.sql("SELECT result::text AS t FROM job WHERE id = $1", id);
    if (rows.front().is_null("t")) return std::nullopt;
    return json::parse(rows.front().text("t"));
  }
  std::int64_t error_reports_of(std::int64_t id) {
    return db.scalar("SELECT count(*) FROM error_report WHERE job = $1", id);
  }
  std::string error_report_of(std::int64_t id) {
    return text_of("SELECT error_type || ': ' || message AS t FROM error_report WHERE job = $1", id);
  }
  std::int64_t notices_of(std::int64_t id) {
    return db.scalar("SELECT count(*) FROM job_notification WHERE job = $1", id);
  }
  std::int64_t attempts_of(std::int64_t id) {
    return db.scalar("SELECT attempt_count FROM job WHERE id = $1", id);
  }

  const pg::JobStore command_store{command_job_spec()};

 private:
  std::vector<std::unique_ptr<TempFile>> files_;
};

TEST_F(CommandJobTest, a_command_that_succeeds_completes_with_its_last_json_line_as_the_result) {
  const auto file = allowlist(
      {{"echo", helper_command({"argv", "{text}", "fixed"},
                               {{"fields", {{"text", {{"type", "string"}, {"max_length", 200}}}}}})}});
  const auto id = enqueue_command("echo", {{"text", kHostile}});

  run_all(file);

  EXPECT_EQ(status_of(id), kCompleted);
  // The shell's metacharacters reached the program verbatim, as one element.
  EXPECT_EQ(result_of(id), (json{{"argv", {kHostile, "fixed"}}}));
  const auto log = log_of(id);
  EXPECT_TRUE(contains(log, "attempt 1: completed on attempt 1"));
  EXPECT_TRUE(contains(log, "command 'echo' (" + helper() + ", pid "));
  EXPECT_TRUE(contains(log, ") exited with status 0"));
  EXPECT_TRUE(contains(log, "stdout ("));
  EXPECT_EQ(error_reports_of(id), 0);
}

TEST_F(CommandJobTest, jobctl_show_prints_the_result_as_text_and_json) {
  const auto file = allowlist({{"echo", helper_command({"argv", "x"})}});
  const auto id = enqueue_command("echo");
  run_all(file);

  const auto text = jobctl({"show", std::to_string(id)});
  ASSERT_EQ(text.exit_code, kOk) << shown(text);
  EXPECT_TRUE(contains(text.out, "result: {\"argv\":[\"x\"]}\n"));
  const auto as_json = jobctl({"show", std::to_string(id), "--json"});
  ASSERT_EQ(as_json.exit_code, kOk) << shown(as_json);
  EXPECT_EQ(json::parse(as_json.out)["result"], (json{{"argv", {"x"}}}));

  const auto none = enqueue_command("nothing-such");
  run_all(file);
  EXPECT_TRUE(contains(jobctl({"show", std::to_string(none)}).out, "result: -\n"));
  EXPECT_TRUE(json::parse(jobctl({"show", std::to_string(none), "--json"}).out)["result"].is_null());
}

TEST_F(CommandJobTest, each_exit_class_has_its_outcome) {
  const auto file = allowlist({
      {"ok", helper_command({"exit", "0"})},
      {"tempfail", helper_command({"exit", "75", "the server is busy"})},
      {"usage", helper_command({"exit", "64", "no such customer: 42"})},
      {"dataerr", helper_command({"exit", "65", "bad date"})},
      {"fails", helper_command({"exit", "3", "it broke"})},
      {"killed", helper_command({"signal", "9"})},
  });
  const auto ok = enqueue_command("ok");
  const auto tempfail = enqueue_command("tempfail");
  const auto usage = enqueue_command("usage");
  const auto dataerr = enqueue_command("dataerr");
  const auto fails = enqueue_command("fails");
  const auto killed = enqueue_command("killed");

  run_all(file);

  EXPECT_EQ(status_of(ok), kCompleted);
  EXPECT_EQ(error_reports_of(ok), 0);

  // 75: retried later (the type's retry delay), no report.
  EXPECT_EQ(status_of(tempfail), kWaiting);
  EXPECT_EQ(attempts_of(tempfail), 1);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job WHERE id = $1 AND scheduled_start > now()", tempfail), 1);
  EXPECT_EQ(error_reports_of(tempfail), 0);
  EXPECT_TRUE(contains(log_of(tempfail), "will be retried: jobrunner::RetryError: command 'tempfail' exited with status 75"));
  EXPECT_TRUE(contains(log_of(tempfail), "the server is busy"));

  // 64 and 65: user errors, the requester told why (stderr's last line).
  for (const auto id : {usage, dataerr}) {
    EXPECT_EQ(status_of(id), kFailed);
    EXPECT_EQ(error_reports_of(id), 0);
    EXPECT_EQ(notices_of(id), 1);
  }
  EXPECT_TRUE(contains(log_of(usage), "failed with a user error: command 'usage' exited with status 64: no such customer: 42"));
  EXPECT_TRUE(contains(text_of("SELECT body AS t FROM job_notification WHERE job = $1", usage),
                       "no such customer: 42"));

  // Anything else, or a signal: an error report.
  EXPECT_EQ(status_of(fails), kFailed);
  EXPECT_EQ(error_reports_of(fails), 1);
  EXPECT_TRUE(contains(error_report_of(fails), "CommandFailed: command 'fails' exited with status 3"));
  EXPECT_TRUE(contains(log_of(fails), "it broke"));
  EXPECT_EQ(status_of(killed), kFailed);
  EXPECT_TRUE(contains(error_report_of(killed), "command 'killed' killed by signal 9"));
  EXPECT_TRUE(contains(log_of(killed), "about to die"));
}

TEST_F(CommandJobTest, a_commands_exit_codes_map_replaces_the_defaults_it_names) {
  const auto file = allowlist({
      {"three", helper_command({"exit", "3"}, {{"exit_codes", {{"3", "retry"}}}})},
      {"zero", helper_command({"exit", "0"}, {{"exit_codes", {{"0", "suspend"}}}})},
      {"sig", helper_command({"signal", "15"}, {{"exit_codes", {{"signal", "user_error"}}}})},
  });
  const auto three = enqueue_command("three");
  const auto zero = enqueue_command("zero");
  const auto sig = enqueue_command("sig");

  run_all(file);

  EXPECT_EQ(status_of(three), kWaiting);
  EXPECT_EQ(status_of(zero), kSuspended);
  EXPECT_EQ(status_of(sig), kFailed);
  EXPECT_EQ(error_reports_of(sig), 0);
  EXPECT_EQ(notices_of(sig), 1);
}

TEST_F(CommandJobTest, a_command_past_its_timeout_is_killed_with_its_grandchildren) {
  const TempDir dir;
  const auto file = allowlist({
      {"hangs", helper_command({"grandchild", dir.file("pid")}, {{"timeout", "1s"}})},
      {"stubborn", helper_command({"grandchild", dir.file("pid2"), "ignore-term"},
                                  {{"timeout", "1s"}, {"kill_grace", "200ms"}})},
  });
  const auto hangs = enqueue_command("hangs");
  const auto stubborn = enqueue_command("stubborn");

  run_all(file);

  EXPECT_EQ(status_of(hangs), kFailed);
  EXPECT_EQ(error_reports_of(hangs), 1);
  EXPECT_TRUE(contains(error_report_of(hangs),
                       "command 'hangs' timed out after 1s and was killed by signal 15"));
  EXPECT_TRUE(contains(log_of(hangs), "started grandchild"));
  EXPECT_TRUE(contains(error_report_of(stubborn),
                       "command 'stubborn' timed out after 1s and was killed by signal 9"));
  for (const auto& name : {"pid", "pid2"}) {
    const auto grandchild = pid_in(dir.file(name));
    ASSERT_GT(grandchild, 0) << name;
    EXPECT_TRUE(eventually([&] { return gone(grandchild); })) << "grandchild " << grandchild << " lives";
  }
}

TEST_F(CommandJobTest, the_runners_job_timeout_ends_a_command_whose_own_timeout_is_longer) {
  const TempDir dir;
  const auto file = allowlist({{"hangs", helper_command({"grandchild", dir.file("pid")}, {{"timeout", "1h"}})}});
  const auto id = enqueue_command("hangs");

  run_all(file, {"--job-timeout", "1s"});

  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_TRUE(contains(error_report_of(id), "command 'hangs' reached the runner's --job-timeout and was killed"));
  const auto grandchild = pid_in(dir.file("pid"));
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(eventually([&] { return gone(grandchild); }));
}

TEST_F(CommandJobTest, a_command_past_its_memory_limit_fails_with_an_error_report) {
  const auto file = allowlist({{"hog", helper_command({"alloc", "1024"}, {{"memory_limit", "128M"}})},
                               {"modest", helper_command({"alloc", "8"}, {{"memory_limit", "128M"}})}});
  const auto hog = enqueue_command("hog");
  const auto modest = enqueue_command("modest");

  run_all(file);

  EXPECT_EQ(status_of(hog), kFailed);
  EXPECT_EQ(error_reports_of(hog), 1);
  EXPECT_TRUE(contains(error_report_of(hog), "killed by signal 6"));  // bad_alloc, then abort
  EXPECT_TRUE(contains(log_of(hog), "std::bad_alloc"));
  EXPECT_EQ(status_of(modest), kCompleted);
}

TEST_F(CommandJobTest, a_command_that_prints_a_lot_leaves_bounded_tails_in_the_log) {
  const auto file = allowlist({{"chatty", helper_command({"print", "5000000"})}});
  const auto id = enqueue_command("chatty");

  run_all(file);

  EXPECT_EQ(status_of(id), kCompleted);
  const auto log = log_of(id);
  EXPECT_LE(log.size(), static_cast<std::size_t>(pg::kJobLogLimit));
  EXPECT_TRUE(contains(log, "stdout (last 2048 of 500002"));  // and the result line
  EXPECT_TRUE(contains(log, "line 104309 \n{\"printed\":5000000}\nstderr (last"));
  EXPECT_TRUE(contains(log, "stderr (last 2048 of 5000000 bytes)"));
  EXPECT_FALSE(contains(log, "line 1 of the output"));
  EXPECT_EQ(result_of(id), (json{{"printed", 5000000}}));
}

TEST_F(CommandJobTest, output_that_is_not_utf8_reaches_the_log_with_replacement_characters) {
  const auto file = allowlist({{"binary", helper_command({"binary"})}});
  const auto id = enqueue_command("binary");

  run_all(file);

  EXPECT_EQ(status_of(id), kCompleted);
  const auto log = log_of(id);
  EXPECT_TRUE(contains(log, "\xEF\xBF\xBD not utf-8 \xEF\xBF\xBD( and a NUL: \xEF\xBF\xBD end"));
  EXPECT_FALSE(result_of(id));
}

TEST_F(CommandJobTest, only_a_last_line_that_is_a_json_object_becomes_the_result) {
  const auto file = allowlist(
      {{"last", helper_command({"last-line", "{line}"},
                               {{"fields", {{"line", {{"type", "string"}, {"max_length", 100}}}}}})}});
  const auto object = enqueue_command("last", {{"line", R"({"rows": 3})"}});
  const auto array = enqueue_command("last", {{"line", "[1, 2]"}});
  const auto text = enqueue_command("last", {{"line", "{not json"}});

  run_all(file);

  for (const auto id : {object, array, text}) EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(result_of(object), (json{{"rows", 3}}));
  EXPECT_FALSE(result_of(array));
  EXPECT_FALSE(result_of(text));
}

TEST_F(CommandJobTest, a_command_gets_only_its_environment_directory_devnull_and_three_descriptors) {
  const TempDir dir;
  const auto file = allowlist({{"env", helper_command({"env"}, {{"env", {{"LANG", "C.UTF-8"}}},
                                                                {"inherit_env", {"CMDTEST_PASSED", "CMDTEST_UNSET"}},
                                                                {"working_directory", dir.path()}})}});
  const auto id = enqueue_command("env");

  const auto result = run_command_jobs(file, {}, {{"CMDTEST_PASSED", "yes"},
                                                  {"CMDTEST_NOT_LISTED", "no"},
                                                  {"CMDTEST_UNSET", std::nullopt}});
  ASSERT_EQ(result.exit_code, kOk) << shown(result);

  ASSERT_EQ(status_of(id), kCompleted) << log_of(id);
  const auto seen = result_of(id).value_or(json::object());
  EXPECT_EQ(seen["env"], (json{{"LANG", "C.UTF-8"},
                               {"CMDTEST_PASSED", "yes"},
                               {"JOBRUNNER_JOB_ID", std::to_string(id)},
                               {"JOBRUNNER_ATTEMPT", "1"}}));
  EXPECT_EQ(seen["cwd"], dir.path());
  EXPECT_EQ(seen["stdin_bytes"], 0);
  EXPECT_EQ(seen["fds"], (json{0, 1, 2}));
}

TEST_F(CommandJobTest, an_unknown_command_or_a_bad_field_fails_as_a_user_error_and_runs_nothing) {
  const TempDir dir;
  const auto file = allowlist(
      {{"touch", helper_command({"grandchild", dir.file("ran-{name}")},
                                {{"fields", {{"name", {{"type", "string"}, {"max_length", 4},
                                                       {"pattern", "[a-z]+"}}}}}})}});
  const auto unknown = enqueue_command("rm", {{"path", "/"}});
  const auto too_long = enqueue_command("touch", {{"name", "abcde"}});
  const auto hostile = enqueue_command("touch", {{"name", "a;b"}});
  const auto wrong_type = enqueue_command("touch", {{"name", 12}});

  run_all(file);

  for (const auto id : {unknown, too_long, hostile, wrong_type}) {
    EXPECT_EQ(status_of(id), kFailed);
    EXPECT_EQ(error_reports_of(id), 0);
    EXPECT_EQ(notices_of(id), 1);
    EXPECT_FALSE(result_of(id));
    EXPECT_FALSE(contains(log_of(id), "pid "));  // no process was started
  }
  EXPECT_TRUE(contains(log_of(unknown), "unknown command \"rm\": the allowlist " + file + " has touch"));
  EXPECT_TRUE(contains(log_of(too_long), "field 'name' is 5 characters long"));
  EXPECT_TRUE(contains(log_of(hostile), "field 'name' does not match the pattern [a-z]+"));
  EXPECT_TRUE(contains(log_of(wrong_type), "field 'name' must be a string"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST_F(CommandJobTest, a_bad_allowlist_file_exits_78_naming_it_and_claims_nothing) {
  const TempDir dir;
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.file(name)) << text;
    return dir.file(name);
  };
  struct Case {
    std::string file;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {dir.file("missing.json"), "cannot be read: No such file or directory"},
      {write("bad.json", "{\"commands\": {\"a\": "), "is not valid JSON"},
      {write("regex.json", json{{"commands", {{"a", helper_command({"{x}"}, {{"fields", {{"x", {{"type", "string"}, {"pattern", "(("}}}}}})}}}}.dump()),
       "is not a valid regular expression"},
      {write("relative.json", R"({"commands": {"a": {"executable": "usr/bin/true"}}})"),
       "must be an absolute path"},
      {write("unknown.json", json{{"commands", {{"a", helper_command({}, {{"run_in_shell", true}})}}}}.dump()),
       "unknown key 'run_in_shell'"},
      {write("twice.json", R"({"commands": {"a": {"executable": "/bin/true"}, "a": {"executable": "/bin/false"}}})"),
       "the key \"a\" appears twice"},
  };
  const auto id = enqueue_command("a");
  for (const auto& c : cases) {
    const auto result = run_command_jobs(c.file);
    EXPECT_EQ(result.exit_code, kConfig) << shown(result);
    EXPECT_TRUE(contains(result.err, "commands file " + c.file + ": ")) << shown(result);
    EXPECT_TRUE(contains(result.err, c.expected)) << shown(result);
  }
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(attempts_of(id), 0);
  EXPECT_EQ(count("SELECT count(*) FROM runner_run"), 0);
}

TEST_F(CommandJobTest, the_default_allowlist_is_under_etc_jobrunner) {
  const auto help = run_program({bin("run-command-jobs"), "--help"});
  EXPECT_EQ(help.exit_code, kOk);
  EXPECT_TRUE(contains(help.out, "--commands FILE"));
  EXPECT_TRUE(contains(help.out, "/etc/jobrunner/commands.json"));
}

TEST_F(CommandJobTest, an_allowlist_that_others_may_write_is_warned_about) {
  const auto file = allowlist({{"ok", helper_command({"exit", "0"})}});
  std::filesystem::permissions(file, std::filesystem::perms(0666));
  const auto result = run_command_jobs(file);
  EXPECT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.err, file + " may be written by any user (mode 0666)"));
}

TEST_F(CommandJobTest, an_allowlist_without_commands_is_warned_about) {
  const auto file = allowlist(json::object());
  const auto result = run_command_jobs(file);
  EXPECT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_TRUE(contains(result.err, file + " allows no command")) << shown(result);
}

TEST_F(CommandJobTest, a_command_naming_a_user_runs_as_that_user_when_the_runner_is_root) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (the runner must be root to switch users)";
  const auto file = allowlist({{"who", helper_command({"env"}, {{"user", "nobody"}})}});
  const auto id = enqueue_command("who");

  run_all(file);

  ASSERT_EQ(status_of(id), kCompleted) << log_of(id);
  const auto* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  const auto seen = result_of(id).value_or(json::object());
  EXPECT_EQ(seen["uid"], nobody->pw_uid);
  EXPECT_EQ(seen["gid"], nobody->pw_gid);
  std::vector<gid_t> groups(64);
  int n = static_cast<int>(groups.size());
  ASSERT_GE(getgrouplist("nobody", nobody->pw_gid, groups.data(), &n), 0);
  groups.resize(static_cast<std::size_t>(n));
  auto seen_groups = seen["groups"].get<std::vector<gid_t>>();
  std::sort(seen_groups.begin(), seen_groups.end());
  std::sort(groups.begin(), groups.end());
  EXPECT_EQ(seen_groups, groups);  // nobody's groups only, not root's
}

TEST_F(CommandJobTest, a_command_naming_a_user_makes_an_unprivileged_runner_exit_78_naming_it) {
  const auto file = allowlist({{"ok", helper_command({"exit", "0"})},
                               {"as-nobody", helper_command({"exit", "0"}, {{"user", "nobody"}})}});
  const auto id = enqueue_command("ok");
  std::vector<std::string> argv = {bin("run-command-jobs"), "--db", db.conninfo(), "--commands", file};
  if (geteuid() == 0) {
    // As an unprivileged user: nobody (the file and the binaries are readable by all).
    const auto* nobody = getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=" + std::to_string(nobody->pw_uid),
                               "--regid=" + std::to_string(nobody->pw_gid), "--clear-groups", "--"});
  }
  const auto result = run_program(argv);

  EXPECT_EQ(result.exit_code, kConfig) << shown(result);
  EXPECT_TRUE(contains(result.err, "command 'as-nobody': names user 'nobody', but a command can "
                                   "run as another user only when the runner runs as root"))
      << shown(result);
  EXPECT_EQ(status_of(id), kWaiting);
}

TEST_F(CommandJobTest, isolated_jobs_carry_their_result_and_output_back_from_the_child) {
  const auto file = allowlist({{"echo", helper_command({"argv", "isolated"})},
                               {"fails", helper_command({"exit", "3", "isolated failure"})}});
  const auto echo = enqueue_command("echo");
  const auto fails = enqueue_command("fails");

  run_all(file, {"--isolate"});

  EXPECT_EQ(status_of(echo), kCompleted);
  EXPECT_EQ(result_of(echo), (json{{"argv", {"isolated"}}}));
  EXPECT_TRUE(contains(log_of(echo), "exited with status 0"));
  EXPECT_EQ(status_of(fails), kFailed);
  EXPECT_TRUE(contains(log_of(fails), "isolated failure"));
  EXPECT_EQ(error_reports_of(fails), 1);
}

TEST_F(CommandJobTest, the_packages_runner_role_runs_command_jobs_with_its_own_grants) {
  const auto upgrade = jobctl({"db", "upgrade", "--migrations-dir", kPackage.string()});
  ASSERT_EQ(upgrade.exit_code, kOk) << shown(upgrade);
  const auto grants = jobctl({"db", "permissions", "--migrations-dir", kPackage.string()});
  ASSERT_EQ(grants.exit_code, kOk) << shown(grants);
  const auto file = allowlist({{"echo", helper_command({"argv", "{word}"},
                                                       {{"fields", {{"word", {{"type", "string"}}}}}})},
                               {"fails", helper_command({"exit", "3"})}});
  const auto enqueued = run_program({bin("jobctl"), "--db", db.conninfo("jobrunner_command_enqueuer"),
                                     "enqueue", "command", "--json",
                                     R"({"command": "echo", "args": {"word": "hello"}})"});
  ASSERT_EQ(enqueued.exit_code, kOk) << shown(enqueued);
  const auto id = std::stoll(lines_of(enqueued.out).at(0));
  const auto failing = enqueue_command("fails");

  const auto result = run_program({bin("run-command-jobs"), "--db",
                                   db.conninfo("jobrunner_command_runner"), "--commands", file});

  EXPECT_EQ(result.exit_code, kOk) << shown(result);
  EXPECT_EQ(status_of(id), kCompleted);
  EXPECT_EQ(result_of(id), (json{{"argv", {"hello"}}}));
  EXPECT_EQ(status_of(failing), kFailed);
  EXPECT_EQ(error_reports_of(failing), 1);
}

}  // namespace
}  // namespace jobrunner::jobctl_test
