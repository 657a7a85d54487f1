// jobctl: the operator's tool. See docs/cli.md.
#include <iostream>

#include <spdlog/spdlog.h>

#include "command.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/version.hpp"

int main(int argc, char** argv) {
  using namespace jobrunner;
  CLI::App app("jobctl: migrate the schema; enqueue, inspect, move, prune and pause the jobs "
               "of jobrunner; schedule recurring jobs; read error reports, queue statistics "
               "and runner runs; serve a dashboard.",
               "jobctl");
  app.set_version_flag("--version", std::string(kVersion));
  // At most one command; a missing one is reported below, so that an unknown
  // word is reported as such rather than as a missing command.
  app.require_subcommand(0, 1);
  app.fallthrough();
  jobctl::Context ctx;
  app::add_db_option(app, ctx.db);
  app::add_log_options(app, ctx.log);
  app.footer(
      "\nOutput: tables on stdout (--json on every listing for scripts); logs and errors, one "
      "line each, on stderr.\n"
      "\nExit codes: 0 ok; 64 bad options or arguments (unknown option, malformed duration, "
      "missing argument); 65 bad input, nothing changed (malformed JSON or time, unknown job, "
      "type, status, error report or foo, a filter that matches no job to move, a refused "
      "transition, a duplicate pending job, a type already paused); 70 internal error; 75 "
      "database unreachable; 78 configuration error (schema not migrated, edited patch, "
      "missing grants).\n"
      "\nExamples:\n"
      "  jobctl db upgrade\n"
      "  jobctl enqueue foo --foo 42 --json '{\"work_ms\": 100}'\n"
      "  jobctl enqueue foo --from jobs.jsonl\n"
      "  jobctl list --status FAILED --finished-after 1d\n"
      "  jobctl show 17\n"
      "  jobctl retry --type foo --status FAILED --dry-run\n"
      "  jobctl cancel 18 --reason 'requested by mistake'\n"
      "  jobctl stats\n"
      "  jobctl oops list --since 1h\n"
      "  jobctl prune --older-than 30d\n"
      "  jobctl pause foo --reason 'maintenance'\n"
      "  jobctl type notices foo --mail ops@example.com --webhook alerts\n"
      "  jobctl schedule add nightly --type report --cron '30 2 * * *' --zone Europe/Berlin\n"
      "  jobctl web --allow-actions\n"
      "Run 'jobctl COMMAND --help' for the options and examples of each command; docs/cli.md "
      "lists them all.");
  jobctl::add_db_commands(app, ctx);
  jobctl::add_enqueue_command(app, ctx);
  jobctl::add_job_commands(app, ctx);
  jobctl::add_move_commands(app, ctx);
  jobctl::add_stats_commands(app, ctx);
  jobctl::add_oops_commands(app, ctx);
  jobctl::add_prune_command(app, ctx);
  jobctl::add_pause_commands(app, ctx);
  jobctl::add_rescue_command(app, ctx);
  jobctl::add_schedule_commands(app, ctx);
  jobctl::add_metrics_command(app, ctx);
  jobctl::add_type_commands(app, ctx);
  jobctl::add_web_command(app, ctx);

  // Unknown arguments reach the main app (fallthrough); only enqueue takes
  // them (the type's own flag, --foo ID), every other command refuses them.
  app.allow_extras();
  if (auto code = app::parse_command_line(app, argc, argv)) return *code;
  if (!ctx.extras_taken && !app.remaining(true).empty()) {
    std::cerr << "jobctl: " << CLI::ExtrasError(app.remaining(true)).what()
              << "\nRun with --help for usage.\n";
    return exit_code::usage;
  }
  if (!ctx.action) {
    std::cerr << "jobctl: a command is required, e.g. jobctl list\nRun with --help for usage.\n";
    return exit_code::usage;
  }
  app::setup_logging("jobctl", ctx.log);
  return app::run_guarded([&] {
    auto conn = pg::Connection::open(app::resolve_conninfo(ctx.db));
    try {
      return ctx.action(conn);
    } catch (const CLI::ParseError& e) {
      // An argument that only the database can judge, such as a type's own
      // flag (enqueue --foo ID): a usage error like any other.
      std::cerr << "jobctl: " << e.what() << "\nRun with --help for usage.\n";
      return exit_code::usage;
    }
  });
}
