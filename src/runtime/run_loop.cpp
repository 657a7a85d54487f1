// The claim loop of a runner (cron and daemon mode): one dispatcher, on the
// runner's connection, claims as many ready jobs as there are free slots in
// one statement, and the jobs run on `concurrency` workers (inline when it is
// 1). Completions of types with batch completions are written by the
// dispatcher, many per statement, in the transaction of its next claim; so
// are the attempts of jobs whose worker lost its connection mid-job.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "jobrunner/runtime/runner.hpp"
#include "jobrunner/runtime/stop_signal.hpp"
#include "lease_keeper.hpp"

namespace jobrunner {
namespace {

using Clock = std::chrono::steady_clock;

// How long the dispatcher blocks at most before it looks again for a stop
// request and for completions to write.
constexpr Duration kTick{50};

std::string channel_of(const JobType& type) { return "jobrunner_" + type.spec.name; }

void add(RunStats& into, const RunStats& from) {
  into.completed += from.completed;
  into.not_completed += from.not_completed;
  into.rescued += from.rescued;
  into.lease_lost += from.lease_lost;
  into.reconnects += from.reconnects;
}

}  // namespace

class Runner::Loop {
 public:
  Loop(Runner& runner, bool daemon) : runner_(runner), daemon_(daemon) {}
  ~Loop() {
    stop_workers();
    keeper_.reset();  // before the state its before_exit callback reads
    runner_.last_stats_ = stats_;  // also after an exception: for the run's record
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  RunStats run();

 private:
  bool step();
  bool claim_and_dispatch(int wanted);
  void wait_for_work();
  void wait_for_a_worker();
  void write_completions(pg::Transaction& tx, std::vector<Job>& batch);
  void record_interrupted();
  bool reconnect();
  void connected();
  void finish();
  bool write_pending_completions();

  void start_workers();
  void stop_workers();
  void worker_main(int index);
  void execute(pg::Connection& conn, const Job& job);
  void interrupt(const Job& job, const std::string& why);
  void abandon(const Job& job, const std::string& why);
  int free_slots();

  Runner& runner_;
  const bool daemon_;
  const RunnerOptions& options() const { return runner_.options_; }
  int concurrency() const { return std::max(options().concurrency, 1); }
  bool inline_workers() const { return concurrency() == 1; }

  std::optional<LeaseKeeper> keeper_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point next_housekeeping_ = Clock::now();
  int claimed_ = 0;
  bool listening_ = false;

  // Shared with the workers, under mutex_.
  std::mutex mutex_;
  std::condition_variable work_ready_;   // workers wait for jobs
  std::condition_variable slot_freed_;   // the dispatcher waits for a worker
  std::deque<Job> queue_;
  int busy_ = 0;
  bool closing_ = false;
  std::vector<Job> completions_;  // ran, COMPLETED not yet written
  // Still held, their attempts not yet recorded: the worker's connection
  // failed mid-job. With why.
  std::vector<std::pair<Job, std::string>> interrupted_;
  RunStats stats_;
  std::vector<std::thread> workers_;
};

RunStats Runner::run_once() { return Loop(*this, false).run(); }

RunStats Runner::run_daemon() { return Loop(*this, true).run(); }

RunStats Runner::Loop::run() {
  if (options().conninfo) {
    LeaseKeeper::BeforeExit before_exit;
    if (options().before_exit) {
      before_exit = [this](pg::Connection& conn) {
        RunStats so_far;
        {
          std::lock_guard lock(mutex_);
          so_far = stats_;
        }
        options().before_exit(conn, so_far);
      };
    }
    keeper_.emplace(*options().conninfo, runner_.store_, runner_.lease(), options().grace,
                    std::move(before_exit), options().type_lock);
  } else if (options().type_lock) {
    throw ConfigError("a run that holds the type's lock needs RunnerOptions::conninfo");
  }
  if (!inline_workers()) start_workers();
  bool need_setup = true;
  for (;;) {
    try {
      if (need_setup) {
        connected();
        need_setup = false;
      }
      if (!step()) break;
    } catch (const DatabaseUnavailable& e) {
      if (!daemon_) {
        stop_workers();
        throw;
      }
      spdlog::error("database unavailable: {}", e.what());
      if (!reconnect()) break;
      need_setup = true;
    } catch (const pg::SqlError& e) {
      // Class 40 (a deadlock, a serialization failure): the transaction was
      // rolled back whole, so a daemon simply goes on.
      if (!daemon_ || e.sqlstate().rfind("40", 0) != 0) throw;
      spdlog::warn("retrying after a transaction rollback: {}", e.what());
    }
  }
  finish();
  return stats_;
}

// After connecting: record what completed meanwhile (before a rescue could
// take it for a dead runner's), rescue what dead runners left, and listen
// for new work.
void Runner::Loop::connected() {
  claim_and_dispatch(0);
  const int rescued = runner_.rescue_expired();
  {
    std::lock_guard lock(mutex_);
    stats_.rescued += rescued;
  }
  next_housekeeping_ = Clock::now() + options().poll_interval;
  listening_ = false;
  if (daemon_ && options().listen) {
    runner_.conn_.listen(channel_of(runner_.type_));
    listening_ = true;
  }
}

// One turn of the dispatcher; false when the run is over.
bool Runner::Loop::step() {
  if (stop_requested()) {
    spdlog::info("stopping: a stop was requested");
    return false;
  }
  if (keeper_ && keeper_->type_lock_lost()) {
    throw DatabaseUnavailable("the lock of job type '" + runner_.type_.spec.name +
                              "' was lost (it could not be extended); another run may hold it");
  }
  if (options().limit > 0 && claimed_ >= options().limit) {
    spdlog::info("stopping: --limit {} reached", options().limit);
    return false;
  }
  if (options().max_runtime && Clock::now() - started_ >= *options().max_runtime) {
    spdlog::info("stopping: --max-runtime {} reached", format_duration(*options().max_runtime));
    return false;
  }
  if (daemon_ && Clock::now() >= next_housekeeping_) {
    if (options().housekeeping && !options().housekeeping(runner_.conn_)) return false;
    const int rescued = runner_.rescue_expired();
    std::lock_guard lock(mutex_);
    stats_.rescued += rescued;
    next_housekeeping_ = Clock::now() + options().poll_interval;
  }
  int wanted = free_slots();
  if (options().limit > 0) wanted = std::min(wanted, options().limit - claimed_);
  if (claim_and_dispatch(wanted)) return true;
  if (wanted == 0) {
    wait_for_a_worker();
    return true;
  }
  if (!daemon_) {
    std::unique_lock lock(mutex_);
    // Cron mode ends when nothing is ready and nothing runs: a running job
    // may still make one ready (a retry), so wait for it first.
    if (busy_ == 0 && queue_.empty() && completions_.empty() && interrupted_.empty()) {
      return false;
    }
    lock.unlock();
    wait_for_a_worker();
    return true;
  }
  wait_for_work();
  return true;
}

// Records interrupted attempts, then writes pending completions and claims
// up to `wanted` jobs in one transaction; true when jobs were claimed (and
// handed to workers).
bool Runner::Loop::claim_and_dispatch(int wanted) {
  record_interrupted();
  std::vector<Job> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(completions_);
  }
  if (wanted <= 0 && batch.empty()) return false;
  std::vector<Job> jobs;
  try {
    auto tx = runner_.conn_.begin();
    write_completions(tx, batch);
    if (wanted > 0) jobs = runner_.store_.claim(tx, wanted, runner_.lease(), options().owner);
    // Losing this commit in a server crash loses no job: the claims were
    // never made (the jobs are still WAITING, their attempts not counted),
    // and batched completions are of jobs that may run twice
    // (JobTypeSpec::batch_completions). It does lose the record of the
    // attempts, which --durable-claims keeps (docs/crash-safety.md).
    if (options().durable_claims) {
      tx.commit();
    } else {
      tx.commit_without_flush_wait();
    }
  } catch (...) {
    // Not written: keep them for the next transaction; the keeper extends
    // their leases meanwhile.
    std::lock_guard lock(mutex_);
    completions_.insert(completions_.end(), batch.begin(), batch.end());
    throw;
  }
  if (keeper_) {
    for (const auto& job : batch) keeper_->release(job.id);
  }
  if (jobs.empty()) return false;
  claimed_ += static_cast<int>(jobs.size());
  for (auto& job : jobs) {
    if (keeper_) keeper_->hold(job);
    if (inline_workers()) {
      execute(runner_.conn_, job);
    } else {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(job));
    }
  }
  work_ready_.notify_all();
  return true;
}

