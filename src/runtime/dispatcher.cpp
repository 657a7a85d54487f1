#include "dispatcher.hpp"

#include <unistd.h>

#include <algorithm>
#include <thread>

#include <spdlog/spdlog.h>

#include "child_signals.hpp"
#include "jobrunner/runtime/stop_signal.hpp"

namespace jobrunner {
namespace {

using Clock = std::chrono::steady_clock;

// How long the dispatcher blocks at most before it looks again for a stop
// request (signals may reach another thread, so a wait is not interrupted).
constexpr Duration kTick{50};
// Without a flusher (no conninfo), reports wait at most this long for a
// claim to carry them (sharing its round trips) before they are flushed
// alone. With one, the dispatcher writes them itself only once they waited
// this long (the flusher cannot: its connection is down), and at the end.
constexpr Duration kFlushDelay = CompletionFlusher::kFlushDelay;
constexpr Duration kFlushStall{2000};

std::string channel_of(const JobType& type) { return "jobrunner_" + type.spec.name; }

int prefetch_of(const RunnerOptions& options) {
  // Without conninfo the jobs run on the dispatcher's own connection, one
  // at a time, right after their claim: nothing to fetch ahead for.
  return options.conninfo ? options.prefetch : 0;
}

// Pending and queued jobs are the pool's; a flush is due at once when none.
std::unique_ptr<CompletionFlusher> flusher_for(const RunnerOptions& options, bool daemon,
                                               Completer& completer, const WorkerPool& pool,
                                               Wakeup& wakeup) {
  if (!options.conninfo) return nullptr;
  return std::make_unique<CompletionFlusher>(
      completer, CompletionFlusher::Options{
                     .conninfo = *options.conninfo,
                     .daemon = daemon,
                     .reconnect_delay = options.reconnect_delay,
                     .reconnect_max_delay = options.reconnect_max_delay,
                     .idle = [&pool] { return pool.busy() == 0 && pool.queued() == 0; },
                     .on_flushed = [&wakeup] { wakeup.notify(); },
                 });
}

std::unique_ptr<LeaseKeeper> keeper_for(const RunnerOptions& options, const pg::JobStore& store,
                                        Duration lease) {
  if (!options.conninfo) return nullptr;
  return std::make_unique<LeaseKeeper>(*options.conninfo, store, lease, options.type_lock,
                                       options.run_id);
}

}  // namespace

Dispatcher::Dispatcher(pg::Connection& conn, const JobType& type, const RunnerOptions& options,
                       NotificationHook& hook, RunnerMetrics& metrics, bool daemon)
    : conn_(conn),
      type_(type),
      options_(options),
      metrics_(metrics),
      daemon_(daemon),
      store_(type.spec),
      lease_(options.lease.value_or(type.spec.lease)),
      capacity_(std::max(options.concurrency, 1) + prefetch_of(options)),
      refill_at_(prefetch_of(options) / 2),
      keeper_(keeper_for(options, store_, lease_)),
      completer_(type, retry_policy_of(type, options), hook, keeper_.get(), &metrics,
                 [this] {
                   // Only when the dispatcher may have something to do: a
                   // claim (the queue ran low) or the end of a burst. A deep
                   // queue then costs no wake-up per job.
                   if (pool_.queued() <= refill_at_ || pool_.busy() == 0) wakeup_.notify();
                   if (flusher_) flusher_->notify();
                 }),
      pool_(type, options, completer_, keeper_.get()),
      flusher_(flusher_for(options, daemon, completer_, pool_, wakeup_)) {
  if (options.type_lock && !options.conninfo) {
    throw ConfigError("a run that holds the type's lock needs RunnerOptions::conninfo");
  }
}

Dispatcher::~Dispatcher() {
  pool_.close_and_join();
  flusher_.reset();
  keeper_.reset();
}

RunStats Dispatcher::stats() const {
  auto stats = completer_.stats();
  stats.reconnects = reconnects_;
  return stats;
}

void Dispatcher::run() {
  if (options_.conninfo) pool_.start(std::max(options_.concurrency, 1));
  bool need_setup = true;
  End end = End::drained;
  for (;;) {
    try {
      if (need_setup) {
        connected();
        need_setup = false;
      }
      if (const auto ended = step()) {
        end = *ended;
        break;
      }
    } catch (const DatabaseUnavailable& e) {
      if (!daemon_) {
        // The run ends (exit 75). Prefetched jobs go back if the database
        // still takes them (the lock was lost, not the database); otherwise
        // they are rescued once their leases expire.
        give_back_queued();
        pool_.close_and_join();
        throw;
      }
      spdlog::error("database unavailable: {}", e.what());
      if (!reconnect()) {
        end = End::stop;
        break;
      }
      need_setup = true;
    } catch (const pg::SqlError& e) {
      // Class 40 (a deadlock, a serialization failure): the transaction was
      // rolled back whole, so a daemon simply goes on.
      if (!daemon_ || e.sqlstate().rfind("40", 0) != 0) throw;
      spdlog::warn("retrying after a transaction rollback: {}", e.what());
    }
  }
  finish(end);
}

// After connecting: record what ended meanwhile (before a rescue could take
// it for a dead runner's), rescue what dead runners left, and listen for
// new work.
void Dispatcher::connected() {
  flush_and_claim(0);
  completer_.rescue_expired(conn_, options_.rescue_batch);
  next_housekeeping_ = Clock::now() + options_.poll_interval;
  drained_ = false;
  listening_ = false;
  if (daemon_ && options_.listen) {
    conn_.listen(channel_of(type_));
    listening_ = true;
  }
  tick_schedules();
}

void Dispatcher::tick_schedules() {
  if (!options_.tick_schedules) return;
  const auto tick = options_.tick_schedules(conn_);
  auto next = Clock::now() + options_.poll_interval;
  // Not at once when one is still due (another tick holds it): no spin.
  if (tick.next_due_in) next = std::min(next, Clock::now() + std::max(*tick.next_due_in, kTick));
  next_schedule_tick_ = next;
  if (tick.enqueued > 0) drained_ = false;  // claim what it enqueued
}

// One turn; how the run ends, once it does.
std::optional<Dispatcher::End> Dispatcher::step() {
  if (flusher_) flusher_->rethrow_failure();
  if (stop_requested()) {
    spdlog::info("stopping: a stop was requested");
    return End::stop;
  }
  if (keeper_ && keeper_->type_lock_lost()) {
    throw DatabaseUnavailable("the lock of job type '" + type_.spec.name +
                              "' was lost (it could not be extended); another run may hold it");
  }
  if (options_.limit > 0 && claimed_ >= options_.limit) {
    spdlog::info("stopping: --limit {} reached", options_.limit);
    return End::limit;
  }
  if (options_.max_runtime && Clock::now() - started_ >= *options_.max_runtime) {
    spdlog::info("stopping: --max-runtime {} reached", format_duration(*options_.max_runtime));
    return End::stop;
  }
  if (daemon_ && Clock::now() >= next_housekeeping_) {
    if (options_.housekeeping && !options_.housekeeping(conn_)) return End::stop;
    completer_.rescue_expired(conn_, options_.rescue_batch);
    next_housekeeping_ = Clock::now() + options_.poll_interval;
    drained_ = false;  // the poll: look again, whatever NOTIFY said
  }
  if (next_schedule_tick_ && Clock::now() >= *next_schedule_tick_) tick_schedules();
  const int room = room_to_claim();
  if (room > 0 && !drained_ && pool_.queued() <= refill_at_) {
    const bool idle = pool_.busy() == 0 && pool_.queued() == 0 && completer_.unsettled() == 0;
    const int claimed = flush_and_claim(room);
    if (claimed == room) return std::nullopt;
    drained_ = true;
    // Cron mode ends when a claim made with nothing running found nothing:
    // a job still running may make another ready (a retry), so not before.
    if (!daemon_ && claimed == 0 && idle) return End::drained;
    if (claimed > 0) return std::nullopt;
  }
  if (flush_due()) {
    flush_and_claim(0);
    return std::nullopt;
  }
  if (!daemon_ && drained_ && pool_.busy() == 0 && pool_.queued() == 0 &&
      completer_.unsettled() == 0) {
    drained_ = false;  // all ended: one more claim decides
    return std::nullopt;
  }
  if (daemon_ && drained_) {
    wait_for_work();
  } else {
    wait(Clock::now() + kTick);
  }
  return std::nullopt;
}

int Dispatcher::room_to_claim() const {
  int room = capacity_ - pool_.busy() - pool_.queued();
  if (options_.limit > 0) room = std::min(room, options_.limit - claimed_);
  return std::max(room, 0);
}

Duration Dispatcher::flush_delay() const { return flusher_ ? kFlushStall : kFlushDelay; }

bool Dispatcher::flush_due() const {
  const bool now_anyway = !flusher_ && ((pool_.busy() == 0 && pool_.queued() == 0) ||
                                        stop_requested());
  return completer_.flush_due(flush_delay(), now_anyway);
}

int Dispatcher::flush_and_claim(int wanted) {
  std::vector<Job> jobs;
  Completer::Batch batch;
  try {
    auto tx = conn_.begin();
    // A claim carries the reports only when no flusher writes them (or it
    // cannot): the two connections work side by side.
    if (wanted == 0 || flush_due()) completer_.flush(tx, batch);
    const bool durable = batch.durable() || options_.durable_claims;
    if (wanted > 0) jobs = store_.claim(tx, wanted, lease_, options_.owner);
    // Losing this commit in a server crash loses no job: the claims were
    // never made (the jobs are still WAITING, their attempts not counted),
    // and batched completions are of jobs that may run twice
    // (JobTypeSpec::batch_completions). It does lose the record of the
    // attempts, which --durable-claims keeps (docs/crash-safety.md). A
    // failure's record (an error report, a notice) always waits for the disk.
    if (durable) {
      tx.commit();
    } else {
      tx.commit_without_flush_wait();
    }
  } catch (...) {
    // Not written: kept for the next transaction; the keeper extends their
    // leases meanwhile.
    completer_.unsettle(batch);
    throw;
  }
  completer_.settle(batch);
  metrics_.passed();
  const int claimed = static_cast<int>(jobs.size());
  if (claimed == 0) return 0;
  claimed_ += claimed;
  metrics_.add_claimed(static_cast<std::uint64_t>(claimed));
  if (keeper_) keeper_->hold(jobs);
  if (options_.conninfo) {
    pool_.submit(std::move(jobs));
  } else {
    for (const auto& job : jobs) pool_.run_here(conn_, job);
  }
  return claimed;
}

// `until`, or sooner when the reports waiting come due for the
// dispatcher's flush.
Dispatcher::Clock::time_point Dispatcher::capped_by_flush(Clock::time_point until) const {
  const auto due = completer_.flush_due_at(flush_delay());
  return due ? std::min(until, *due) : until;
}

void Dispatcher::wait(Clock::time_point until) {
  until = capped_by_flush(until);
  const auto left = std::chrono::ceil<Duration>(until - Clock::now());
  if (left > Duration::zero()) wakeup_.wait(std::min(left, kTick));
}

// Daemon mode, nothing ready: waits for a NOTIFY, the next scheduled job,
// the next housekeeping or schedule tick, reports due for a flush or a
// stop, whichever comes first.
void Dispatcher::wait_for_work() {
  auto wake = next_housekeeping_;
  if (next_schedule_tick_) wake = std::min(wake, *next_schedule_tick_);
  bool due_wakes = false;
  {
    auto tx = conn_.begin();
    const auto due = store_.next_due(tx);
    tx.commit();
    if (due && Clock::now() + *due < wake) {
      wake = Clock::now() + *due;
      due_wakes = true;
    }
  }
  // After the claim found nothing and next_due() was read: a job committed
  // from now on is claimed only once a NOTIFY, its due time or the next poll
  // wakes the daemon (tests wait for this line to know that).
  spdlog::debug("nothing to claim; waiting up to {} for work",
                format_duration(std::max(Duration::zero(),
                                         std::chrono::ceil<Duration>(wake - Clock::now()))));
  while (Clock::now() < wake && !stop_requested()) {
    const auto until = capped_by_flush(std::min<Clock::time_point>(wake, Clock::now() + kTick));
    const auto slice = std::max(Duration::zero(), std::chrono::ceil<Duration>(until - Clock::now()));
    if (listening_) {
      const int notified = conn_.await_notifications(slice, wakeup_.fd());
      wakeup_.drain();
      if (notified > 0) {
        drained_ = false;
        return;
      }
    } else {
      wakeup_.wait(slice);
    }
    if (flush_due()) return;
  }
  if (due_wakes && Clock::now() >= wake) drained_ = false;
}

// Daemon mode, after losing the database: waits with a doubling delay
// between attempts to connect again; false when a stop came first.
bool Dispatcher::reconnect() {
  auto delay = options_.reconnect_delay;
  for (int attempt = 1;; ++attempt) {
    spdlog::warn("reconnecting in {} (attempt {})", format_duration(delay), attempt);
    const auto wake = Clock::now() + delay;
    while (Clock::now() < wake) {
      if (stop_requested()) return false;
      std::this_thread::sleep_for(std::min<Clock::duration>(wake - Clock::now(), kTick));
    }
    try {
      conn_ = pg::Connection::open(*options_.conninfo);
      spdlog::info("reconnected to the database");
      ++reconnects_;
      return true;
    } catch (const DatabaseUnavailable& e) {
      spdlog::warn("{}", e.what());
    }
    delay = std::min(delay * 2, options_.reconnect_max_delay);
  }
}

// The end of a run. Prefetched jobs are given back at once, unless the run
// ends at its --limit (they count towards it: they run). The running jobs
// may finish, their ends written as they come; after a stop request they
// have the grace period, then they are given back and the process exits.
// The jobs no worker started go back to WAITING, their attempts not counted;
// false when the database did not take them (they are rescued once their
// leases expire).
bool Dispatcher::give_back_queued() {
  const auto queued = pool_.take_queued();
  if (queued.empty()) return true;
  try {
    completer_.give_back(conn_, queued, "the runner stopped before the job started");
    return true;
  } catch (const std::exception& e) {
    spdlog::error("cannot give back {} prefetched job(s) ({}); they are rescued when their "
                  "leases expire",
                  queued.size(), e.what());
    return false;
  }
}

void Dispatcher::finish(End end) {
  if (end != End::limit && !give_back_queued() && !daemon_) {
    throw DatabaseUnavailable("cannot give back the prefetched jobs");
  }
  for (;;) {
    if (pool_.busy() == 0 && pool_.queued() == 0) break;
    if (stop_requested() && keeper_) {
      const auto now = Clock::now();
      if (!stop_seen_) {
        stop_seen_ = now;
        spdlog::info("stop requested; waiting up to {} for {} running job(s) to finish",
                     format_duration(options_.grace), pool_.busy());
        give_back_queued();
      }
      if (now - *stop_seen_ >= options_.grace) give_back_running_and_exit();
    }
    if (flush_due() && !try_flush()) break;
    wait(Clock::now() + kTick);
  }
  pool_.close_and_join();
  // The flusher writes what it took; the dispatcher what is left.
  if (flusher_) flusher_->stop();
  try_flush();
}

// False when the database is gone: a daemon gives up on the reports (their
// jobs are rescued and run again), a cron run throws (exit 75).
bool Dispatcher::try_flush() {
  if (completer_.unsettled() == 0) return true;
  try {
    flush_and_claim(0);
    return true;
  } catch (const DatabaseUnavailable& e) {
    const auto pending = completer_.pending();
    spdlog::error("cannot record the ends of {} job(s) ({}); they are rescued and run again "
                  "when their leases expire",
                  pending ? pending->count : 0, e.what());
    if (!daemon_) throw;
    return false;
  }
}

// The grace period is over with jobs still running: what ended is written,
// the rest is given back (WAITING, attempt not counted) before the isolated
// jobs' processes are killed (a worker that sees its child die records a
// failure only through a finish fenced by the lease, which is gone by then),
// the run's end is recorded, and the process exits 0. Threads cannot be
// stopped, so the process ends under them; their jobs' transactions die
// with its connections, and the server rolls their work back.
void Dispatcher::give_back_running_and_exit() {
  // Not waited for: a flush under way and the give-back below are both
  // fenced by the leases, so each job ends one way or the other.
  if (flusher_) flusher_->request_stop();
  try {
    flush_and_claim(0);
    completer_.give_back(conn_, keeper_->held(),
                         "still running after the " + format_duration(options_.grace) +
                             " grace period");
  } catch (const std::exception& e) {
    spdlog::error("cannot give back the running jobs ({}); they are rescued when their leases "
                  "expire",
                  e.what());
  }
  kill_running_children();
  try {
    if (options_.before_exit) options_.before_exit(conn_, stats());
  } catch (const std::exception& e) {
    spdlog::error("cannot record the end of the run: {}", e.what());
  }
  spdlog::info("stopped by signal");
  spdlog::default_logger()->flush();
  _exit(0);
}

}  // namespace jobrunner
