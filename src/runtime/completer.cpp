#include "completer.hpp"

#include <set>

#include <spdlog/spdlog.h>

#include "job_log.hpp"
#include "lease_keeper.hpp"

namespace jobrunner {
namespace {

// An error report must be filed even if the type cannot build its variables.
nlohmann::json oops_vars_of(const JobType& type, const Job& job) {
  try {
    return type.make(job)->oops_vars();
  } catch (const std::exception& e) {
    return {{"job_id", job.id}, {"job_type", job.job_type}, {"oops_vars_error", e.what()}};
  }
}

// The hook runs in a savepoint of the failure's transaction: if it throws,
// its own writes are rolled back and its failure becomes an error report in
// that transaction; the job's outcome is not touched (notification_hook.hpp).
// Throws only when the savepoint itself is lost (the connection failed).
// Returns a line for the log when the hook failed.
std::optional<std::string> notify_requester(NotificationHook& hook, const pg::JobStore& store,
                                            const JobType& type, pg::Transaction& tx,
                                            const Job& job, const Outcome& outcome) {
  pg::Statements db(tx);
  const auto error =
      tx.try_in_savepoint([&] { hook.notify_user_error(db, job, outcome.message); });
  if (!error) return std::nullopt;
  std::string why;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "a non-standard exception";
  }
  const Outcome failure{Outcome::Kind::unexpected, "NotificationHookFailed",
                        "the notification hook failed to notify the requester of the user "
                        "error '" + outcome.message + "': " + why};
  const auto id = store.file_error_report(tx, job, failure, oops_vars_of(type, job));
  return "the requester was not notified: the notification hook failed: " + why + " (OOPS-" +
         std::to_string(id) + "); the job's outcome stands";
}

void add(RunStats& into, const RunStats& from) {
  into.completed += from.completed;
  into.not_completed += from.not_completed;
  into.rescued += from.rescued;
  into.lease_lost += from.lease_lost;
  into.reconnects += from.reconnects;
}

constexpr RunStats kCompleted{.completed = 1};
constexpr RunStats kNotCompleted{.not_completed = 1};
constexpr RunStats kLost{.not_completed = 1, .lease_lost = 1};

}  // namespace

Completer::Completer(const JobType& type, RetryPolicy policy, NotificationHook& hook,
                     LeaseKeeper* keeper, RunnerMetrics* metrics,
                     std::function<void()> on_report)
    : type_(type),
      store_(type.spec),
      policy_(policy),
      jitter_(random_jitter()),
      hook_(hook),
      keeper_(keeper),
      metrics_(metrics),
      on_report_(std::move(on_report)) {}

bool Completer::complete_in(pg::Transaction& tx, const Job& job,
                            const AttemptOutput& output) const {
  return store_.finish(tx, job, decide(Outcome{}, job.attempt_count, job.max_retries, policy_),
                       output);
}

RetryPolicy retry_policy_of(const JobType& type, const RunnerOptions& options) {
  RetryPolicy policy = type.spec.retry;
  if (options.retry_delay) policy.retry_delay = *options.retry_delay;
  return policy;
}

void Completer::report(AttemptEnd end) {
  if (metrics_ && end.ran_for) metrics_->observe_run(*end.ran_for);
  if (auto written = needs_no_write(end)) {
    // Settled at once, on the worker's thread: nothing to wait for. The
    // dispatcher still hears of it: a worker is free.
    settle({std::move(*written)}, {end.job.id});
    if (on_report_) on_report_();
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (reports_.empty()) oldest_report_ = std::chrono::steady_clock::now();
    reports_.push_back(std::move(end));
  }
  if (on_report_) on_report_();
}

std::optional<Completer::Pending> Completer::pending() const {
  std::lock_guard lock(mutex_);
  if (reports_.empty()) return std::nullopt;
  return Pending{reports_.size(), oldest_report_};
}

std::optional<SteadyTime> Completer::flush_due_at(Duration delay) const {
  std::lock_guard lock(mutex_);
  if (reports_.empty()) return std::nullopt;
  if (reports_.size() >= kFlushBatch) return std::chrono::steady_clock::now();
  return oldest_report_ + delay;
}

bool Completer::flush_due(Duration delay, bool now_anyway) const {
  const auto at = flush_due_at(delay);
  return at && (now_anyway || *at <= std::chrono::steady_clock::now());
}

bool Completer::abandoned(const AttemptEnd& end) const {
  return keeper_ != nullptr && keeper_->abandoned(end.job.id);
}

