#pragma once
// The dispatcher: the runner's own thread and connection. It claims ready
// jobs ahead of the free workers (prefetch) into the worker pool's local
// queue, wakes on NOTIFY, on the poll timer and when a worker reports,
// rescues expired leases, reconnects after losing the database, and ends
// the run: it gives back what it prefetched and, after a stop's grace
// period, what still runs. The completion flusher writes the completer's
// reports meanwhile, on its own connection (without conninfo, the
// dispatcher does, in its next claim's transaction).
//
//   dispatcher --claims--> worker pool --AttemptEnd--> completer
//                                                         |
//                          completion flusher <--flush(tx)-+
//
// The lease keeper (lease_keeper.hpp) extends the leases of every job from
// its claim until the completer wrote its end.

#include <chrono>
#include <memory>
#include <optional>

#include "completer.hpp"
#include "completion_flusher.hpp"
#include "jobrunner/runtime/runner.hpp"
#include "lease_keeper.hpp"
#include "wakeup.hpp"
#include "worker_pool.hpp"

namespace jobrunner {

class Dispatcher {
 public:
  // `metrics` counts what the run does (the claims and passes here, the
  // ends in the completer).
  Dispatcher(pg::Connection& conn, const JobType& type, const RunnerOptions& options,
             NotificationHook& hook, RunnerMetrics& metrics, bool daemon);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // The run (cron or daemon mode, runner.hpp); throws DatabaseUnavailable
  // (cron mode: the database was lost; either mode: the cron lock was lost).
  void run();
  // What the run did so far.
  RunStats stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  enum class End { drained, limit, stop };

  std::optional<End> step();
  void connected();
  // Ticks the schedules (RunnerOptions::tick_schedules) and sets the time
  // of the next tick.
  void tick_schedules();
  // Flushes the completer's reports and claims up to `wanted` jobs (0: only
  // flushes), in one transaction; returns how many were claimed.
  int flush_and_claim(int wanted);
  int room_to_claim() const;
  // The dispatcher's own flush: due after flush_delay().
  Duration flush_delay() const;
  bool flush_due() const;
  Clock::time_point capped_by_flush(Clock::time_point until) const;
  void wait(Clock::time_point until);
  void wait_for_work();
  bool reconnect();
  void finish(End end);
  bool give_back_queued();
  bool try_flush();
  [[noreturn]] void give_back_running_and_exit();

  pg::Connection& conn_;
  const JobType& type_;
  const RunnerOptions& options_;
  RunnerMetrics& metrics_;
  const bool daemon_;
  const pg::JobStore store_;
  const Duration lease_;
  const int capacity_;   // jobs held at most: running and prefetched
  const int refill_at_;  // claim again once no more than this many are queued
  Wakeup wakeup_;
  std::unique_ptr<LeaseKeeper> keeper_;
  Completer completer_;
  WorkerPool pool_;
  std::unique_ptr<CompletionFlusher> flusher_;  // with conninfo

  Clock::time_point started_ = Clock::now();
  Clock::time_point next_housekeeping_ = Clock::now();
  std::optional<Clock::time_point> next_schedule_tick_;  // with tick_schedules
  int claimed_ = 0;
  int reconnects_ = 0;
  bool listening_ = false;
  // The last claim found fewer jobs than it asked for: claim again only
  // after a NOTIFY, the poll timer or a due time (daemon), or once the pool
  // is idle (cron), not each time a worker is free.
  bool drained_ = false;
  std::optional<Clock::time_point> stop_seen_;  // when the stop request was seen
};

}  // namespace jobrunner
