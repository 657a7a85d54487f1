// jobctl oops list | oops show
#include <charconv>
#include <iostream>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "common.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/pg/admin.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "table.hpp"

namespace jobrunner::jobctl {
namespace {

// "OOPS-12", "oops-12" or "12".
std::int64_t parse_report_id(const std::string& text) {
  std::string_view digits = text;
  if (digits.size() > 5 && (digits.substr(0, 5) == "OOPS-" || digits.substr(0, 5) == "oops-")) {
    digits.remove_prefix(5);
  }
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || end != digits.data() + digits.size() || id <= 0) {
    throw BadInput("invalid error report id '" + text + "' (use OOPS-12 or 12)");
  }
  return id;
}

struct ListOptions {
  std::optional<std::int64_t> job;
  std::optional<std::string> type;
  std::optional<std::string> since;
  int limit = 50;
};

int list_reports(pg::Connection& conn, const ListOptions& o, bool json) {
  if (o.type) find_type(conn, *o.type);
  auto tx = conn.begin();
  if (o.job && !pg::find_job(tx, *o.job)) throw NotFound("no job with id " + std::to_string(*o.job));
  pg::ErrorReportMatch match{o.job, o.type, std::nullopt, o.limit};
  if (o.since) match.since = pg::resolve_time(tx, *o.since, "--since");
  const auto reports = pg::find_error_reports(tx, match);
  tx.commit();
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : reports) out.push_back(report_json(r));
    print_json(out);
    return exit_code::ok;
  }
  Table table({"OOPS", "JOB", "CREATED", "TYPE", "MESSAGE", "VARIABLES"});
  for (const auto& r : reports) {
    table.add_row({"OOPS-" + std::to_string(r.id), r.job ? std::to_string(*r.job) : "-",
                   format_time(r.date_created), r.error_type, r.message, r.variables.dump()});
  }
  table.print(std::cout);
  if (reports.empty()) std::cout << "(no error reports)\n";
  return exit_code::ok;
}

int show_report(pg::Connection& conn, const std::string& id_text, bool json) {
  const auto id = parse_report_id(id_text);
  auto tx = conn.begin();
  const auto report = pg::get_error_report(tx, id);
  if (!report) throw NotFound("no error report OOPS-" + std::to_string(id));
  std::optional<Job> job;
  if (report->job) job = pg::find_job(tx, *report->job);
  tx.commit();
  auto out = report_json(*report);
  if (job) {
    out["job_type"] = job->job_type;
    out["job_status"] = to_string(job->status);
  }
  if (json) {
    print_json(out);
    return exit_code::ok;
  }
  auto& o = std::cout;
  o << "id:          OOPS-" << report->id << '\n';
  o << "job:         ";
  if (job) {
    o << job->id << " (" << job->job_type << ", now " << to_string(job->status)
      << "; jobctl show " << job->id << ")\n";
  } else {
    o << (report->job ? std::to_string(*report->job) + " (deleted)" : "-") << '\n';
  }
  o << "created:     " << format_time(report->date_created) << '\n';
  o << "error_type:  " << report->error_type << '\n';
  o << "message:     " << report->message << '\n';
  o << "variables:\n" << report->variables.dump(2) << '\n';
  return exit_code::ok;
}

}  // namespace

void add_oops_commands(CLI::App& app, Context& ctx) {
  auto* oops = app.add_subcommand("oops", "Error reports (OOPSes) filed for failed jobs");
  oops->require_subcommand(1);

  auto l = std::make_shared<ListOptions>();
  auto* list = oops->add_subcommand("list", "List error reports, newest first");
  list->add_option("--job", l->job, "Only the reports of this job")->type_name("ID");
  list->add_option("--type", l->type, "Only the reports of jobs of this type")->type_name("TYPE");
  list->add_option("--since", l->since,
                   "Only reports filed at or after TIME (ISO 8601, or a duration meaning that "
                   "long ago: 1h, 7d)")
      ->type_name("TIME");
  list->add_option("--limit", l->limit, "At most N reports")
      ->type_name("N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  list->add_flag("--json", ctx.json, "Print a JSON array");
  list->footer("\nExamples:\n  jobctl oops list --since 1h\n  jobctl oops list --job 17 --json");
  list->callback([&ctx, l] {
    ctx.action = [&ctx, l](pg::Connection& conn) { return list_reports(conn, *l, ctx.json); };
  });

  auto id = std::make_shared<std::string>();
  auto* show = oops->add_subcommand("show", "Show one error report with its variables");
  show->add_option("ID", *id, "OOPS-12 or 12")->required();
  show->add_flag("--json", ctx.json, "Print a JSON object");
  show->footer("\nExamples:\n  jobctl oops show OOPS-12\n  jobctl oops show 12 --json");
  show->callback([&ctx, id] {
    ctx.action = [&ctx, id](pg::Connection& conn) { return show_report(conn, *id, ctx.json); };
  });
}

}  // namespace jobrunner::jobctl
