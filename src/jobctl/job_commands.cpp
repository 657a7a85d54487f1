// jobctl list | show
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

int show_job(pg::Connection& conn, std::int64_t id, int log_lines, bool json) {
  auto tx = conn.begin();
  const auto details = load_job_details(tx, id);
  tx.commit();
  const auto* job = &details.job;
  const auto& type = details.type;
  const bool has_type_row = details.has_type_row;
  const auto& reports = details.reports;
  const auto& notices = details.notices;
  const auto& log = details.log;
  const auto& attempts = details.attempts;
  auto out = job_json(*job);
  if (has_type_row) {
    out["type_row"] = {{"table", type->spec.table},
                       {type->spec.target_column, *job->target_id},
                       {"job_type", job->type_code},
                       {"json_data", job->metadata}};
  } else {
    out["type_row"] = nullptr;
  }
  out["attempts"] = attempts;
  out["error_reports"] = nlohmann::json::array();
  for (const auto& r : reports) out["error_reports"].push_back(report_json(r));
  out["notifications"] = nlohmann::json::array();
  for (const auto& n : notices) {
    out["notifications"].push_back({{"id", n.id},
                                    {"recipient", or_null(n.recipient)},
                                    {"subject", n.subject},
                                    {"body", n.body},
                                    {"date_created", format_time(n.date_created)}});
  }
  if (json) {
    print_json(out);
    return exit_code::ok;
  }

  auto& o = std::cout;
  auto field = [&o](std::string_view name, const std::string& value) {
    o << name << ": " << value << '\n';
  };
  field("id", std::to_string(job->id));
  field("type", job->job_type);
  field("status", std::string(to_string(job->status)));
  field("reason", job->reason.value_or("-"));
  field("requester", job->requester.value_or("-"));
  field("priority", std::to_string(job->priority));
  field("attempts", std::to_string(job->attempt_count) + " of " +
                        std::to_string(job->max_retries + 1) + " (max_retries " +
                        std::to_string(job->max_retries) + ")");
  field("created", format_time(job->date_created));
  field("scheduled_start", format_time(job->scheduled_start));
  field("started", format_time(job->date_started));
  field("finished", format_time(job->date_finished));
  if (job->lease_token) {
    field("lease", "held by " + job->lease_owner.value_or("?") + " until " +
                       format_time(job->lease_expires) + " (token " + *job->lease_token + ")");
  } else {
    field("lease", "-");
  }
  field("json_data", job->json_data.dump());
  field("result", job->result ? job->result->dump() : "-");
  if (has_type_row) {
    field("type_row", type->spec.table + ": " + type->spec.target_column + " " +
                          std::to_string(*job->target_id) + ", job_type " +
                          std::to_string(job->type_code));
    field("metadata", job->metadata.dump());
  } else {
    field("type_row", !type                ? "- (type not registered)"
                      : !type->has_table() ? "- (the type has no table of its own)"
                                           : "- (missing)");
  }
  o << "\nattempts (from the log):" << (attempts.empty() ? " none" : "") << '\n';
  for (const auto& line : attempts) o << "  " << line << '\n';
  o << "\nerror reports:" << (reports.empty() ? " none" : "") << '\n';
  for (const auto& r : reports) {
    o << "  OOPS-" << r.id << "  " << format_time(r.date_created) << "  " << r.error_type << ": "
      << r.message << "  " << r.variables.dump() << '\n';
  }
  o << "\nnotifications:" << (notices.empty() ? " none" : "") << '\n';
  for (const auto& n : notices) {
    o << "  " << format_time(n.date_created) << "  to " << n.recipient.value_or("-") << ": "
      << n.subject << '\n';
  }
  const std::size_t shown =
      log_lines == 0 ? log.size() : std::min(log.size(), static_cast<std::size_t>(log_lines));
  if (log.empty()) {
    o << "\nlog: empty\n";
  } else {
    o << "\nlog (last " << shown << " of " << log.size() << " lines):\n";
    for (std::size_t i = log.size() - shown; i < log.size(); ++i) o << "  " << log[i] << '\n';
  }
  return exit_code::ok;
}

}  // namespace

void add_job_commands(CLI::App& app, Context& ctx) {
  struct ListOptions {
    FilterOptions filter;
    std::string order = "newest";
    int limit = 50;
  };
  auto l = std::make_shared<ListOptions>();
  auto* list = app.add_subcommand("list", "List jobs, newest first, filtered and ordered");
  add_filter_options(list, l->filter);
  list->add_option("--order", l->order,
                   "newest or oldest (by id), finished (latest first), claim (the order runners "
                   "claim in: priority, then id)")
      ->check(CLI::IsMember({"newest", "oldest", "finished", "claim"}))
      ->capture_default_str();
  list->add_option("--limit", l->limit, "At most N jobs")
      ->type_name("N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  list->add_flag("--json", ctx.json, "Print a JSON array");
  list->footer(
      "\nAn empty result is an answer, not an error: '(no jobs)', or [] with --json, exit 0.\n"
      "\nExamples:\n"
      "  jobctl list --status FAILED --limit 20\n"
      "  jobctl list --type foo --status WAITING,SUSPENDED --order claim\n"
      "  jobctl list --requester alice --created-after 1d --json\n"
      "  jobctl list --finished-before 2026-11-01T00:00:00Z --order finished");
  list->callback([&ctx, l] {
    ctx.action = [&ctx, l](pg::Connection& conn) {
      auto tx = conn.begin();
      const auto match = resolve_filter(tx, l->filter);
      pg::JobOrder order = pg::JobOrder::newest;
      if (l->order == "oldest") order = pg::JobOrder::oldest;
      if (l->order == "finished") order = pg::JobOrder::finished;
      if (l->order == "claim") order = pg::JobOrder::claim;
      const auto jobs = pg::find_jobs(tx, match, order, l->limit);
      tx.commit();
      print_jobs(jobs, ctx.json);
      return exit_code::ok;
    };
  });

  struct ShowOptions {
    std::int64_t id = 0;
    int log_lines = 20;
  };
  auto s = std::make_shared<ShowOptions>();
  auto* show = app.add_subcommand(
      "show",
      "Show one job: every column, its type's row and metadata, its attempts, error reports, "
      "requester notices and the tail of its log");
  show->add_option("ID", s->id, "The job id")->required();
  show->add_option("--log-lines", s->log_lines, "How many of the newest log lines (0: all)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  show->add_flag("--json", ctx.json, "Print a JSON object (with the whole log)");
  show->footer("\nExamples:\n  jobctl show 17\n  jobctl show 17 --log-lines 0\n"
               "  jobctl show 17 --json | jq .error_reports");
  show->callback([&ctx, s] {
    ctx.action = [&ctx, s](pg::Connection& conn) {
      return show_job(conn, s->id, s->log_lines, ctx.json);
    };
  });
}

}  // namespace jobrunner::jobctl
