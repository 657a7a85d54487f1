#include "lease_keeper.hpp"

#include <vector>

#include <spdlog/spdlog.h>

#include "job_log.hpp"
#include "jobrunner/pg/admin.hpp"

namespace jobrunner {
namespace {

// How often the keeper looks for leases that certainly expired.
constexpr Duration kTick{50};

}  // namespace

LeaseKeeper::LeaseKeeper(std::string conninfo, const pg::JobStore& store, Duration lease,
                         std::optional<TypeLockHold> type_lock,
                         std::optional<std::int64_t> run_id)
    : conninfo_(std::move(conninfo)),
      store_(store),
      lease_(lease),
      type_lock_token_(type_lock ? std::optional(type_lock->token) : std::nullopt),
      type_lock_lease_(type_lock ? type_lock->lease : lease),
      // Taken before this constructor ran: it expires no later than this.
      type_lock_expired_by_(Clock::now() + type_lock_lease_),
      run_id_(run_id),
      thread_([this] { loop(); }) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

// Called once the claim committed: the lease runs out no later than a lease
// from now.
void LeaseKeeper::hold(const std::vector<Job>& jobs) {
  const auto expired_by = Clock::now() + lease_;
  std::lock_guard lock(mutex_);
  for (const auto& job : jobs) held_.insert_or_assign(job.id, Held{job, expired_by});
}

void LeaseKeeper::release(std::int64_t job_id) {
  std::lock_guard lock(mutex_);
  held_.erase(job_id);
}

std::vector<Job> LeaseKeeper::held() const {
  std::vector<Job> jobs;
  std::lock_guard lock(mutex_);
  for (const auto& [id, held] : held_) {
    if (!held.lost) jobs.push_back(held.job);
  }
  return jobs;
}

bool LeaseKeeper::abandoned(std::int64_t job_id) const {
  std::lock_guard lock(mutex_);
  const auto it = held_.find(job_id);
  return it != held_.end() && it->second.abandoned;
}

pg::Connection& LeaseKeeper::connection() {
  if (!conn_) conn_ = pg::Connection::open(conninfo_);
  return *conn_;
}

void LeaseKeeper::loop() {
  auto interval = std::max(std::min(lease_, type_lock_lease_) / 3, Duration(10));
  if (run_id_) interval = std::min(interval, pg::kRunnerSeenInterval);
  auto next_heartbeat = Clock::now() + interval;
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, kTick, [this] { return stop_; })) {
    const auto now = Clock::now();
    if (now >= next_heartbeat) {
      next_heartbeat = now + interval;
      lock.unlock();
      heartbeat();
      lock.lock();
    }
    lock.unlock();
    abandon_expired(Clock::now());
    lock.lock();
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
  const bool extend_type_lock = type_lock_token_ && !type_lock_lost_;
  if (jobs.empty() && !extend_type_lock && !run_id_) return;
  try {
    auto tx = connection().begin();
    if (run_id_) pg::touch_runner_run(tx, *run_id_);
    const auto kept = jobs.empty() ? std::vector<std::int64_t>{}
                                   : store_.heartbeat_many(tx, jobs, lease_);
    const bool type_lock_kept =
        extend_type_lock && store_.extend_type_lock(tx, *type_lock_token_, type_lock_lease_);
    if (extend_type_lock && !type_lock_kept) {
      // Before the commit, so that whoever sees this heartbeat's leases
      // also finds the run knowing.
      type_lock_lost_ = true;
      spdlog::error("the lock of job type '{}' was taken over by another run (this run could "
                    "not extend it in time); this run stops claiming and ends",
                    store_.spec().name);
    }
    tx.commit();
    // The server extended them before this moment.
    const auto acknowledged = Clock::now();
    const auto expired_by = acknowledged + lease_;
    if (type_lock_kept) type_lock_expired_by_ = acknowledged + type_lock_lease_;
    const std::set<std::int64_t> still_held(kept.begin(), kept.end());
    std::lock_guard lock(mutex_);
    for (const auto& job : jobs) {
      auto it = held_.find(job.id);
      // The same job claimed again meanwhile holds a new lease: not this one.
      if (it == held_.end() || it->second.job.lease_token != job.lease_token) continue;
      if (still_held.contains(job.id)) {
        it->second.expired_by = expired_by;
        continue;
      }
      // Either the job just ended (its end committed while this statement
      // waited for its row) or its lease was taken; in the second case the
      // runner's finish is refused and logged as an error then.
      it->second.lost = true;
      log_job(spdlog::level::debug, job,
              "lease not extended: the job ended or its lease was taken");
    }
    spdlog::debug("extended the leases of {} job(s) by {}", kept.size(), format_duration(lease_));
  } catch (const std::exception& e) {
    // The runner meets the same trouble on its own connections; if it lasts,
    // the leases expire: abandon_expired() gives the attempts up, and the
    // jobs are rescued.
    last_failure_ = e.what();
    spdlog::warn("cannot extend the leases of {} job(s){}: {}", jobs.size(),
                 extend_type_lock ? " and the lock of the job type" : "", e.what());
    conn_.reset();
  }
}

// A lease that was not extended for a whole lease has run out: another
// runner may rescue the job (or has), and any end this runner records for
// the attempt would be refused.
void LeaseKeeper::abandon_expired(Clock::time_point now) {
  if (type_lock_token_ && !type_lock_lost_ && now >= type_lock_expired_by_) {
    type_lock_lost_ = true;
    spdlog::error("the lock of job type '{}' was not extended for longer than its lease ({}; "
                  "last failure: {}); another run may hold it now, so this run stops claiming "
                  "and ends",
                  store_.spec().name, format_duration(type_lock_lease_), last_failure_);
  }
  std::lock_guard lock(mutex_);
  for (auto& [id, held] : held_) {
    if (held.abandoned || now < held.expired_by) continue;
    held.abandoned = true;
    held.lost = true;
    log_job(spdlog::level::err, held.job,
            fmt::format("abandoning attempt {}: its lease ({}) has certainly expired without "
                        "being extended (last failure: {}); another runner may run the job "
                        "now, so nothing is recorded for this attempt",
                        held.job.attempt_count, format_duration(lease_),
                        last_failure_.empty() ? "none seen" : last_failure_));
  }
}

}  // namespace jobrunner
