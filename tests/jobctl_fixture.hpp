#pragma once
// Shared by the tests/jobctl_*_test.cpp suites: runs the real jobctl and
// run-foo-jobs against the test's database, puts jobs in any status, and
// takes a snapshot of everything a command could change, so a refused
// command can be shown to have changed nothing.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "foo/foo_job.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/pg/migrations.hpp"
#include "test_database.hpp"

namespace jobrunner::jobctl_test {

using testing::bin;
using testing::ProcessResult;
using testing::run_program;

inline constexpr int kOk = 0, kUsage = 64, kDataError = 65;
inline constexpr std::int64_t kWaiting = 0, kRunning = 1, kCompleted = 2, kFailed = 3,
                              kSuspended = 4, kCancelled = 5;

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << part << "' not found in:\n" << text;
}

inline std::string shown(const ProcessResult& result) {
  return "exit " + std::to_string(result.exit_code) + "\n--- stdout:\n" + result.out +
         "--- stderr:\n" + result.err;
}

// A file removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("jobctl-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

class JobctlTest : public testing::DatabaseTest {
 protected:
  ProcessResult jobctl(std::vector<std::string> args) {
    args.insert(args.begin(), {bin("jobctl"), "--db", db.conninfo()});
    return run_program(args);
  }
  // jobctl with a shell redirection, e.g. jobctl_sh("enqueue foo --from - < file").
  ProcessResult jobctl_sh(const std::string& command_line) {
    return run_program(
        {"/bin/sh", "-c", "exec '" + bin("jobctl") + "' --db \"$JOBCTL_DB\" " + command_line},
        {{"JOBCTL_DB", db.conninfo()}});
  }
  ProcessResult run_foo_jobs(std::vector<std::string> args = {},
                             const std::optional<std::string>& user = std::nullopt) {
    args.insert(args.begin(), {bin("run-foo-jobs"), "--db", db.conninfo(user)});
    return run_program(args);
  }

  std::int64_t enqueue(const nlohmann::json& metadata = nlohmann::json::object(),
                       std::optional<std::string> requester = std::nullopt) {
    auto conn = db.connect();
    auto tx = conn.begin();
    pg::EnqueueRequest request;
    request.target_id = db.make_foo();
    request.metadata = metadata.is_null() ? nlohmann::json::object() : metadata;
    request.requester = std::move(requester);
    const auto id = store.enqueue(tx, request);
    tx.commit();
    return id;
  }

  // A job put straight into `status` (with a lease when RUNNING, a
  // date_finished `finished_ago` ago when finished).
  std::int64_t job_in(std::int64_t status, const std::string& finished_ago = "1 minute") {
    const auto id = enqueue();
    db.sql("UPDATE job SET status = $2::smallint, "
           "lease_token = CASE WHEN $2::smallint = 1 THEN nextval('job_lease_token_seq') END, "
           "lease_expires = CASE WHEN $2::smallint = 1 THEN now() + interval '5 minutes' END, "
           "lease_owner = CASE WHEN $2::smallint = 1 THEN 'otherhost:42' END, "
           "attempt_count = CASE WHEN $2::smallint IN (0, 4) THEN 0 ELSE 1 END, "
           "date_started = CASE WHEN $2::smallint IN (0, 4) THEN NULL ELSE now() END, "
           "date_finished = CASE WHEN $2::smallint IN (2, 3, 5) "
           "                     THEN now() - $3::interval END "
           "WHERE id = $1",
           id, static_cast<int>(status), finished_ago);
    return id;
  }

  // One job in each status, by status value.
  std::map<std::int64_t, std::int64_t> one_job_in_every_status() {
    std::map<std::int64_t, std::int64_t> ids;
    for (std::int64_t s = kWaiting; s <= kCancelled; ++s) ids[s] = job_in(s);
    return ids;
  }

  // A runner_run row of `type` that started `started_ago` ago and ended
  // `finished_ago` ago (never, if nullopt: running, or died).
  std::int64_t run_of(const std::string& type, const std::string& started_ago,
                      const std::optional<std::string>& finished_ago) {
    return db.scalar("INSERT INTO runner_run (job_type, hostname, pid, date_started, "
                     "                        date_finished, jobs_run, jobs_not_completed, "
                     "                        exit_code) "
                     "VALUES ($1, 'testhost', 42, now() - $2::interval, now() - $3::interval, "
                     "        CASE WHEN $3 IS NOT NULL THEN 0 END, "
                     "        CASE WHEN $3 IS NOT NULL THEN 0 END, "
                     "        CASE WHEN $3 IS NOT NULL THEN 0 END) "
                     "RETURNING id",
                     type, started_ago, finished_ago);
  }
  bool run_exists(std::int64_t id) {
    return db.scalar("SELECT count(*) FROM runner_run WHERE id = $1", id) == 1;
  }

  std::int64_t status_of(std::int64_t id) {
    return db.scalar("SELECT status FROM job WHERE id = $1", id);
  }
  std::int64_t count(const std::string& sql) { return db.scalar(sql); }

  // Every row a jobctl command may write, as text: equal snapshots before and
  // after a command mean it changed nothing.
  std::string snapshot() {
    std::string out;
    for (const char* table : {"job", "foojob", "error_report", "job_notification",
                              "job_type_pause", "foo_frozzle", "runner_run"}) {
      const auto rows = db.sql(std::string("SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY "
                                           "t::text), '') AS s FROM ") +
                               table + " AS t");
      out += std::string("== ") + table + "\n" + rows.front().text("s") + "\n";
    }
    return out;
  }

  // Asserts that a command failed with `code`, nothing on stdout, and on
  // stderr one line (a usage error adds "Run with --help for usage.")
  // containing each of `parts`.
  void expect_refused(const ProcessResult& result, int code,
                      const std::vector<std::string>& parts) {
    EXPECT_EQ(result.exit_code, code) << shown(result);
    const auto err = lines_of(result.err);
    EXPECT_EQ(err.size(), code == kUsage ? 2u : 1u) << shown(result);
    if (!err.empty()) {
      for (const auto& part : parts) EXPECT_TRUE(contains(err.front(), part)) << shown(result);
    }
    EXPECT_TRUE(result.out.empty()) << shown(result);
  }

  // Applies a package's patches from its directory (`dir`, named after the
  // package), as `jobctl db upgrade --migrations-dir dir` does.
  void apply_package(const std::filesystem::path& dir) {
    auto conn = db.connect();
    const auto package = pg::load_package(dir, dir / "security.cfg");
    ASSERT_EQ(package.name, dir.filename().string());
    (void)pg::upgrade(conn, pg::all_patches(pg::embedded_patches(), {package}));
  }

  pg::JobStore store{foo::foo_job_type().spec};
};

}  // namespace jobrunner::jobctl_test
