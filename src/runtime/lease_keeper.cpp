#include "lease_keeper.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <vector>

#include "jobrunner/runtime/stop_signal.hpp"

namespace jobrunner {
namespace {

// How often the keeper looks for a stop request.
constexpr Duration kTick{50};

}  // namespace

LeaseKeeper::LeaseKeeper(std::string conninfo, const pg::JobStore& store, Duration lease,
                         Duration grace, BeforeExit before_exit)
    : conninfo_(std::move(conninfo)),
      store_(store),
      lease_(lease),
      grace_(grace),
      before_exit_(std::move(before_exit)),
      thread_([this] { loop(); }) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void LeaseKeeper::hold(const Job& job) {
  std::lock_guard lock(mutex_);
  held_.insert_or_assign(job.id, Held{job});
}

void LeaseKeeper::mark_ran(std::int64_t job_id) {
  std::lock_guard lock(mutex_);
  if (auto it = held_.find(job_id); it != held_.end()) it->second.ran = true;
}

void LeaseKeeper::release(std::int64_t job_id) {
  std::lock_guard lock(mutex_);
  held_.erase(job_id);
}

pg::Connection& LeaseKeeper::connection() {
  if (!conn_) conn_ = pg::Connection::open(conninfo_);
  return *conn_;
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
      if (!held_.empty()) {
        spdlog::info("stop requested; waiting up to {} for {} running job(s) to finish",
                     format_duration(grace_), held_.size());
      }
    }
    if (give_back_at && now >= *give_back_at && !held_.empty()) {
      lock.unlock();
      give_back_and_exit();
    }
    if (now >= next_heartbeat) {
      next_heartbeat = now + interval;
      lock.unlock();
      heartbeat();
      lock.lock();
    }
  }
}

void LeaseKeeper::heartbeat() {
  std::vector<Job> jobs;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, held] : held_) {
      if (!held.lost) jobs.push_back(held.job);
    }
  }
  if (jobs.empty()) return;
  try {
    auto tx = connection().begin();
    const auto kept = store_.heartbeat_many(tx, jobs, lease_);
    tx.commit();
    const std::set<std::int64_t> still_held(kept.begin(), kept.end());
    std::lock_guard lock(mutex_);
    for (const auto& job : jobs) {
      if (still_held.contains(job.id)) continue;
      // Either the job just ended (its end committed while this statement
      // waited for its row) or its lease was taken; in the second case the
      // runner's finish is refused and logged as an error then. The same
      // job claimed again meanwhile holds a new lease: not this one.
      auto it = held_.find(job.id);
      if (it == held_.end() || it->second.job.lease_token != job.lease_token) continue;
      it->second.lost = true;
      spdlog::debug("job {}: lease not extended: the job ended or its lease was taken", job.id);
    }
    spdlog::debug("extended the leases of {} job(s) by {}", kept.size(), format_duration(lease_));
  } catch (const std::exception& e) {
    // The runner meets the same trouble on its own connections; if it lasts,
    // the leases expire and the jobs are rescued.
    spdlog::warn("cannot extend the leases of {} job(s): {}", jobs.size(), e.what());
    conn_.reset();
  }
}

// Gives back first, then kills: a worker that sees its child die records a
// failure only through a finish fenced by the lease, which is gone by then.
void LeaseKeeper::give_back_and_exit() {
  std::vector<Job> ran, running;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, held] : held_) (held.ran ? ran : running).push_back(held.job);
  }
  try {
    auto tx = connection().begin();
    store_.complete_many(tx, ran, "completed (recorded at shutdown)");
    for (const auto& job : running) {
      if (store_.give_back(tx, job, "the runner stopped before the job finished")) {
        spdlog::warn("job {}: still running after the {} grace period; given back (WAITING, "
                     "attempt not counted)",
                     job.id, format_duration(grace_));
      }
    }
    tx.commit();
  } catch (const std::exception& e) {
    spdlog::error("cannot give back {} job(s) ({}); they are rescued when their leases expire",
                  running.size() + ran.size(), e.what());
  }
  kill_running_children();
  try {
    if (before_exit_) before_exit_(connection());
  } catch (const std::exception& e) {
    spdlog::error("cannot record the end of the run: {}", e.what());
  }
  spdlog::info("stopped by signal");
  spdlog::default_logger()->flush();
  // A graceful stop exits 0. The jobs' own transactions die with this
  // process's connections, so the server rolls their work back.
  _exit(0);
}

}  // namespace jobrunner
