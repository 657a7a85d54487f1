#include "jobrunner/runtime/runner.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "lease_keeper.hpp"
#include "outcome_of.hpp"

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

}  // namespace

Runner::Runner(pg::Connection& conn, JobType type, RunnerOptions options, NotificationHook& hook)
    : conn_(conn),
      type_(std::move(type)),
      store_(type_.spec),
      options_(std::move(options)),
      hook_(hook) {}

RetryPolicy Runner::policy() const {
  RetryPolicy policy = type_.spec.retry;
  if (options_.retry_delay) policy.retry_delay = *options_.retry_delay;
  return policy;
}

Duration Runner::lease() const { return options_.lease.value_or(type_.spec.lease); }

int Runner::rescue_expired() {
  int rescued = 0;
  for (;;) {
    auto tx = conn_.begin();
    auto expired = store_.lock_expired(tx, options_.rescue_batch);
    if (expired.empty()) break;
    for (const auto& job : expired) {
      const Outcome outcome{Outcome::Kind::lease_expired, "LeaseExpired",
                            "the lease held by " + job.lease_owner.value_or("?") +
                                " expired: its runner stopped or lost the database"};
      const auto decision = decide(outcome, job.attempt_count, job.max_retries, policy());
      store_.finish(tx, job, decision);  // locked above, so it cannot be refused
      if (decision.file_error_report) {
        const auto oops = store_.file_error_report(tx, job, outcome, oops_vars_of(type_, job));
        spdlog::warn("job {}: {} (OOPS-{})", job.id, decision.log_line, oops);
      } else {
        spdlog::warn("job {}: rescued: {}", job.id, decision.log_line);
      }
    }
    tx.commit();
    rescued += static_cast<int>(expired.size());
  }
  return rescued;
}

bool Runner::run_claimed(const Job& job, RunStats& stats) {
  spdlog::info("job {}: running {} (attempt {} of {})", job.id, type_.spec.display_name,
               job.attempt_count, job.max_retries + 1);
  std::optional<LeaseKeeper> keeper;
  if (options_.heartbeat_conninfo) {
    if (!heartbeat_conn_) heartbeat_conn_ = pg::Connection::open(*options_.heartbeat_conninfo);
    keeper.emplace(*heartbeat_conn_, store_, job, lease());
  }
  std::exception_ptr error;
  {
    auto tx = conn_.begin();
    try {
      auto runnable = type_.make(job);
      runnable->run(tx);
      // Stop heartbeats first: one waiting on our row lock would then find
      // the job finished and cry "lease lost".
      keeper.reset();
      const auto decision = decide(Outcome{}, job.attempt_count, job.max_retries, policy());
      if (!store_.finish(tx, job, decision)) {
        // The transaction rolls back with the job's work: whoever holds the
        // job now will run it again.
        spdlog::error("job {}: refused to record COMPLETED: the lease was lost (rescued after "
                      "it expired?); the job's work was rolled back",
                      job.id);
        ++stats.lease_lost;
        ++stats.not_completed;
        return false;
      }
      tx.commit();
      spdlog::info("job {}: {}", job.id, decision.log_line);
      ++stats.completed;
      return true;
    } catch (...) {
      error = std::current_exception();
    }
  }  // the job's transaction is rolled back here
  keeper.reset();
  record_failure(job, outcome_of(error), stats);
  return false;
}

void Runner::record_failure(const Job& job, const Outcome& outcome, RunStats& stats) {
  ++stats.not_completed;
  const auto decision = decide(outcome, job.attempt_count, job.max_retries, policy());
  auto tx = conn_.begin();
  if (!store_.finish(tx, job, decision)) {
    spdlog::error("job {}: refused to record {}: the lease was lost (rescued after it expired?)",
                  job.id, to_string(decision.next));
    ++stats.lease_lost;
    return;
  }
  std::string oops;
  if (decision.file_error_report) {
    const auto id = store_.file_error_report(tx, job, outcome, oops_vars_of(type_, job));
    oops = " (OOPS-" + std::to_string(id) + ")";
  }
  if (decision.notify_requester) hook_.notify_user_error(tx, job, outcome.message);
  tx.commit();
  if (decision.next == JobStatus::failed && decision.file_error_report) {
    spdlog::error("job {}: {}{}", job.id, decision.log_line, oops);
  } else {
    spdlog::warn("job {}: {}", job.id, decision.log_line);
  }
}

RunStats Runner::run_once() {
  RunStats stats;
  stats.rescued = rescue_expired();
  const auto started = std::chrono::steady_clock::now();
  int claimed = 0;
  for (;;) {
    if (options_.limit > 0 && claimed >= options_.limit) {
      spdlog::info("stopping: --limit {} reached", options_.limit);
      break;
    }
    if (options_.max_runtime &&
        std::chrono::steady_clock::now() - started >= *options_.max_runtime) {
      spdlog::info("stopping: --max-runtime {} reached", format_duration(*options_.max_runtime));
      break;
    }
    std::vector<Job> jobs;
    {
      auto tx = conn_.begin();
      jobs = store_.claim(tx, 1, lease(), options_.owner);
      tx.commit();
    }
    if (jobs.empty()) break;
    ++claimed;
    run_claimed(jobs.front(), stats);
  }
  return stats;
}

}  // namespace jobrunner
