// jobctl: the operator's tool. See docs/cli.md.
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/version.hpp"

int main(int argc, char** argv) {
  using namespace jobrunner;
  CLI::App app("jobctl: migrate the schema, enqueue and inspect jobs of jobrunner.", "jobctl");
  app.set_version_flag("--version", std::string(kVersion));
  app.require_subcommand(1);
  app.fallthrough();
  jobctl::Context ctx;
  app::add_db_option(app, ctx.db);
  app::add_log_options(app, ctx.log);
  app.footer(
      "\nExit codes: 0 ok, 64 bad options, 65 bad input (malformed JSON or time, unknown job, "
      "type or foo, a refused transition or duplicate), 70 internal error, 75 database "
      "unreachable, 78 configuration error (schema not migrated, edited patch, missing "
      "grants).\n\nExamples:\n"
      "  jobctl db upgrade\n"
      "  jobctl enqueue foo --foo 42 --json '{\"work_ms\": 100}'\n"
      "  jobctl list --status FAILED\n"
      "  jobctl show 17\n"
      "Run 'jobctl COMMAND --help' for the options of each command.");
  jobctl::add_db_commands(app, ctx);
  jobctl::add_job_commands(app, ctx);
  jobctl::add_oops_commands(app, ctx);

  if (auto code = app::parse_command_line(app, argc, argv)) return *code;
  app::setup_logging("jobctl", ctx.log);
  return app::run_guarded([&] {
    auto conn = pg::Connection::open(app::resolve_conninfo(ctx.db));
    return ctx.action(conn);
  });
}
