#include "jobrunner/runtime/runner.hpp"

#include <signal.h>


#include <spdlog/spdlog.h>

#include "child_process.hpp"
#include "jobrunner/runtime/stop_signal.hpp"
#include "outcome_of.hpp"

namespace jobrunner {

// How one attempt at a claimed job ended, before anything was recorded about
// a failure.
struct Runner::Attempt {
  // ran: the job of a type with batch completions ended well; its COMPLETED
  // is written later with others (run_loop.cpp). abandoned: its lease
  // expired while it could not be extended, and its process was killed.
  enum class Kind { completed, lease_lost, failed, ran, abandoned };
  Kind kind = Kind::completed;
  Outcome outcome;     // for failed
  std::string detail;  // e.g. the tail of an isolated job's stderr
};

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
void notify_requester(NotificationHook& hook, const pg::JobStore& store, const JobType& type,
                      pg::Transaction& tx, const Job& job, const Outcome& outcome) {
  const auto error =
      tx.try_in_savepoint([&] { hook.notify_user_error(tx, job, outcome.message); });
  if (!error) return;
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
  spdlog::error("job {}: the requester was not notified: the notification hook failed: {} "
                "(OOPS-{}); the job's outcome stands",
                job.id, why, id);
}

// What an isolated child tells its parent, one JSON object.
constexpr std::string_view kDatabaseUnavailable = "database_unavailable";

}  // namespace

void check_job_type_spec(const JobTypeSpec& spec) {
  const auto refuse = [&](const std::string& setting, Duration value, Duration minimum) {
    throw ConfigError("job type '" + spec.name + "' sets JobTypeSpec::" + setting + " to " +
                      format_duration(value) + ", below the minimum of " +
                      format_duration(minimum));
  };
  if (spec.lease < kMinLease) refuse("lease", spec.lease, kMinLease);
  if (spec.job_timeout && *spec.job_timeout < kMinJobTimeout) {
    refuse("job_timeout", *spec.job_timeout, kMinJobTimeout);
  }
}

void check_runner_options(const RunnerOptions& options) {
  const auto refuse = [](const std::string& setting, Duration value, Duration minimum) {
    throw ConfigError("RunnerOptions::" + setting + " is " + format_duration(value) +
                      ", below the minimum of " + format_duration(minimum));
  };
  if (options.lease && *options.lease < kMinLease) refuse("lease", *options.lease, kMinLease);
  if (options.job_timeout && *options.job_timeout < kMinJobTimeout) {
    refuse("job_timeout", *options.job_timeout, kMinJobTimeout);
  }
  if (options.poll_interval < kMinPollInterval) {
    refuse("poll_interval", options.poll_interval, kMinPollInterval);
  }
  if (options.concurrency < 1 || options.concurrency > kMaxConcurrency) {
    throw ConfigError("the concurrency is from 1 to " + std::to_string(kMaxConcurrency));
  }
  if (options.concurrency > 1 && !options.conninfo) {
    throw ConfigError("a concurrency above 1 needs RunnerOptions::conninfo");
  }
}

Runner::Runner(pg::Connection& conn, JobType type, RunnerOptions options, NotificationHook& hook)
    : conn_(conn),
      type_(std::move(type)),
      store_(type_.spec),
      options_(std::move(options)),
      hook_(hook) {
  check_job_type_spec(type_.spec);
  check_runner_options(options_);
}

Runner::~Runner() = default;

RetryPolicy Runner::policy() const {
  RetryPolicy policy = type_.spec.retry;
  if (options_.retry_delay) policy.retry_delay = *options_.retry_delay;
  return policy;
}

Duration Runner::lease() const { return options_.lease.value_or(type_.spec.lease); }

bool Runner::isolated() const noexcept { return options_.isolate.value_or(type_.spec.isolate); }

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

// Runs the job in this process, on `conn`: its work and its COMPLETED status
// commit together, or neither does. A job of a type with batch completions
// gets no transaction; its COMPLETED is left to the caller.
Runner::Attempt Runner::attempt_in_process(pg::Connection& conn, const Job& job) {
  try {
    auto runnable = type_.make(job);
    if (type_.spec.batch_completions) {
      auto* outside = dynamic_cast<NonTransactionalJob*>(runnable.get());
      if (outside == nullptr) {
        throw ConfigError("job type '" + type_.spec.name +
                          "' sets batch_completions, so its jobs must be NonTransactionalJobs");
      }
      outside->perform();
      return {Attempt::Kind::ran, {}, {}};
    }
    auto tx = conn.begin();
    runnable->run(tx);
    const auto decision = decide(Outcome{}, job.attempt_count, job.max_retries, policy());
    if (!store_.finish(tx, job, decision)) return {Attempt::Kind::lease_lost, {}, {}};
    tx.commit();
    return {Attempt::Kind::completed, {}, {}};
  } catch (...) {
    return {Attempt::Kind::failed, outcome_of(std::current_exception()), {}};
  }
}