// The line and counts of an end that needs no write of its own (its
// transaction committed or rolled back already, or there is nothing to
// write); nullopt for one that does.
std::optional<Completer::Written> Completer::needs_no_write(const AttemptEnd& end) const {
  const auto& job = end.job;
  const auto attempt = std::to_string(job.attempt_count);
  using Kind = AttemptEnd::Kind;
  switch (end.kind) {
    case Kind::committed:
      // Its stderr tail (an isolated job's) goes into the log first.
      if (!end.detail.empty()) return std::nullopt;
      return Written{job.id, job.attempt_count, spdlog::level::info, "completed on attempt " + attempt, kCompleted};
    case Kind::refused:
      // Its transaction rolled back with the job's work: whoever holds the
      // job now runs it again.
      return Written{job.id, job.attempt_count, spdlog::level::err,
                     "refused to record COMPLETED: the lease was lost (rescued after it "
                     "expired, or moved by an operator); the job's work was rolled back",
                     kLost};
    case Kind::abandoned:
      return Written{job.id, job.attempt_count, spdlog::level::warn,
                     end.detail.empty() ? "killed the process of abandoned attempt " + attempt
                                        : "abandoned attempt " + attempt + ": " + end.detail,
                     kLost};
    case Kind::left:
      return Written{job.id, job.attempt_count, spdlog::level::err,
                     "left for a rescue after an internal error: " + end.detail, {}};
    case Kind::ran:
      return std::nullopt;
    case Kind::failed:
      if (!abandoned(end)) return std::nullopt;
      // Its lease is gone: a rescue records the attempt, not this runner.
      return Written{job.id, job.attempt_count, spdlog::level::warn,
                     "abandoned attempt " + attempt + " ended (" + end.outcome.error_type + ": " +
                         end.outcome.message + "); not recorded",
                     kLost};
  }
  return std::nullopt;
}

std::size_t Completer::unsettled() const {
  std::lock_guard lock(mutex_);
  return reports_.size() + in_flight_;
}

void Completer::flush(pg::Transaction& tx, Batch& batch) {
  {
    std::lock_guard lock(mutex_);
    batch.ends_.swap(reports_);
    in_flight_ += batch.ends_.size();
  }
  std::vector<Job> ran;
  for (auto& end : batch.ends_) {
    if (auto written = needs_no_write(end)) {
      batch.written_.push_back(std::move(*written));
    } else if (end.kind == AttemptEnd::Kind::ran && end.output.empty()) {
      ran.push_back(end.job);
    } else if (end.kind == AttemptEnd::Kind::ran) {
      write_completion(tx, end, batch);  // with its result or log: a statement of its own
    } else if (end.kind == AttemptEnd::Kind::failed) {
      write_failure(tx, end, batch);
      batch.durable_ = true;
    } else {  // committed, with its stderr tail
      store_.append_log(tx, end.job,
                        "attempt " + std::to_string(end.job.attempt_count) + end.detail);
      batch.written_.push_back(completion(end.job, true));
    }
  }
  write_completions(tx, ran, batch);
}

void Completer::write_completions(pg::Transaction& tx, const std::vector<Job>& jobs,
                                  Batch& batch) {
  if (jobs.empty()) return;
  const auto done = store_.complete_many(tx, jobs);
  const std::set<std::int64_t> completed(done.begin(), done.end());
  for (const auto& job : jobs) batch.written_.push_back(completion(job, completed.contains(job.id)));
}

// The line of a completion written by the completer, or refused.
Completer::Written Completer::completion(const Job& job, bool written) {
  if (written) {
    return {job.id, job.attempt_count, spdlog::level::info,
            "completed on attempt " + std::to_string(job.attempt_count), kCompleted};
  }
  return {job.id, job.attempt_count, spdlog::level::err,
          "refused to record COMPLETED: the lease was lost (rescued after it expired, moved by "
          "an operator, or the claim undone by a server crash); it will run again",
          kLost};
}

void Completer::write_completion(pg::Transaction& tx, const AttemptEnd& end, Batch& batch) {
  batch.written_.push_back(completion(end.job, complete_in(tx, end.job, end.output)));
}

void Completer::write_failure(pg::Transaction& tx, AttemptEnd& end, Batch& batch) {
  const auto& job = end.job;
  const auto& outcome = end.outcome;
  if (outcome.error_type == "ConnectionLost") {
    // Named before the write, for the refusal that follows when a server
    // crash undid the claim itself (claims commit without waiting for the
    // disk).
    log_job(spdlog::level::warn, job,
            "recording attempt " + std::to_string(job.attempt_count) +
                " as lost with its connection");
  }
  const auto decision = decide(outcome, job.attempt_count, job.max_retries, policy_, jitter_);
  const auto& log_line = decision.log_line;
  AttemptOutput output = end.output;  // the job's own text, then its stderr tail
  output.log += end.detail;
  if (!store_.finish(tx, job, decision, output)) {
    batch.written_.push_back({job.id, job.attempt_count, spdlog::level::err,
                        "refused to record " + std::string(to_string(decision.next)) +
                            ": the lease was lost (rescued after it expired, moved by an "
                            "operator, or the claim undone by a server crash)",
                        kLost});
    return;
  }
  if (decision.file_error_report) {
    const auto id = store_.file_error_report(tx, job, outcome, oops_vars_of(type_, job));
    batch.written_.push_back({job.id, job.attempt_count, spdlog::level::err,
                              log_line + " (OOPS-" + std::to_string(id) + ")", kNotCompleted,
                              decision.next});
  } else {
    batch.written_.push_back({job.id, job.attempt_count, spdlog::level::warn, log_line,
                              kNotCompleted, decision.next});
  }
  if (decision.notify_requester) {
    std::lock_guard lock(hook_mutex_);
    if (auto failed = notify_requester(hook_, store_, type_, tx, job, outcome)) {
      batch.written_.push_back({job.id, job.attempt_count, spdlog::level::err, *failed, {}});
    }
  }
}

