#pragma once
// The custodian of the leases of every job a runner holds, on a thread and a
// connection of its own, for the whole run:
//  - every third of the lease it extends the leases of all held jobs in one
//    statement, so long jobs keep theirs while a dead runner's run out; and
//    the type's cron lock (runner_lock) with them, when the run holds it;
//  - when it could not extend a lease for longer than the lease itself (the
//    database is unreachable), the lease has certainly expired: the job may
//    already run elsewhere, so the keeper abandons the attempt (abandoned()
//    says so: an isolated job's process is killed, nothing is recorded for
//    it) and stops extending it; a lost cron lock is reported by
//    type_lock_lost();
//  - with the leases, it marks the run alive (runner_run.last_seen), at
//    least every pg::kRunnerSeenInterval, also when it holds no lease;
//  - it writes no job's state: ends and give-backs are the completer's.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/runtime/runner.hpp"

namespace jobrunner {

class LeaseKeeper {
 public:
  // `type_lock`: the cron lock this run holds, if any (token, lease);
  // `run_id`: the run's runner_run row, if recorded, whose last_seen the
  // keeper refreshes.
  LeaseKeeper(std::string conninfo, const pg::JobStore& store, Duration lease,
              std::optional<TypeLockHold> type_lock = {},
              std::optional<std::int64_t> run_id = {});
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // The runner claimed the jobs (prefetched or running) / no longer holds
  // the job (its end was written, it was given back, or it is left for a
  // rescue).
  void hold(const std::vector<Job>& jobs);
  void release(std::int64_t job_id);
  // The jobs held whose leases are not known lost.
  std::vector<Job> held() const;
  // True once the keeper gave up the job's attempt: its lease has certainly
  // expired while it could not be extended.
  bool abandoned(std::int64_t job_id) const;
  // True once the cron lock could not be extended: taken over by another
  // run, or certainly expired. The run must end.
  bool type_lock_lost() const { return type_lock_lost_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  void loop();
  void heartbeat();
  void abandon_expired(Clock::time_point now);
  pg::Connection& connection();

  const std::string conninfo_;
  const pg::JobStore& store_;
  const Duration lease_;
  std::optional<pg::Connection> conn_;  // the keeper thread's only

  mutable std::mutex mutex_;
  struct Held {
    Job job;
    // By then the lease has expired for sure, unless extended: the last
    // claim or extension acknowledged, plus the lease.
    Clock::time_point expired_by;
    bool lost = false;       // its lease was taken or abandoned: no longer extended
    bool abandoned = false;  // given up by abandon_expired()
  };
  std::map<std::int64_t, Held> held_;
  std::optional<std::string> type_lock_token_;
  Duration type_lock_lease_;
  Clock::time_point type_lock_expired_by_;
  std::atomic<bool> type_lock_lost_{false};
  const std::optional<std::int64_t> run_id_;
  std::string last_failure_;  // why the last heartbeat failed, for the log
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace jobrunner
