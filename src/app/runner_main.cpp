#include "jobrunner/app/runner_main.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "jobrunner/app/cli_support.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "jobrunner/runtime/runner.hpp"
#include "jobrunner/version.hpp"

namespace jobrunner::app {
namespace {

std::string hostname() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "unknown-host";
  return buffer;
}

std::string exit_codes_footer(const JobType& type, const std::string& name) {
  return "\nExit codes:\n"
         "  0   the run finished (jobs that failed are recorded in the database, not here)\n"
         "  64  bad options\n"
         "  69  another run of this job type holds its lock (on any host); nothing was done\n"
         "  70  internal error\n"
         "  75  the database is unreachable or was lost; run again later\n"
         "  78  configuration error: schema not migrated, missing grants\n"
         "\nExamples:\n"
         "  " + name + "                                  # run the ready " + type.spec.display_name + "s once (cron)\n"
         "  " + name + " --db 'dbname=app user=jobrunner_" + type.spec.name + "_runner' --limit 100\n"
         "  DATABASE_URL=postgresql://host/app " + name + " --max-runtime 55s --log-format json\n";
}

}  // namespace

int runner_main(int argc, char** argv, const JobType& type) {
  const std::string name = "run-" + type.spec.name + "-jobs";
  CLI::App app("Runs the ready " + type.spec.display_name +
                   "s once, then exits (cron mode). Jobs whose runner died (their lease "
                   "expired) are rescued first.",
               name);
  app.set_version_flag("--version", std::string(kVersion));
  app.footer(exit_codes_footer(type, name));

  std::optional<std::string> db;
  LogOptions log_options;
  RunnerOptions options;
  std::optional<std::string> max_runtime, lease, retry_delay;
  add_db_option(app, db);
  app.add_option("--limit", options.limit, "Run at most N jobs (0: all that are ready)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-runtime", max_runtime,
                 "Stop claiming new jobs after this long (e.g. 55s, so a cron run ends before "
                 "the next starts)")
      ->check(duration_validator());
  app.add_option("--lease", lease,
                 "How long a claimed job is held before others may rescue it (default " +
                     format_duration(type.spec.lease) + ")")
      ->check(duration_validator());
  app.add_option("--retry-delay", retry_delay,
                 "Delay before a job that hit a retry error runs again (default " +
                     format_duration(type.spec.retry.retry_delay) + ")")
      ->check(duration_validator());
  add_log_options(app, log_options);

  if (auto code = parse_command_line(app, argc, argv)) return *code;
  setup_logging(name, log_options);
  if (max_runtime) options.max_runtime = parse_duration(*max_runtime);
  if (lease) options.lease = parse_duration(*lease);
  if (retry_delay) options.retry_delay = parse_duration(*retry_delay);
  const auto host = hostname();
  options.owner = host + ":" + std::to_string(getpid());

  const auto conninfo = resolve_conninfo(db);
  options.heartbeat_conninfo = conninfo;
  return run_guarded([&]() -> int {
    auto conn = pg::Connection::open(conninfo);
    spdlog::debug("connected to {}", conn.describe());
    const pg::JobStore store(type.spec);
    {
      auto tx = conn.begin();
      const bool locked = store.try_lock_type(tx);
      tx.commit();
      if (!locked) {
        spdlog::warn("another {} holds the lock of job type '{}' (on this or another host); "
                     "exiting without running jobs",
                     name, type.spec.name);
        return exit_code::locked;
      }
    }
    std::int64_t run_id = 0;
    {
      auto tx = conn.begin();
      run_id = pg::start_runner_run(tx, type.spec.name, host, static_cast<int>(getpid()));
      tx.commit();
    }
    RecordingNotificationHook hook;
    Runner runner(conn, type, options, hook);
    const auto stats = runner.run_once();
    if (stats.rescued > 0) {
      spdlog::info("Rescued {} {}s whose runner had died.", stats.rescued, type.spec.display_name);
    }
    spdlog::info("Ran {} {}s.", stats.completed, type.spec.display_name);
    spdlog::info("{} {}s did not complete.", stats.not_completed, type.spec.display_name);
    auto tx = conn.begin();
    pg::finish_runner_run(tx, run_id, stats.completed, stats.not_completed, exit_code::ok);
    tx.commit();
    return exit_code::ok;
  });
}

}  // namespace jobrunner::app
