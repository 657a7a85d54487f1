// jobctl pause | unpause | paused: per-type pauses that every runner obeys.
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "common.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/pg/admin.hpp"
#include "table.hpp"

namespace jobrunner::jobctl {
namespace {

// The operator's login name, else nullopt (the database user is used).
std::optional<std::string> login_name() {
  for (const char* name : {"USER", "LOGNAME"}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') return value;
  }
  return std::nullopt;
}

nlohmann::json pause_json(const pg::JobTypePause& p) {
  return {{"job_type", p.job_type},
          {"paused_at", format_time(p.paused_at)},
          {"paused_by", p.paused_by},
          {"reason", or_null(p.reason)}};
}

}  // namespace

void add_pause_commands(CLI::App& app, Context& ctx) {
  struct PauseOptions {
    std::string type;
    std::optional<std::string> reason;
    std::optional<std::string> by;
  };
  auto p = std::make_shared<PauseOptions>();
  auto* pause = app.add_subcommand(
      "pause",
      "Pause a job type: its runners, on every host, exit at once (exit 0) with a log line "
      "saying who paused it, when and why; a daemon stops at its next poll. Jobs stay as they "
      "are and can still be enqueued.");
  pause->add_option("TYPE", p->type, "The job type, e.g. foo")->required();
  pause->add_option("--reason", p->reason, "Why (shown in the runners' log and jobctl stats)")
      ->type_name("WHY");
  pause->add_option("--by", p->by, "Who pauses it (default: $USER, else the database user)")
      ->type_name("WHO");
  pause->add_flag("--json", ctx.json, "Print the pause as a JSON object");
  pause->footer("\nPausing a paused type is refused (exit 65) and changes nothing.\n"
                "\nExamples:\n  jobctl pause foo --reason 'database maintenance until 14:00'\n"
                "  jobctl unpause foo");
  pause->callback([&ctx, p] {
    ctx.action = [&ctx, p](pg::Connection& conn) {
      find_type(conn, p->type);
      auto tx = conn.begin();
      const auto made = pg::pause_job_type(tx, p->type, p->by ? p->by : login_name(), p->reason);
      tx.commit();
      if (ctx.json) {
        print_json(pause_json(made));
      } else {
        std::cout << "job type " << made.job_type << " is " << pg::describe_pause(made) << '\n';
      }
      spdlog::info("paused job type '{}'", made.job_type);
      return exit_code::ok;
    };
  });

  auto u = std::make_shared<std::string>();
  auto* unpause = app.add_subcommand(
      "unpause", "Let the runners of a paused job type run again (from their next start)");
  unpause->add_option("TYPE", *u, "The job type, e.g. foo")->required();
  unpause->footer("\nUnpausing a type that is not paused is refused (exit 65).\n"
                  "\nExample:\n  jobctl unpause foo");
  unpause->callback([&ctx, u] {
    ctx.action = [u](pg::Connection& conn) {
      find_type(conn, *u);
      auto tx = conn.begin();
      pg::unpause_job_type(tx, *u);
      tx.commit();
      std::cout << "job type " << *u << " is no longer paused\n";
      spdlog::info("unpaused job type '{}'", *u);
      return exit_code::ok;
    };
  });

  auto* paused = app.add_subcommand("paused", "List the paused job types");
  paused->add_flag("--json", ctx.json, "Print a JSON array");
  paused->footer("\nExample:\n  jobctl paused");
  paused->callback([&ctx] {
    ctx.action = [&ctx](pg::Connection& conn) {
      auto tx = conn.begin();
      const auto pauses = pg::list_pauses(tx);
      tx.commit();
      if (ctx.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& each : pauses) out.push_back(pause_json(each));
        print_json(out);
        return exit_code::ok;
      }
      Table table({"TYPE", "PAUSED AT", "BY", "REASON"});
      for (const auto& each : pauses) {
        table.add_row(
            {each.job_type, format_time(each.paused_at), each.paused_by, each.reason.value_or("-")});
      }
      table.print(std::cout);
      if (pauses.empty()) std::cout << "(no paused job types)\n";
      return exit_code::ok;
    };
  });
}

}  // namespace jobrunner::jobctl
