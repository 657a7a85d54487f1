#include "jobrunner/runtime/runner.hpp"

#include "completer.hpp"
#include "dispatcher.hpp"

namespace jobrunner {

void check_job_type_spec(const JobTypeSpec& spec) {
  const auto refuse = [&](const std::string& setting, Duration value, Duration minimum) {
    throw ConfigError("job type '" + spec.name + "' sets JobTypeSpec::" + setting + " to " +
                      format_duration(value) + ", below the minimum of " +
                      format_duration(minimum));
  };
  check_table_fields(spec);
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
  if (options.max_jobs_per_child < 0) {
    throw ConfigError("RunnerOptions::max_jobs_per_child is 0 (no limit) or more");
  }
  if (options.prefetch < 0 || options.prefetch > kMaxPrefetch) {
    throw ConfigError("the prefetch is from 0 to " + std::to_string(kMaxPrefetch));
  }
  if (options.concurrency > 1 && !options.conninfo) {
    throw ConfigError("a concurrency above 1 needs RunnerOptions::conninfo");
  }
}

Runner::Runner(pg::Connection& conn, JobType type, RunnerOptions options, NotificationHook& hook)
    : conn_(conn),
      type_(std::move(type)),
      options_(std::move(options)),
      hook_(hook) {
  check_job_type_spec(type_.spec);
  check_runner_options(options_);
}

Runner::~Runner() = default;

bool Runner::isolated() const noexcept { return options_.isolate.value_or(type_.spec.isolate); }

int Runner::rescue_expired() {
  Completer completer(type_, retry_policy_of(type_, options_), hook_, nullptr, &metrics_);
  return completer.rescue_expired(conn_, options_.rescue_batch);
}

namespace {

// Runs the dispatcher and keeps its figures, also when it throws.
RunStats run_dispatcher(Dispatcher& dispatcher, RunStats& last_stats) {
  try {
    dispatcher.run();
  } catch (...) {
    last_stats = dispatcher.stats();
    throw;
  }
  last_stats = dispatcher.stats();
  return last_stats;
}

}  // namespace

RunStats Runner::run_once() {
  Dispatcher dispatcher(conn_, type_, options_, hook_, metrics_, false);
  return run_dispatcher(dispatcher, last_stats_);
}

RunStats Runner::run_daemon() {
  Dispatcher dispatcher(conn_, type_, options_, hook_, metrics_, true);
  return run_dispatcher(dispatcher, last_stats_);
}

}  // namespace jobrunner