void Completer::settle(Batch& batch) {
  std::vector<std::int64_t> ids;
  ids.reserve(batch.ends_.size());
  for (const auto& end : batch.ends_) ids.push_back(end.job.id);
  settle(batch.written_, ids);
  {
    std::lock_guard lock(mutex_);
    in_flight_ -= batch.ends_.size();
  }
  batch = Batch{};
}

void Completer::settle(const std::vector<Written>& written, const std::vector<std::int64_t>& ids) {
  RunStats counts;
  std::uint64_t failed = 0, retried = 0, suspended = 0;
  for (const auto& w : written) {
    log_job(w.level, {w.job_id, type_.spec.name, w.attempt}, w.line);
    add(counts, w.counts);
    if (w.recorded == JobStatus::failed) ++failed;
    if (w.recorded == JobStatus::waiting) ++retried;
    if (w.recorded == JobStatus::suspended) ++suspended;
  }
  // Once per batch, not per job.
  if (metrics_) {
    metrics_->add_ended(static_cast<std::uint64_t>(counts.completed), failed, retried, suspended,
                        static_cast<std::uint64_t>(counts.lease_lost));
  }
  if (keeper_) {
    for (const auto id : ids) keeper_->release(id);
  }
  std::lock_guard lock(mutex_);
  add(stats_, counts);
}

void Completer::unsettle(Batch& batch) {
  {
    std::lock_guard lock(mutex_);
    if (reports_.empty()) oldest_report_ = std::chrono::steady_clock::now();
    reports_.insert(reports_.begin(), std::make_move_iterator(batch.ends_.begin()),
                    std::make_move_iterator(batch.ends_.end()));
    in_flight_ -= batch.ends_.size();
  }
  batch = Batch{};
}

void Completer::give_back(pg::Connection& conn, const std::vector<Job>& jobs,
                          const std::string& why) {
  if (jobs.empty()) return;
  auto tx = conn.begin();
  const auto back = store_.give_back(tx, jobs, why);
  tx.commit();
  const std::set<std::int64_t> given(back.begin(), back.end());
  for (const auto& job : jobs) {
    if (given.contains(job.id)) {
      log_job(spdlog::level::warn, job, "given back (WAITING, attempt not counted): " + why);
    }
    if (keeper_) keeper_->release(job.id);
  }
}

int Completer::rescue_expired(pg::Connection& conn, int batch) {
  int rescued = 0;
  for (;;) {
    auto tx = conn.begin();
    auto expired = store_.lock_expired(tx, batch);
    if (expired.empty()) break;
    std::vector<Written> lines;
    for (const auto& job : expired) {
      const Outcome outcome{Outcome::Kind::lease_expired, "LeaseExpired",
                            "the lease held by " + job.lease_owner.value_or("?") +
                                " expired: its runner stopped or lost the database"};
      const auto decision = decide(outcome, job.attempt_count, job.max_retries, policy_, jitter_);
      (void)store_.finish(tx, job, decision);  // locked above, so it cannot be refused
      if (decision.file_error_report) {
        const auto oops = store_.file_error_report(tx, job, outcome, oops_vars_of(type_, job));
        lines.push_back({job.id, job.attempt_count, spdlog::level::warn,
                         decision.log_line + " (OOPS-" + std::to_string(oops) + ")", {}});
      } else {
        lines.push_back({job.id, job.attempt_count, spdlog::level::warn, "rescued: " + decision.log_line, {}});
      }
    }
    tx.commit();
    for (const auto& line : lines) {
      log_job(line.level, {line.job_id, type_.spec.name, line.attempt}, line.line);
    }
    rescued += static_cast<int>(expired.size());
  }
  if (metrics_) metrics_->add_rescued(static_cast<std::uint64_t>(rescued));
  std::lock_guard lock(mutex_);
  stats_.rescued += rescued;
  return rescued;
}

RunStats Completer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace jobrunner
