#pragma once
// Test support: every test gets its own freshly migrated database on the
// real PostgreSQL that scripts/test.sh starts (JOBRUNNER_TEST_DSN), copied
// from a template database made once per schema version.

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jobrunner/core/job.hpp"
#include "jobrunner/core/status.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner::testing {

// The server's conninfo without a dbname; fails the test if unset.
std::string server_conninfo();

class TestDatabase {
 public:
  TestDatabase();  // CREATE DATABASE ... TEMPLATE <migrated template>
  ~TestDatabase();  // DROP DATABASE ... WITH (FORCE)
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& name() const { return name_; }
  // Conninfo for this database, as the server's superuser or as `user`.
  std::string conninfo(const std::optional<std::string>& user = std::nullopt) const;
  pg::Connection connect(const std::optional<std::string>& user = std::nullopt) const;

  // Runs one statement in its own committed transaction.
  template <typename... Args>
  pg::Rows sql(std::string_view statement, Args&&... args) const {
    auto conn = connect();
    auto tx = conn.begin();
    auto rows = tx.exec(statement, std::forward<Args>(args)...);
    tx.commit();
    return rows;
  }
  // A single integer from a query, e.g. a count.
  template <typename... Args>
  std::int64_t scalar(std::string_view statement, Args&&... args) const {
    auto rows = sql(statement, std::forward<Args>(args)...);
    const auto& row = rows.at(0);
    return row.integer(row.columns().at(0));
  }
  std::int64_t make_foo(const std::string& name = "a foo") const;

 private:
  std::string name_;
};

// An operator's move of one job to `to` (what jobctl suspend, resume, retry
// and cancel do, through pg::move_jobs), in `tx`; only the transition table
// limits it. Returns the job as moved. Throws NotFound for an unknown id and
// InvalidTransition for a move the table forbids, writing nothing then.
Job move_job(pg::Transaction& tx, std::int64_t id, JobStatus to,
             const std::optional<std::string>& reason = std::nullopt);

// A fixture with one fresh database per test.
class DatabaseTest : public ::testing::Test {
 protected:
  TestDatabase db;
};

struct ProcessResult {
  int exit_code = -1;  // 128 + signal number if killed
  std::string out;
  std::string err;
};

// Path of a built executable (jobctl, run-foo-jobs).
std::string bin(const std::string& name);

// Runs argv[0] (a path) with the caller's environment plus `env` (a value of
// std::nullopt unsets the variable), waits, and returns what it printed.
ProcessResult run_program(const std::vector<std::string>& argv,
                          const std::map<std::string, std::optional<std::string>>& env = {});

// Starts a program without waiting; returns its pid (stdout/stderr to files
// under the returned pid's log, see wait_program).
int start_program(const std::vector<std::string>& argv,
                  const std::map<std::string, std::optional<std::string>>& env = {});
ProcessResult wait_program(int pid);
// What a program started with start_program has written to stderr so far
// (the runners flush every log line).
std::string stderr_so_far(int pid);

}  // namespace jobrunner::testing
