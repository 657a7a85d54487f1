// jobctl oops list
#include <iostream>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "table.hpp"

namespace jobrunner::jobctl {

void add_oops_commands(CLI::App& app, Context& ctx) {
  struct Options {
    std::optional<std::int64_t> job;
    int limit = 50;
  };
  auto opts = std::make_shared<Options>();
  auto* oops = app.add_subcommand("oops", "Error reports (OOPSes) filed for failed jobs");
  oops->require_subcommand(1);
  auto* list = oops->add_subcommand("list", "List error reports, newest first");
  list->add_option("--job", opts->job, "Only the reports of this job")->type_name("ID");
  list->add_option("--limit", opts->limit, "At most N reports")->type_name("N")->check(
      CLI::PositiveNumber)->capture_default_str();
  list->add_flag("--json", ctx.json, "Print JSON");
  list->callback([&ctx, opts] {
    ctx.action = [&ctx, opts](pg::Connection& conn) {
      auto tx = conn.begin();
      const auto reports = pg::list_error_reports(tx, opts->job, opts->limit);
      tx.commit();
      nlohmann::json out = nlohmann::json::array();
      Table table({"OOPS", "JOB", "CREATED", "TYPE", "MESSAGE", "VARIABLES"});
      for (const auto& r : reports) {
        const auto id = "OOPS-" + std::to_string(r.id);
        const auto job = r.job ? std::to_string(*r.job) : "-";
        out.push_back({{"id", id}, {"job", r.job ? nlohmann::json(*r.job) : nlohmann::json(nullptr)}, {"date_created", format_time(r.date_created)},
                       {"error_type", r.error_type}, {"message", r.message},
                       {"variables", r.variables}});
        table.add_row({id, job, format_time(r.date_created), r.error_type, r.message,
                       r.variables.dump()});
      }
      if (ctx.json) {
        std::cout << out.dump(2) << '\n';
      } else {
        table.print(std::cout);
        if (reports.empty()) std::cout << "(no error reports)\n";
      }
      return exit_code::ok;
    };
  });
}

}  // namespace jobrunner::jobctl
