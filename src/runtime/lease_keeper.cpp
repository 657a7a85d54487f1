#include "lease_keeper.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "jobrunner/runtime/stop_signal.hpp"

namespace jobrunner {
namespace {

// How often the keeper looks for a stop request.
constexpr Duration kTick{50};

}  // namespace

LeaseKeeper::LeaseKeeper(pg::Connection& conn, const pg::JobStore& store, const Job& job,
                         Duration lease, Duration grace, std::function<void()> before_give_back)
    : conn_(conn),
      store_(store),
      job_(job),
      lease_(lease),
      grace_(grace),
      before_give_back_(std::move(before_give_back)),
      thread_([this] { loop(); }) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void LeaseKeeper::loop() {
  using Clock = std::chrono::steady_clock;
  const auto interval = std::max(lease_ / 3, Duration(10));
  auto next_heartbeat = Clock::now() + interval;
  std::optional<Clock::time_point> give_back_at;
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, kTick, [this] { return stop_; })) {
    const auto now = Clock::now();
    if (!give_back_at && stop_requested()) {
      give_back_at = now + grace_;
      spdlog::info("job {}: stop requested; waiting up to {} for it to finish", job_.id,
                   format_duration(grace_));
    }
    if (give_back_at && now >= *give_back_at) give_back_and_exit();
    if (!lost_ && now >= next_heartbeat) {
      heartbeat();
      next_heartbeat = now + interval;
    }
  }
}

void LeaseKeeper::heartbeat() {
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

void LeaseKeeper::give_back_and_exit() {
  if (before_give_back_) before_give_back_();
  try {
    auto tx = conn_.begin();
    const bool given = store_.give_back(tx, job_, "the runner stopped before the job finished");
    tx.commit();
    if (given) {
      spdlog::warn("job {}: still running after the {} grace period; given back (WAITING, "
                   "attempt not counted)",
                   job_.id, format_duration(grace_));
    }
  } catch (const std::exception& e) {
    spdlog::error("job {}: cannot give the job back ({}); it is rescued when its lease expires",
                  job_.id, e.what());
  }
  spdlog::info("stopped by signal");
  spdlog::default_logger()->flush();
  // A graceful stop exits 0. The job's own transaction dies with this
  // process's connection, so the server rolls its work back.
  _exit(0);
}

}  // namespace jobrunner