void Runner::Loop::write_completions(pg::Transaction& tx, std::vector<Job>& batch) {
  if (batch.empty()) return;
  const auto done = runner_.store_.complete_many(tx, batch, "completed (recorded in a batch)");
  const std::set<std::int64_t> completed(done.begin(), done.end());
  RunStats counts;
  for (const auto& job : batch) {
    if (completed.contains(job.id)) {
      ++counts.completed;
      spdlog::info("job {}: completed on attempt {}", job.id, job.attempt_count);
    } else {
      ++counts.lease_lost;
      ++counts.not_completed;
      spdlog::error("job {}: refused to record COMPLETED: the lease was lost (rescued after it "
                    "expired, moved by an operator, or the claim undone by a server crash); it "
                    "will run again",
                    job.id);
    }
  }
  // Counted before the commit: if it fails, the jobs are put back and the
  // run ends or reconnects, so the figures are only off when nothing is
  // recorded anyway.
  std::lock_guard lock(mutex_);
  add(stats_, counts);
}

// A job whose connection failed (mid-job, or as its worker connected) may or
// may not have done its work: it is recorded as a rescue would record it once its lease
// expired (the attempt counts; retried at once while retries remain), but
// now, on the dispatcher's connection. Throws DatabaseUnavailable when the
// database is gone for the dispatcher too; what is left stays for the next
// call.
void Runner::Loop::record_interrupted() {
  std::vector<std::pair<Job, std::string>> lost;
  {
    std::lock_guard lock(mutex_);
    lost.swap(interrupted_);
  }
  RunStats counts;
  for (auto it = lost.begin(); it != lost.end(); ++it) {
    const auto& [job, why] = *it;
    const Outcome outcome{Outcome::Kind::lease_expired, "ConnectionLost",
                          "the runner's database connection failed while it held the job: " +
                              why};
    // Named, for the refusal that follows when a server crash undid the
    // claim itself (claims commit without waiting for the disk).
    spdlog::warn("job {}: recording attempt {} as lost with its connection", job.id,
                 job.attempt_count);
    try {
      runner_.record_failure(runner_.conn_, job, outcome, "", counts);
    } catch (...) {
      std::lock_guard lock(mutex_);
      interrupted_.insert(interrupted_.end(), it, lost.end());
      add(stats_, counts);
      throw;
    }
    if (keeper_) keeper_->release(job.id);
  }
  std::lock_guard lock(mutex_);
  add(stats_, counts);
}

