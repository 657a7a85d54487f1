#include "jobrunner/app/runner_main.hpp"

#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <memory>

#include <spdlog/spdlog.h>

#include "jobrunner/app/cli_support.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/app/metrics.hpp"
#include "jobrunner/app/schedule_ticker.hpp"
#include "jobrunner/core/byte_size.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/admin.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/pg/registry.hpp"
#include "jobrunner/runtime/runner.hpp"
#include "jobrunner/runtime/stop_signal.hpp"
#include "jobrunner/version.hpp"
#include "metrics_server.hpp"
#include "run_record.hpp"

namespace jobrunner::app {
namespace {

std::string hostname() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "unknown-host";
  return buffer;
}

// --retention: deletes the type's finished jobs that finished more than
// `retention` ago, and the runs of its runner that ended that long ago, in
// batches (as jobctl prune does; never a run without an end).
void apply_retention(pg::Connection& conn, const JobType& type, Duration retention) {
  pg::PruneRequest request;
  request.older_than = retention;
  request.job_type = type.spec.name;
  const auto result = pg::prune_jobs(conn, request);
  spdlog::info("Pruned {} finished {}s and {} ended runner runs (before {}, --retention {}).",
               result.total, type.spec.display_name, result.runs, result.cutoff,
               format_duration(retention));
}

constexpr std::chrono::hours kRetentionEvery{1};

// --max-runtime 0s would claim nothing; and since --limit 0 means "no
// limit", it reads as a request for no limit. Refused: omit the option.
constexpr Duration kMinMaxRuntime = std::chrono::seconds(1);

// Daemon mode, every poll interval on the runner's connection: stops when the
// type was paused (jobctl pause) and applies --retention every hour.
std::function<bool(pg::Connection&)> daemon_housekeeping(const JobType& type,
                                                          std::optional<Duration> retention) {
  using Clock = std::chrono::steady_clock;
  auto next_retention = std::make_shared<Clock::time_point>(Clock::now() + kRetentionEvery);
  return [&type, retention, next_retention](pg::Connection& conn) {
    auto tx = conn.begin();
    const auto pause = pg::find_pause(tx, type.spec.name);
    tx.commit();
    if (pause) {
      spdlog::info("job type '{}' was {}; stopping (jobctl unpause {} lifts it)", type.spec.name,
                   pg::describe_pause(*pause), type.spec.name);
      return false;
    }
    if (retention && Clock::now() >= *next_retention) {
      *next_retention = Clock::now() + kRetentionEvery;
      apply_retention(conn, type, *retention);
    }
    return true;
  };
}

// Cron mode: two runs of one type never overlap, on any number of hosts.
// Returns the lock's token, or nullopt (logged) when another run holds it.
std::optional<TypeLockHold> take_type_lock(pg::Connection& conn, const pg::JobStore& store,
                                           const std::string& name, const RunnerOptions& options) {
  const auto lease = std::min(options.lease.value_or(store.spec().lease), kMaxTypeLockLease);
  auto tx = conn.begin();
  const auto attempt = store.try_lock_type(tx, options.owner, lease);
  tx.commit();
  const auto& type = store.spec().name;
  if (attempt.token && attempt.taken_over) {
    spdlog::warn("took over the lock of job type '{}' from {}, whose lease on it expired at {} "
                 "(that run died or lost the database)",
                 type, attempt.previous_holder.value_or("?"),
                 format_time(attempt.previous_expires));
  }
  if (attempt.token) return TypeLockHold{*attempt.token, lease};
  if (attempt.previous_holder) {
    spdlog::warn("another {} holds the lock of job type '{}' ({}, until {} unless it extends "
                 "it; a run that died loses it then); exiting without running jobs",
                 name, type, *attempt.previous_holder, format_time(attempt.previous_expires));
  } else {
    spdlog::warn("another {} holds the lock of job type '{}' (on this or another host); "
                 "exiting without running jobs",
                 name, type);
  }
  return std::nullopt;
}

// "30s", or "10s doubling up to 1h" with backoff.
std::string describe_retry(const RetryPolicy& retry) {
  if (!retry.backoff) return format_duration(retry.retry_delay);
  return format_duration(retry.retry_delay) + " doubling up to " +
         format_duration(retry.max_retry_delay);
}

// The type's row in the registry (job_type) is authoritative for the
// defaults (retries, retry delay, lease, one pending job per target); what
// the compiled spec cannot differ on (spec_differences) must agree.
// ConfigError (exit 78) naming each difference and the fix otherwise.
JobTypeSpec registered_spec(pg::Connection& conn, const JobTypeSpec& compiled,
                            const std::string& name) {
  auto tx = conn.begin();
  const auto row = pg::find_registered_type(tx, compiled.name);
  tx.commit();
  if (!row) {
    throw ConfigError("job type '" + compiled.name + "' is not registered in this database "
                      "(table job_type): run 'jobctl db upgrade' with its package's migrations, "
                      "which register it (jobrunner_register_type), or check --db");
  }
  const auto differences = spec_differences(compiled, row->spec);
  if (!differences.empty()) {
    std::string list;
    for (const auto& d : differences) list += (list.empty() ? "" : "; ") + d;
    throw ConfigError(name + " does not match the registration of job type '" + compiled.name +
                      "' (package " + row->package + "): " + list +
                      ". Fix: run the " + name + " built from the same version of package " +
                      row->package + " as the database's migrations, or register the type "
                      "with these values in a new migration of the package and run 'jobctl db "
                      "upgrade'");
  }
  JobTypeSpec spec = compiled;
  spec.default_max_retries = row->spec.default_max_retries;
  spec.retry = row->spec.retry;
  spec.lease = row->spec.lease;
  spec.one_pending_per_target = row->spec.one_pending_per_target;
  if (spec.lease != compiled.lease || spec.retry != compiled.retry ||
      spec.default_max_retries != compiled.default_max_retries) {
    spdlog::info("job type '{}': the registry's defaults apply (lease {}, retry delay {}, "
                 "max retries {}; compiled: {}, {}, {})",
                 spec.name, format_duration(spec.lease), describe_retry(spec.retry),
                 spec.default_max_retries, format_duration(compiled.lease),
                 describe_retry(compiled.retry), compiled.default_max_retries);
  }
  return spec;
}

std::string help_footer(const JobType& type, const std::string& name) {
  return "\nSignals: SIGTERM or SIGINT stops claiming, gives back the prefetched jobs at once, "
         "lets the running jobs finish within --grace, gives back what is left (WAITING, "
         "attempt not counted) and exits 0; a "
         "second signal exits at once (128 + signal); leases then expire and jobs are "
         "rescued.\n"
         "\nSchedules: a run also enqueues the due occurrences of its type's recurring "
         "schedules (jobctl schedule): a cron run once it holds the type's lock, a daemon at "
         "each next due time and every --poll-interval (docs/schedules.md).\n"
         "\nExit codes:\n"
         "  0   the run finished (jobs that failed are recorded in the database, not here)\n"
         "      or the job type is paused (jobctl pause): the runner exits at once, logging who\n"
         "      paused it, when and why\n"
         "  64  bad options, e.g. a duration below its minimum (--lease, --job-timeout,\n"
         "      --max-runtime: 1s; --poll-interval: 100ms); nothing was done\n"
         "  69  another cron run of this job type holds its lock (on any host); nothing was\n"
         "      done. A run that died keeps it until its lease expires (--lease, at most\n"
         "      30s after its last extension)\n"
         "  70  internal error\n"
         "  75  the database is unreachable or was lost; run again later\n"
         "  78  configuration error: schema not migrated, missing grants, a JobTypeSpec\n"
         "      lease or job timeout below 1s\n"
         "Once a run has started, its runner_run row records its exit code (0, 70, 75, 78)\n"
         "and end, also after an error, whenever the database can still be reached.\n"
         "\nExamples:\n"
         "  " + name + "                                  # run the ready " +
         type.spec.display_name + "s once (cron)\n"
         "  " + name + " --db 'dbname=app user=jobrunner_" + type.spec.name +
         "_runner' --limit 100\n"
         "  DATABASE_URL=postgresql://host/app " + name + " --max-runtime 55s --log-format json\n"
         "  " + name + " --daemon --concurrency 8\n"
         "  " + name + " --daemon --isolate --job-timeout 10m --memory-limit 1G\n";
}

// --metrics-file: what the cron run did, and the queue as it left it (read
// on the runner's connection, if it still works), for node_exporter's
// textfile collector. A file that cannot be written is logged, not fatal:
// the run itself is recorded in runner_run either way.
void write_run_metrics(const std::string& path, const JobTypeSpec& spec,
                       const RunnerMetricsSnapshot& counts, const RunFigures& run,
                       pg::Connection* conn) {
  auto families = run_families(spec.name, counts, run);
  if (conn != nullptr) {
    try {
      auto tx = conn->begin();
      const auto depths = pg::queue_depths(tx, spec.name, {spec.name});
      tx.commit();
      for (auto& f : queue_families(depths, unix_seconds_now())) families.push_back(std::move(f));
    } catch (const std::exception& e) {
      spdlog::warn("metrics: the metrics file {} goes without the queue depths: {}", path,
                   e.what());
    }
  }
  try {
    write_file_atomically(path, metrics::render(families));
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
  }
}

// glibc gives each thread that allocates its own arena, up to 8 per core:
// with a worker per job and the runner's own threads, a daemon at
// concurrency 16 kept 20 MB resident after 100,000 jobs, 13 MB with two
// arenas, at the same speed (docs/performance.md). MALLOC_ARENA_MAX, when
// set, still decides.
void limit_malloc_arenas() {
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
}

}  // namespace

