#pragma once
// The custodian of one running job's lease, on a thread and a connection of
// its own, while the job runs (in this process or in a child):
//  - it extends the lease every third of its length, so a long job keeps it
//    while a dead runner's lease still runs out;
//  - after a stop signal, once the grace period has passed without the job
//    finishing, it calls `before_give_back` (e.g. to kill the child), gives
//    the job back (WAITING, attempt not counted) and ends the process with 0.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"
#include "jobrunner/pg/job_store.hpp"

namespace jobrunner {

class LeaseKeeper {
 public:
  // `conn` is used only by the keeper's thread while the keeper lives.
  LeaseKeeper(pg::Connection& conn, const pg::JobStore& store, const Job& job, Duration lease,
              Duration grace, std::function<void()> before_give_back = {});
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // True once a heartbeat found the lease gone (rescued, or moved by an
  // operator); the job's finish will then be refused.
  bool lost() const noexcept { return lost_; }

 private:
  void loop();
  void heartbeat();
  [[noreturn]] void give_back_and_exit();

  pg::Connection& conn_;
  const pg::JobStore& store_;
  const Job& job_;
  const Duration lease_;
  const Duration grace_;
  std::function<void()> before_give_back_;
  std::atomic<bool> lost_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace jobrunner