// Daemon mode, nothing ready: waits for a NOTIFY, the next scheduled job,
// the next housekeeping or a stop, whichever comes first. Wakes early to
// write completions that workers left.
void Runner::Loop::wait_for_work() {
  auto wake = next_housekeeping_;
  {
    auto tx = runner_.conn_.begin();
    const auto due = runner_.store_.next_due(tx);
    tx.commit();
    if (due) wake = std::min(wake, Clock::now() + *due);
  }
  // After the claim found nothing and next_due() was read: a job committed
  // from now on is claimed only once a NOTIFY, its due time or the next poll
  // wakes the daemon (tests wait for this line to know that).
  spdlog::debug("nothing to claim; waiting up to {} for work",
                format_duration(std::max(Duration::zero(),
                                         std::chrono::ceil<Duration>(wake - Clock::now()))));
  while (Clock::now() < wake && !stop_requested()) {
    const auto slice = std::min<Clock::duration>(wake - Clock::now(), kTick);
    const auto slice_ms = std::chrono::ceil<Duration>(slice);
    if (listening_) {
      if (runner_.conn_.await_notifications(slice_ms) > 0) return;
    } else {
      std::this_thread::sleep_for(slice_ms);
    }
    std::lock_guard lock(mutex_);
    if (!completions_.empty() || !interrupted_.empty()) return;
  }
}

// All slots are busy (or nothing is ready while jobs run): waits until a
// worker finishes or kTick passes.
void Runner::Loop::wait_for_a_worker() {
  std::unique_lock lock(mutex_);
  slot_freed_.wait_for(lock, kTick);
}

// Daemon mode, after losing the database: waits with a doubling delay
// between attempts to connect again; false when a stop came first.
bool Runner::Loop::reconnect() {
  auto delay = options().reconnect_delay;
  for (int attempt = 1;; ++attempt) {
    spdlog::warn("reconnecting in {} (attempt {})", format_duration(delay), attempt);
    const auto wake = Clock::now() + delay;
    while (Clock::now() < wake) {
      if (stop_requested()) return false;
      std::this_thread::sleep_for(std::min<Clock::duration>(wake - Clock::now(), kTick));
    }
    try {
      runner_.conn_ = pg::Connection::open(*options().conninfo);
      spdlog::info("reconnected to the database");
      std::lock_guard lock(mutex_);
      ++stats_.reconnects;
      return true;
    } catch (const DatabaseUnavailable& e) {
      spdlog::warn("{}", e.what());
    }
    delay = std::min(delay * 2, options().reconnect_max_delay);
  }
}

