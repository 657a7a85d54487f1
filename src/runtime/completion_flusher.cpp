#include "completion_flusher.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "jobrunner/core/errors.hpp"

namespace jobrunner {

CompletionFlusher::CompletionFlusher(Completer& completer, Options options)
    : completer_(completer), options_(std::move(options)), thread_([this] { loop(); }) {}

CompletionFlusher::~CompletionFlusher() { stop(); }

void CompletionFlusher::notify() {
  std::lock_guard lock(mutex_);
  if (waiting_for_reports_) wake_.notify_one();
}

void CompletionFlusher::request_stop() {
  std::lock_guard lock(mutex_);
  stop_ = true;
  wake_.notify_all();
}

void CompletionFlusher::stop() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void CompletionFlusher::rethrow_failure() const {
  std::lock_guard lock(mutex_);
  if (failure_) std::rethrow_exception(failure_);
}

void CompletionFlusher::fail(std::exception_ptr failure) {
  std::lock_guard lock(mutex_);
  failure_ = std::move(failure);
}

void CompletionFlusher::loop() {
  auto delay = options_.reconnect_delay;
  bool lost = false;
  for (;;) {
    try {
      if (!conn_) {
        conn_ = pg::Connection::open(options_.conninfo);
        if (lost) spdlog::info("the completion flusher reconnected to the database");
        lost = false;
      }
      if (!wait_until_due()) return;
      flush_once();
      delay = options_.reconnect_delay;
    } catch (const DatabaseUnavailable& e) {
      conn_.reset();
      if (!options_.daemon) return fail(std::current_exception());
      const auto waiting = completer_.pending();
      spdlog::error("cannot write the ends of {} job(s): database unavailable: {}; trying again "
                    "in {}",
                    waiting ? waiting->count : 0, e.what(), format_duration(delay));
      lost = true;
      if (!pause(delay)) return;
      delay = std::min(delay * 2, options_.reconnect_max_delay);
    } catch (const pg::SqlError& e) {
      // Class 40 (a deadlock, a serialization failure): rolled back whole,
      // the reports wait again; a daemon simply goes on.
      if (!options_.daemon || e.sqlstate().rfind("40", 0) != 0) {
        return fail(std::current_exception());
      }
      spdlog::warn("retrying after a transaction rollback: {}", e.what());
    } catch (...) {
      return fail(std::current_exception());
    }
  }
}

bool CompletionFlusher::wait_until_due() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stop_) return false;
    if (completer_.flush_due(kFlushDelay, options_.idle && options_.idle())) return true;
    if (const auto at = completer_.flush_due_at(kFlushDelay)) {
      wake_.wait_until(lock, *at);
    } else {
      // notify() wakes only this wait: one wake-up per batch, not per job.
      waiting_for_reports_ = true;
      wake_.wait(lock);
      waiting_for_reports_ = false;
    }
  }
}

bool CompletionFlusher::pause(Duration delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [this] { return stop_; });
}

void CompletionFlusher::flush_once() {
  Completer::Batch batch;
  try {
    auto tx = conn_->begin();
    completer_.flush(tx, batch);
    if (batch.durable()) {
      tx.commit();
    } else {
      tx.commit_without_flush_wait();
    }
  } catch (...) {
    completer_.unsettle(batch);
    throw;
  }
  completer_.settle(batch);
  if (options_.on_flushed) options_.on_flushed();
}

}  // namespace jobrunner