// Runs the job in a forked child with its own connection. The child records
// COMPLETED itself (the one transaction rule); anything else it reports back,
// and the parent records it. A job with batch completions needs no
// connection in the child at all.
Runner::Attempt Runner::attempt_in_child(pg::Connection& conn, const Job& job,
                                         const Abandoned& abandoned) {
  if (!options_.conninfo) throw ConfigError("isolated jobs need RunnerOptions::conninfo");
  const auto conninfo = *options_.conninfo;
  auto body = [&]() -> std::string {
    nlohmann::json report;
    try {
      std::optional<pg::Connection> child_conn;
      if (!type_.spec.batch_completions) child_conn = pg::Connection::open(conninfo);
      const auto attempt = attempt_in_process(child_conn ? *child_conn : conn, job);
      report = {{"attempt", static_cast<int>(attempt.kind)},
                {"outcome", static_cast<int>(attempt.outcome.kind)},
                {"error_type", attempt.outcome.error_type},
                {"message", attempt.outcome.message}};
    } catch (const DatabaseUnavailable& e) {
      report = {{"error", kDatabaseUnavailable}, {"message", e.what()}};
    }
    return report.dump();
  };
  ChildLimits limits;
  limits.timeout = options_.job_timeout ? options_.job_timeout : type_.spec.job_timeout;
  limits.memory_limit = options_.memory_limit ? options_.memory_limit : type_.spec.memory_limit;
  limits.abandon = abandoned;
  pid_t child_pid = 0;
  const auto child = run_in_child(
      body, limits,
      [&](pid_t pid) {
        child_pid = pid;
        add_running_child(pid);
      },
      [&](std::string_view line) { spdlog::info("job {}: stderr: {}", job.id, line); });
  remove_running_child(child_pid);

  if (child.abandoned) return {Attempt::Kind::abandoned, {}, {}};
  const std::string detail =
      child.stderr_tail.empty() ? "" : "\nstderr (tail):\n" + child.stderr_tail;
  // A report wins over a timeout: a child that committed COMPLETED just as
  // the deadline passed did complete.
  if (!child.report && child.timed_out) {
    return {Attempt::Kind::failed,
            {Outcome::Kind::timeout, "JobTimeout",
             "job ran too long: killed after " + format_duration(*limits.timeout)},
            detail};
  }
  if (!child.report) {
    return {Attempt::Kind::failed,
            {Outcome::Kind::unexpected, "ChildCrashed",
             "the job's process " + describe_wait_status(child.wait_status)},
            detail};
  }
  const auto report = nlohmann::json::parse(*child.report);
  if (report.contains("error")) throw DatabaseUnavailable(report.value("message", ""));
  Attempt attempt{static_cast<Attempt::Kind>(report.at("attempt").get<int>()),
                  {static_cast<Outcome::Kind>(report.at("outcome").get<int>()),
                   report.at("error_type").get<std::string>(),
                   report.at("message").get<std::string>()},
                  detail};
  if (attempt.kind != Attempt::Kind::failed && !detail.empty()) {
    auto tx = conn.begin();
    store_.append_log(tx, job, "attempt " + std::to_string(job.attempt_count) + detail);
    tx.commit();
  }
  return attempt;
}

bool Runner::run_claimed(pg::Connection& conn, const Job& job, RunStats& stats,
                         const Abandoned& abandoned) {
  spdlog::info("job {}: running {} (attempt {} of {}{})", job.id, type_.spec.display_name,
               job.attempt_count, job.max_retries + 1, isolated() ? ", isolated" : "");
  const auto attempt =
      isolated() ? attempt_in_child(conn, job, abandoned) : attempt_in_process(conn, job);
  switch (attempt.kind) {
    case Attempt::Kind::abandoned:
      ++stats.lease_lost;
      ++stats.not_completed;
      spdlog::warn("job {}: killed the process of abandoned attempt {}", job.id,
                   job.attempt_count);
      return false;
    case Attempt::Kind::ran:
      return true;
    case Attempt::Kind::completed:
      ++stats.completed;
      spdlog::info("job {}: completed on attempt {}", job.id, job.attempt_count);
      return false;
    case Attempt::Kind::lease_lost:
      // Its transaction rolled back with the job's work: whoever holds the
      // job now will run it again.
      ++stats.lease_lost;
      ++stats.not_completed;
      spdlog::error("job {}: refused to record COMPLETED: the lease was lost (rescued after it "
                    "expired, or moved by an operator); the job's work was rolled back",
                    job.id);
      return false;
    case Attempt::Kind::failed:
      if (abandoned && abandoned()) {
        ++stats.lease_lost;
        ++stats.not_completed;
        spdlog::warn("job {}: abandoned attempt {} ended ({}: {}); not recorded", job.id,
                     job.attempt_count, attempt.outcome.error_type, attempt.outcome.message);
        return false;
      }
      record_failure(conn, job, attempt.outcome, attempt.detail, stats);
      return false;
  }
  return false;
}

void Runner::record_failure(pg::Connection& conn, const Job& job, const Outcome& outcome,
                            const std::string& detail, RunStats& stats) {
  ++stats.not_completed;
  auto decision = decide(outcome, job.attempt_count, job.max_retries, policy());
  const auto log_line = decision.log_line;
  decision.log_line += detail;
  auto tx = conn.begin();
  if (!store_.finish(tx, job, decision)) {
    ++stats.lease_lost;
    spdlog::error("job {}: refused to record {}: the lease was lost (rescued after it expired, "
                  "moved by an operator, or the claim undone by a server crash)",
                  job.id, to_string(decision.next));
    return;
  }
  std::string oops;
  if (decision.file_error_report) {
    const auto id = store_.file_error_report(tx, job, outcome, oops_vars_of(type_, job));
    oops = " (OOPS-" + std::to_string(id) + ")";
  }
  if (decision.notify_requester) notify_requester(hook_, store_, type_, tx, job, outcome);
  tx.commit();
  if (decision.file_error_report) {
    spdlog::error("job {}: {}{}", job.id, log_line, oops);
  } else {
    spdlog::warn("job {}: {}", job.id, log_line);
  }
}

}  // namespace jobrunner
