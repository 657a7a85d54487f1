#pragma once
// The custodian of the leases of every job a runner holds, on a thread and a
// connection of its own, for the whole run:
//  - every third of the lease it extends the leases of all held jobs in one
//    statement, so long jobs keep theirs while a dead runner's run out;
//  - after a stop signal, once the grace period has passed with jobs still
//    held, it records COMPLETED for the jobs that ran but await a batched
//    completion, gives the others back (WAITING, attempt not counted), kills
//    the isolated jobs' processes, calls `before_exit` on its connection
//    (e.g. to record the end of the run) and ends the process with 0.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"
#include "jobrunner/pg/job_store.hpp"

namespace jobrunner {

class LeaseKeeper {
 public:
  using BeforeExit = std::function<void(pg::Connection&)>;
  LeaseKeeper(std::string conninfo, const pg::JobStore& store, Duration lease, Duration grace,
              BeforeExit before_exit = {});
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // The runner claimed the job / the job ran and awaits a batched completion
  // (still held) / the runner no longer holds it (its end was recorded, or
  // it is left for a rescue).
  void hold(const Job& job);
  void mark_ran(std::int64_t job_id);
  void release(std::int64_t job_id);

 private:
  void loop();
  void heartbeat();
  [[noreturn]] void give_back_and_exit();
  pg::Connection& connection();

  const std::string conninfo_;
  const pg::JobStore& store_;
  const Duration lease_;
  const Duration grace_;
  BeforeExit before_exit_;
  std::optional<pg::Connection> conn_;  // the keeper thread's only

  mutable std::mutex mutex_;
  struct Held {
    Job job;
    bool ran = false;   // awaits a batched completion
    bool lost = false;  // its lease was taken: no longer extended
  };
  std::map<std::int64_t, Held> held_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace jobrunner
