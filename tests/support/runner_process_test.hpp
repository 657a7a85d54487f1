#pragma once
// A fixture for tests that run the real runner executables against their
// own database: enqueue FooJobs, build a runner's command line, and read a
// job's state back.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "foo/foo_job.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "program.hpp"
#include "test_database.hpp"

namespace jobrunner::testing {

// Holds every FooJob inside its work for as long as it is closed: a FooJob's
// first statement in its transaction is its INSERT INTO foo_frozzle, which
// waits for this SHARE lock. So a test knows, instead of hoping, that a job
// is mid-run (see RunnerProcessTest::jobs_at_gate), and decides when it may
// finish. Opened on release() or destruction; the work of a job whose runner
// died meanwhile is rolled back by the server.
class WorkGate {
 public:
  explicit WorkGate(const TestDatabase& db) : conn_(db.connect()), tx_(conn_.begin()) {
    tx_->exec("LOCK TABLE foo_frozzle IN SHARE MODE");
  }
  void release() { tx_.reset(); }  // rolled back: the lock goes

 private:
  pg::Connection conn_;
  std::optional<pg::Transaction> tx_;
};

class RunnerProcessTest : public DatabaseTest {
 protected:
  static constexpr std::int64_t kWaiting = 0, kRunning = 1, kCompleted = 2, kFailed = 3;
  // Logged by the lease keeper once it has seen the first SIGTERM while it
  // holds a job: the runner claims nothing more from then on.
  static constexpr const char* kStopSeen = "stop requested; waiting up to";
  // Logged (--log-level debug) by a daemon whose claim found nothing, before
  // it waits: a job committed after this line is not claimed until a NOTIFY,
  // its due time or the next poll wakes the daemon.
  static constexpr const char* kWaitingForWork = "nothing to claim; waiting up to";

  // Enqueues a FooJob for a new foo, committed.
  std::int64_t enqueue(nlohmann::json metadata = nlohmann::json::object(),
                       std::optional<int> max_retries = std::nullopt) {
    const auto foo = db.make_foo();
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto id = store.enqueue(
        tx, {.target_id = foo, .metadata = std::move(metadata), .max_retries = max_retries});
    tx.commit();
    return id;
  }

  // run-<type>-jobs --db <this test's database> <options...>
  std::vector<std::string> runner_argv(const std::vector<std::string>& options,
                                       const std::string& type = "foo") const {
    std::vector<std::string> argv{bin("run-" + type + "-jobs"), "--db", db.conninfo()};
    argv.insert(argv.end(), options.begin(), options.end());
    return argv;
  }

  std::int64_t status_of(std::int64_t id) const {
    return db.scalar("SELECT status FROM job WHERE id = $1", id);
  }
  std::int64_t attempts_of(std::int64_t id) const {
    return db.scalar("SELECT attempt_count FROM job WHERE id = $1", id);
  }
  std::int64_t frozzles_of(std::int64_t id) const {
    return db.scalar("SELECT count(*) FROM foo_frozzle WHERE job = $1", id);
  }
  std::string log_of(std::int64_t id) const {
    return db.sql("SELECT coalesce(log, '') AS log FROM job WHERE id = $1", id).at(0).text("log");
  }
  bool lease_cleared(std::int64_t id) const {
    return db.scalar("SELECT count(*) FROM job WHERE id = $1 AND lease_token IS NULL AND "
                     "lease_owner IS NULL AND lease_expires IS NULL",
                     id) == 1;
  }
  bool holds_lease(std::int64_t id) const {
    return db.scalar("SELECT count(*) FROM job WHERE id = $1 AND lease_token IS NOT NULL AND "
                     "lease_expires > now()",
                     id) == 1;
  }
  bool running(std::int64_t id) const { return status_of(id) == kRunning; }
  // How many jobs are held mid-run by a WorkGate (sessions on this test's
  // database waiting for its lock).
  std::int64_t jobs_at_gate() const {
    return db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND wait_event_type = 'Lock' AND query LIKE '%foo_frozzle%'");
  }

  pg::JobStore store{foo::foo_job_type().spec};
};

}  // namespace jobrunner::testing
