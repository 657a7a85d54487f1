#include "lease_keeper.hpp"

#include <spdlog/spdlog.h>

namespace jobrunner {

LeaseKeeper::LeaseKeeper(pg::Connection& conn, const pg::JobStore& store, const Job& job,
                         Duration lease)
    : conn_(conn), store_(store), job_(job), lease_(lease), thread_([this] { loop(); }) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void LeaseKeeper::loop() {
  const auto interval = std::max(lease_ / 3, Duration(10));
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval, [this] { return stop_; })) {
    try {
      auto tx = conn_.begin();
      const bool held = store_.heartbeat(tx, job_, lease_);
      tx.commit();
      if (!held) {
        lost_ = true;
        spdlog::warn("job {}: lost its lease while running (rescued or moved by an operator); "
                     "its result will be refused",
                     job_.id);
        return;
      }
      spdlog::debug("job {}: lease extended by {}", job_.id, format_duration(lease_));
    } catch (const std::exception& e) {
      // The runner's own connection will meet the same trouble and stop; the
      // lease then expires and the job is rescued.
      spdlog::warn("job {}: cannot extend the lease: {}", job_.id, e.what());
    }
  }
}

}  // namespace jobrunner