// The end of a run: lets the running jobs finish (a stop's grace period is
// the keeper's), writing what completes meanwhile, then the rest.
void Runner::Loop::finish() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (busy_ == 0 && queue_.empty()) break;
    }
    if (!write_pending_completions()) break;
    wait_for_a_worker();
  }
  stop_workers();
  write_pending_completions();
}

// False when the database is gone: a daemon gives up on them (they are
// rescued and run again), a cron run exits 75.
bool Runner::Loop::write_pending_completions() {
  try {
    claim_and_dispatch(0);
    return true;
  } catch (const DatabaseUnavailable& e) {
    std::lock_guard lock(mutex_);
    spdlog::error("cannot record {} completed job(s) ({}); they are rescued and run again when "
                  "their leases expire",
                  completions_.size(), e.what());
    if (!daemon_) throw;
    return false;
  }
}

// ---- Workers ------------------------------------------------------------------

void Runner::Loop::start_workers() {
  for (int i = 0; i < concurrency(); ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

// Lets the workers finish the jobs they hold, then joins them.
void Runner::Loop::stop_workers() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  work_ready_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
}

int Runner::Loop::free_slots() {
  if (inline_workers()) return 1;
  std::lock_guard lock(mutex_);
  return concurrency() - busy_ - static_cast<int>(queue_.size());
}

void Runner::Loop::worker_main(int index) {
  std::optional<pg::Connection> conn;
  std::unique_lock lock(mutex_);
  for (;;) {
    work_ready_.wait(lock, [this] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) return;  // closing, and nothing left to run
    const Job job = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    try {
      if (conn && !conn->idle_and_open()) {
        spdlog::warn("worker {}: the server closed its idle connection; opening a new one", index);
        conn.reset();
      }
      if (!conn) {
        try {
          conn = pg::Connection::open(*options().conninfo);
        } catch (const DatabaseUnavailable& e) {
          interrupt(job, e.what());
          throw;
        }
      }
      execute(*conn, job);
    } catch (const DatabaseUnavailable& e) {
      conn.reset();  // opened again for the next job
      spdlog::error("worker {}: job {}: database unavailable: {}", index, job.id, e.what());
    } catch (const std::exception& e) {
      abandon(job, e.what());
    } catch (...) {
      abandon(job, "an unknown exception");
    }
    lock.lock();
    --busy_;
    slot_freed_.notify_one();
  }
}

// Runs one claimed job on `conn` and hands its outcome on. When `conn` fails
// the job is interrupted (recorded by the dispatcher); on any other
// exception it is let go: it stays RUNNING until its lease expires and it is
// rescued.
void Runner::Loop::execute(pg::Connection& conn, const Job& job) {
  RunStats counts;
  bool ran = false;
  const auto abandoned = [this, id = job.id] { return keeper_ && keeper_->abandoned(id); };
  try {
    ran = runner_.run_claimed(conn, job, counts, abandoned);
  } catch (const DatabaseUnavailable& e) {
    if (abandoned()) {
      // Its lease is gone: a rescue records the attempt, not this runner.
      keeper_->release(job.id);
      spdlog::warn("job {}: abandoned attempt {} lost its connection ({}); not recorded", job.id,
                   job.attempt_count, e.what());
    } else {
      interrupt(job, e.what());
    }
    throw;
  } catch (...) {
    if (keeper_) keeper_->release(job.id);
    throw;
  }
  if (keeper_) {
    // A job that ran stays held until its batched completion is written.
    if (ran) {
      keeper_->mark_ran(job.id);
    } else {
      keeper_->release(job.id);
    }
  }
  std::lock_guard lock(mutex_);
  add(stats_, counts);
  if (ran) completions_.push_back(job);
}

// The connection a job needed failed: the job stays held until
// record_interrupted() records the attempt.
void Runner::Loop::interrupt(const Job& job, const std::string& why) {
  std::lock_guard lock(mutex_);
  interrupted_.emplace_back(job, why);
}

// A worker met an error that is not the job's (the job's own errors are its
// outcome): the job is let go for a rescue, and the worker goes on.
void Runner::Loop::abandon(const Job& job, const std::string& why) {
  if (keeper_) keeper_->release(job.id);
  spdlog::error("job {}: left for a rescue after an internal error: {}", job.id, why);
}

}  // namespace jobrunner
