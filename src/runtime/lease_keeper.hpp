#pragma once
// Keeps the lease of one running job alive: a thread that extends it every
// third of its length, on a connection of its own, until destroyed. A long
// job so keeps its lease, while a dead runner's lease still runs out.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"
#include "jobrunner/pg/job_store.hpp"

namespace jobrunner {

class LeaseKeeper {
 public:
  // `conn` is used only by the keeper's thread while the keeper lives.
  LeaseKeeper(pg::Connection& conn, const pg::JobStore& store, const Job& job, Duration lease);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // True once a heartbeat found the lease gone (rescued, or moved by an
  // operator); the job's finish will then be refused.
  bool lost() const noexcept { return lost_; }

 private:
  void loop();

  pg::Connection& conn_;
  const pg::JobStore& store_;
  const Job& job_;
  const Duration lease_;
  std::atomic<bool> lost_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace jobrunner
