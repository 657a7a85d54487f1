#pragma once
// The completion flusher: writes the completer's reports (batched
// completions, failures, lost attempts) on a thread and a connection of its
// own, so the ends of jobs are written while the dispatcher claims the next
// ones: two server processes at work instead of one, and neither
// transaction waits for the other (River's completer does the same).
//
// A flush is due once Completer::kFlushBatch reports wait, the oldest
// waited kFlushDelay, or no job runs (no more reports come soon to share its
// transaction). A flush that carries a failure commits durably; the rest do
// not wait for the disk (docs/crash-safety.md).
//
// Losing its connection: a daemon's flusher reconnects with a doubling
// delay, the reports waiting meanwhile (the keeper extends their leases, and
// the dispatcher writes them itself if they wait too long); a cron run's
// flusher stops and the dispatcher rethrows what it hit (exit 75). An
// internal error stops it too, and ends the run.

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "completer.hpp"
#include "jobrunner/core/duration.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner {

class CompletionFlusher {
 public:
  static constexpr Duration kFlushDelay{5};

  struct Options {
    std::string conninfo;
    bool daemon = false;
    Duration reconnect_delay{1000};
    Duration reconnect_max_delay{30000};
    // True when no job runs or waits to run (then reports are flushed at
    // once).
    std::function<bool()> idle;
    // Called after each flush that committed (the dispatcher waits for the
    // last ends of a run).
    std::function<void()> on_flushed;
  };

  // Starts the thread, which connects at once.
  CompletionFlusher(Completer& completer, Options options);
  // stop()s.
  ~CompletionFlusher();
  CompletionFlusher(const CompletionFlusher&) = delete;
  CompletionFlusher& operator=(const CompletionFlusher&) = delete;

  // A worker reported an end (Completer's on_report).
  void notify();
  // Ends the thread after the flush under way, if any; reports still
  // waiting are left to the caller. request_stop() does not wait.
  void stop();
  void request_stop();
  // Rethrows, on the caller's thread, what stopped the flusher, if it was
  // stopped by a failure.
  void rethrow_failure() const;

 private:
  void loop();
  // Waits until a flush is due; false when stopped first.
  bool wait_until_due();
  // Waits `delay` unless stopped first; false when stopped.
  bool pause(Duration delay);
  void flush_once();
  void fail(std::exception_ptr failure);

  Completer& completer_;
  const Options options_;
  std::optional<pg::Connection> conn_;  // the flusher thread's only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool waiting_for_reports_ = false;  // asleep until the next report
  std::exception_ptr failure_;
  std::thread thread_;
};

}  // namespace jobrunner
