#pragma once
// How jobctl's subcommands plug into its main: each add_*_commands() adds
// its subcommands to the CLI and, when one is chosen, sets `action`.

#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "jobrunner/app/cli_support.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner::jobctl {

struct Context {
  std::optional<std::string> db;
  app::LogOptions log;
  bool json = false;  // --json: machine-readable output
  // Set by a command that reads the arguments CLI11 did not know (enqueue's
  // --<target column> ID); for any other command they are a usage error.
  bool extras_taken = false;
  // The chosen command; runs with an open connection, returns an exit code.
  std::function<int(pg::Connection&)> action;
};

void add_db_commands(CLI::App& app, Context& ctx);
void add_enqueue_command(CLI::App& app, Context& ctx);
void add_job_commands(CLI::App& app, Context& ctx);      // list, show
void add_move_commands(CLI::App& app, Context& ctx);     // suspend, resume, retry, cancel
void add_stats_commands(CLI::App& app, Context& ctx);    // stats, runs
void add_oops_commands(CLI::App& app, Context& ctx);     // oops list, oops show
void add_prune_command(CLI::App& app, Context& ctx);
void add_pause_commands(CLI::App& app, Context& ctx);    // pause, unpause, paused
void add_rescue_command(CLI::App& app, Context& ctx);    // rescue
void add_schedule_commands(CLI::App& app, Context& ctx);  // schedule add|list|show|...
void add_metrics_command(CLI::App& app, Context& ctx);    // metrics
void add_type_commands(CLI::App& app, Context& ctx);      // type notices
void add_web_command(CLI::App& app, Context& ctx);        // web (src/jobctl/web/)

}  // namespace jobrunner::jobctl
