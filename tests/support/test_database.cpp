#include "test_database.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "jobrunner/pg/admin.hpp"
#include "jobrunner/pg/migrations.hpp"

extern char** environ;

namespace jobrunner::testing {
namespace {

std::string with_dbname(const std::string& dbname, const std::optional<std::string>& user) {
  std::string out = server_conninfo() + " dbname=" + dbname;
  if (user) out += " user=" + *user;
  return out;
}

// One template per schema version: its name carries a hash of the patches.
std::string template_name() {
  std::string all;
  for (const auto& patch : pg::embedded_patches()) all += patch.name + patch.text;
  return "jobrunner_template_" + std::to_string(std::hash<std::string>{}(all) % 100000000);
}

// Makes the template once; other test processes wait on the advisory lock.
void ensure_template(const std::string& name) {
  auto admin = pg::Connection::open(with_dbname("postgres", std::nullopt));
  admin.exec_outside_transaction("SELECT pg_advisory_lock(4242)");
  {
    auto tx = admin.begin();
    const bool exists = !tx.exec("SELECT 1 FROM pg_database WHERE datname = $1", name).empty();
    tx.commit();
    if (exists) return;  // the lock goes with the connection
  }
  const std::string building = name + "_building";
  admin.exec_outside_transaction("DROP DATABASE IF EXISTS " + building);
  admin.exec_outside_transaction("CREATE DATABASE " + building);
  {
    auto conn = pg::Connection::open(with_dbname(building, std::nullopt));
    pg::upgrade(conn, pg::embedded_patches());
  }
  admin.exec_outside_transaction("ALTER DATABASE " + building + " RENAME TO " + name);
}

std::string unique_name() {
  static std::atomic<int> counter{0};
  std::random_device random;
  return "jrtest_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(random() % 1000000);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string log_path(int pid, const char* stream) {
  return (std::filesystem::temp_directory_path() /
          ("jobrunner-test-" + std::to_string(pid) + "." + stream))
      .string();
}

}  // namespace

std::string server_conninfo() {
  const char* dsn = std::getenv("JOBRUNNER_TEST_DSN");
  if (dsn == nullptr || *dsn == '\0') {
    ADD_FAILURE() << "JOBRUNNER_TEST_DSN is not set: run the suite with scripts/test.sh, which "
                     "starts PostgreSQL, or point it at a server (e.g. 'host=/tmp port=5432')";
    throw std::runtime_error("JOBRUNNER_TEST_DSN is not set");
  }
  return dsn;
}

TestDatabase::TestDatabase() : name_(unique_name()) {
  const auto tmpl = template_name();
  ensure_template(tmpl);
  auto admin = pg::Connection::open(with_dbname("postgres", std::nullopt));
  admin.exec_outside_transaction("CREATE DATABASE " + name_ + " TEMPLATE " + tmpl);
}

TestDatabase::~TestDatabase() {
  try {
    auto admin = pg::Connection::open(with_dbname("postgres", std::nullopt));
    admin.exec_outside_transaction("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception&) {
    // A leftover database is harmless: the server is thrown away after the run.
  }
}

std::string TestDatabase::conninfo(const std::optional<std::string>& user) const {
  return with_dbname(name_, user);
}

pg::Connection TestDatabase::connect(const std::optional<std::string>& user) const {
  return pg::Connection::open(conninfo(user));
}

std::int64_t TestDatabase::make_foo(const std::string& name) const {
  return scalar("INSERT INTO foo (name) VALUES ($1) RETURNING id", name);
}

Job move_job(pg::Transaction& tx, std::int64_t id, JobStatus to,
             const std::optional<std::string>& reason) {
  pg::MoveRequest request{.to = to, .from = {}, .verb = "test", .reason = reason};
  for (int code = 0; const auto status = status_from_code(code); ++code) {
    request.from.push_back(*status);
  }
  pg::move_jobs(tx, pg::JobMatch{.ids = {id}}, request);
  return pg::find_job(tx, id).value();
}

std::string bin(const std::string& name) { return std::string(JOBRUNNER_BIN_DIR) + "/" + name; }

int start_program(const std::vector<std::string>& argv,
                  const std::map<std::string, std::optional<std::string>>& env) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) merged[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [key, value] : env) {
    if (value) {
      merged[key] = *value;
    } else {
      merged.erase(key);
    }
  }
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : merged) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  // The child's output goes to files named after a placeholder, renamed once
  // the pid is known.
  static std::atomic<int> counter{0};
  const auto tag = std::to_string(getpid()) + "-" + std::to_string(counter++);
  const auto out_tmp = log_path(0, ("out-" + tag).c_str());
  const auto err_tmp = log_path(0, ("err-" + tag).c_str());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv.at(0));
  std::filesystem::rename(out_tmp, log_path(pid, "out"));
  std::filesystem::rename(err_tmp, log_path(pid, "err"));
  return pid;
}

ProcessResult wait_program(int pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  ProcessResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(log_path(pid, "out"));
  result.err = slurp(log_path(pid, "err"));
  std::filesystem::remove(log_path(pid, "out"));
  std::filesystem::remove(log_path(pid, "err"));
  return result;
}

std::string stderr_so_far(int pid) { return slurp(log_path(pid, "err")); }

ProcessResult run_program(const std::vector<std::string>& argv,
                          const std::map<std::string, std::optional<std::string>>& env) {
  return wait_program(start_program(argv, env));
}

}  // namespace jobrunner::testing