int runner_main(int argc, char** argv, const JobType& type, const RunnerExtension& extension) {
  limit_malloc_arenas();
  const std::string name = "run-" + type.spec.name + "-jobs";
  CLI::App app("Runs the ready " + type.spec.display_name +
                   "s once, then exits (cron mode), or keeps running with --daemon. Jobs "
                   "whose runner died (their lease expired) are rescued first.",
               name);
  app.set_version_flag("--version", std::string(kVersion));
  app.footer(help_footer(type, name));

  std::optional<std::string> db;
  LogOptions log_options;
  RunnerOptions options;
  bool daemon = false;
  bool isolate = false;
  bool no_listen = false;
  bool durable_claims = false;
  std::optional<std::string> max_runtime, lease, retry_delay, job_timeout, memory_limit, retention;
  std::optional<std::string> metrics_listen, metrics_file;
  std::string metrics_interval = format_duration(kDefaultMetricsInterval);
  std::string grace = format_duration(options.grace);
  std::string poll_interval = format_duration(options.poll_interval);
  add_db_option(app, db);
  app.add_option("--limit", options.limit, "Run at most N jobs (0: all that are ready)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-runtime", max_runtime,
                 "Stop claiming new jobs after this long (e.g. 55s, so a cron run ends before "
                 "the next starts). At least " + format_duration(kMinMaxRuntime) +
                     "; omit it for no limit")
      ->check(duration_validator(kMinMaxRuntime, "omit --max-runtime for no limit"));
  app.add_option("--lease", lease,
                 "How long a claimed job is held before others may rescue it; renewed every "
                 "third of it while the job runs. At least " + format_duration(kMinLease) +
                     " (default: the type's registered lease, " + format_duration(type.spec.lease) +
                     " when compiled)")
      ->check(duration_validator(kMinLease, "heartbeats renew the lease every third of it"));
  app.add_option("--retry-delay", retry_delay,
                 "Delay before a job that hit a retry error runs again (with the type's "
                 "backoff: the first delay, doubled with each attempt); 0s: at once (default: "
                 "the type's registered retry delay, " +
                     format_duration(type.spec.retry.retry_delay) + " when compiled)")
      ->check(duration_validator());
  app.add_option("--concurrency", options.concurrency,
                 "Run up to N jobs at once (threads, each with its own database connection; "
                 "with --isolate, N child processes)")
      ->type_name("N")
      ->check(CLI::Range(1, kMaxConcurrency))
      ->capture_default_str();
  app.add_option("--prefetch", options.prefetch,
                 "Claim up to N jobs ahead of the free workers into a local queue, so claims "
                 "and completions take many jobs per transaction. A more urgent job enqueued "
                 "later waits behind at most N; one runner holds at most --concurrency + N "
                 "jobs, which other runners cannot take; prefetched jobs are given back at "
                 "once on SIGTERM. 0: claim only for free workers")
      ->type_name("N")
      ->check(CLI::Range(0, kMaxPrefetch))
      ->capture_default_str();
  app.add_flag("--isolate", isolate,
               std::string("Run the jobs in child processes, one long-lived child per "
                           "worker, so a crash, hang or leak costs one job and that child "
                           "(which is replaced), not the runner") +
                   (type.spec.isolate ? " (on by default for this type)" : ""));
  app.add_option("--job-timeout", job_timeout,
                 "Isolated jobs: kill a job that runs longer (SIGTERM, then SIGKILL 3s later); "
                 "it is retried or failed by its policy, with an error report. In-process "
                 "jobs: a deadline they can read (RunnableJob::deadline). At least " +
                     format_duration(kMinJobTimeout))
      ->check(duration_validator(kMinJobTimeout, "a job must have time to start"));
  app.add_option("--memory-limit", memory_limit,
                 "With isolation: the address-space limit (RLIMIT_AS) of each job's process, "
                 "e.g. 512M; the runner itself stays unlimited")
      ->check(byte_size_validator());
  app.add_option("--max-jobs-per-child", options.max_jobs_per_child,
                 "With isolation: replace each worker's child process after it ran N jobs "
                 "(0: never; a child that crashed, timed out or ran out of memory is replaced "
                 "anyway)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--grace", grace,
                 "After SIGTERM/SIGINT: how long the running jobs may take to finish before "
                 "they are given back (prefetched ones are given back at once); 0s: give them "
                 "back at once")
      ->check(duration_validator())
      ->capture_default_str();
  auto* daemon_flag = app.add_flag("--daemon", daemon,
               "Keep running until stopped: new jobs wake the daemon at once (LISTEN/NOTIFY), "
               "scheduled ones when they come due; it reconnects after losing the database "
               "(waiting 1s, doubling up to 30s). Several daemons of one type may run at once "
               "(the type's lock is for cron runs)");
  app.add_option("--poll-interval", poll_interval,
                 "Daemon mode: the longest wait when no job is ready; also how often expired "
                 "leases are rescued and a pause is noticed. At least " +
                     format_duration(kMinPollInterval))
      ->check(duration_validator(kMinPollInterval, "a daemon must not spin on the database"))
      ->capture_default_str();
  app.add_flag("--no-listen", no_listen,
               "Daemon mode: do not LISTEN for new jobs, only poll every --poll-interval (for "
               "connections through a transaction-pooling proxy such as PgBouncer)");
  app.add_flag("--durable-claims", durable_claims,
               "Wait for the WAL flush when committing claims (and batched completions), as "
               "every other commit does. Without it a server crash right after a claim can undo "
               "it: the job is WAITING again, its attempt neither counted nor logged, and may "
               "run again at once while the first attempt's work outside the database is still "
               "under way. Costs one more flush per claim; see docs/crash-safety.md");
  app.add_option("--retention", retention,
                 "Delete this type's finished jobs (COMPLETED, FAILED, CANCELLED) that finished "
                 "more than DURATION ago, in batches, at the end of the run (a daemon: also "
                 "hourly); 0s: every finished job. Off by default; see jobctl prune")
      ->check(duration_validator());
  app.add_option("--metrics-listen", metrics_listen,
                 "Daemon mode: serve Prometheus metrics on http://ADDR:PORT/metrics (off by "
                 "default; keep it on loopback, e.g. 127.0.0.1:9464, or behind a firewall: "
                 "it has no authentication). Port 0 picks a free port; the address bound is "
                 "logged. See docs/metrics.md")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            try {
              parse_listen_address(value);
              return {};
            } catch (const BadInput& e) {
              return e.what();
            }
          },
          "ADDR:PORT"))
      ->needs(daemon_flag);
  app.add_option("--metrics-file", metrics_file,
                 "Cron mode: at the end of the run, write its figures (as gauges) and the "
                 "type's queue depths to PATH in the Prometheus text format, atomically "
                 "(temporary file, then rename), for node_exporter's textfile collector "
                 "(name it *.prom in the collector's directory)")
      ->type_name("PATH")
      ->excludes(daemon_flag);
  app.add_option("--metrics-interval", metrics_interval,
                 "With --metrics-listen: read the queue depths from the database at most this "
                 "often, whatever the scrape rate (between reads the last figures are served). "
                 "At least 1s")
      ->check(duration_validator(std::chrono::seconds(1),
                                 "each read counts the type's unfinished jobs"))
      ->capture_default_str();
  add_log_options(app, log_options);
  if (extension.add_options) extension.add_options(app);

  if (auto code = parse_command_line(app, argc, argv)) return *code;
  setup_logging(name, log_options);
  if (max_runtime) options.max_runtime = parse_duration(*max_runtime);
  if (lease) options.lease = parse_duration(*lease);
  if (retry_delay) options.retry_delay = parse_duration(*retry_delay);
  if (job_timeout) options.job_timeout = parse_duration(*job_timeout);
  if (memory_limit) options.memory_limit = parse_byte_size(*memory_limit);
  if (isolate) options.isolate = true;
  options.listen = !no_listen;
  options.durable_claims = durable_claims;
  options.grace = parse_duration(grace);
  options.poll_interval = parse_duration(poll_interval);
  const double started_unix = unix_seconds_now();
  const auto host = hostname();
  options.owner = host + ":" + std::to_string(getpid());
  const auto conninfo = resolve_conninfo(db);
  options.conninfo = conninfo;
  install_stop_handlers();
  // A log reader that went away (`run-foo-jobs 2>&1 | head`, a log shipper
  // restarted) must not end the runner mid-job with SIGPIPE, leaving its
  // jobs to the lease and its type's lock held: writes then fail with EPIPE
  // and the run goes on. Commands it starts get every signal at its default
  // again (runtime/subprocess.cpp).
  signal(SIGPIPE, SIG_IGN);

  // The record of the run (runner_run) and the runner's connection outlive
  // the body, so that the end of a run that ended in an error is recorded
  // too, in one place, below.
  RunRecord record(conninfo, type.spec, host, static_cast<int>(getpid()));
  std::optional<pg::Connection> conn;
  RunStats stats;
  RunnerMetricsSnapshot counts;  // for --metrics-file, once the run ended
  const Runner* running = nullptr;  // while the runner exists
  const auto run_metrics = [&](int exit_code, pg::Connection* on) {
    if (!metrics_file) return;
    if (running != nullptr) counts = running->metrics().snapshot();
    write_run_metrics(*metrics_file, type.spec, counts,
                      {started_unix, unix_seconds_now(), exit_code}, on);
  };
  JobType registered = type;  // with the registry's defaults, once read
  int code = run_guarded([&]() -> int {
    check_job_type_spec(type.spec);  // before anything is written
    if (extension.configure) extension.configure();
    conn.emplace(pg::Connection::open(conninfo));
    spdlog::debug("connected to {}", conn->describe());
    registered.spec = registered_spec(*conn, type.spec, name);
    check_job_type_spec(registered.spec);
    const pg::JobStore store(registered.spec);
    {
      // jobctl pause: kept in the database, so it holds on every host.
      auto tx = conn->begin();
      const auto pause = pg::find_pause(tx, type.spec.name);
      tx.commit();
      if (pause) {
        spdlog::info("job type '{}' is {}; exiting without running jobs (jobctl unpause {} "
                     "lifts it)",
                     type.spec.name, pg::describe_pause(*pause), type.spec.name);
        return exit_code::ok;
      }
    }
    if (!daemon) {
      options.type_lock = take_type_lock(*conn, store, name, options);
      if (!options.type_lock) return exit_code::locked;
    }
    // The lock, if any, is released with the run's end.
    record.start(*conn, options.type_lock ? std::optional(options.type_lock->token) : std::nullopt);
    options.run_id = record.id();  // its lease keeper keeps runner_run.last_seen fresh
    std::optional<Duration> retention_period;
    if (retention) retention_period = parse_duration(*retention);
    if (daemon) options.housekeeping = daemon_housekeeping(registered, retention_period);
    options.tick_schedules = schedule_ticker(type.spec.name);
    // A graceful stop whose grace period ran out ends the process from the
    // dispatcher (it cannot wait for the jobs' threads): the run is recorded
    // there, on the runner's connection.
    options.before_exit = [&record, &run_metrics](pg::Connection& runner_conn,
                                                  const RunStats& so_far) {
      record.finish(exit_code::ok, so_far, &runner_conn);
      run_metrics(exit_code::ok, &runner_conn);
    };
    RecordingNotificationHook hook;
    Runner runner(*conn, registered, options, hook);
    running = &runner;
    // However the body ends: the runner's last counts, for --metrics-file.
    struct KeepCounts {
      const Runner*& running;
      RunnerMetricsSnapshot& counts;
      ~KeepCounts() {
        counts = running->metrics().snapshot();
        running = nullptr;
      }
    } keep_counts{running, counts};
    // Destroyed before the runner: it reads the runner's counts.
    std::optional<QueueMetrics> queue_metrics;
    std::optional<MetricsServer> metrics_server;
    if (metrics_listen) {
      queue_metrics.emplace(conninfo, registered.spec.name, parse_duration(metrics_interval));
      metrics_server.emplace(parse_listen_address(*metrics_listen), [&] {
        auto families = runner_families(registered.spec.name, runner.metrics().snapshot(),
                                        started_unix);
        for (auto& f : queue_metrics->families()) families.push_back(std::move(f));
        return metrics::render(families);
      });
      const auto address = parse_listen_address(*metrics_listen);
      const bool v6 = address.host.find(':') != std::string::npos;
      spdlog::info("serving metrics on http://{}{}{}:{}/metrics", v6 ? "[" : "", address.host,
                   v6 ? "]" : "", metrics_server->port());
    }
    if (daemon) {
      spdlog::info("running as a daemon ({}, concurrency {}{}); SIGTERM stops it",
                   options.listen ? "listening for new jobs" : "polling only",
                   options.concurrency, runner.isolated() ? ", isolated" : "");
    }
    try {
      stats = daemon ? runner.run_daemon() : runner.run_once();
    } catch (...) {
      stats = runner.last_stats();  // what it did before the error, for the record
      throw;
    }
    if (stats.rescued > 0) {
      spdlog::info("Rescued {} {}s whose runner had died.", stats.rescued, type.spec.display_name);
    }
    spdlog::info("Ran {} {}s.", stats.completed, type.spec.display_name);
    spdlog::info("{} {}s did not complete.", stats.not_completed, type.spec.display_name);
    if (retention_period) apply_retention(*conn, registered, *retention_period);
    return exit_code::ok;
  });
  // Every exit of a started run, normal or not, is recorded here (or, after
  // a graceful stop's grace period, by before_exit above). A run that did
  // its work but cannot record its end exits as that error says (e.g. 75).
  if (const auto error = record.finish(code, stats, conn ? &*conn : nullptr);
      error && code == exit_code::ok) {
    code = run_guarded([&]() -> int { std::rethrow_exception(error); });
  }
  run_metrics(code, conn ? &*conn : nullptr);
  return code;
}

}  // namespace jobrunner::app
