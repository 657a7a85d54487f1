// jobctl enqueue | list | show | suspend | resume | retry
#include <iostream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "registry.hpp"
#include "table.hpp"

namespace jobrunner::jobctl {
namespace {

const JobType& find_type(const std::string& name) {
  std::string known;
  for (const auto& type : jobs::all_job_types()) {
    if (type.spec.name == name) return type;
    known += (known.empty() ? "" : ", ") + type.spec.name;
  }
  throw BadInput("unknown job type '" + name + "' (known types: " + known + ")");
}

nlohmann::json parse_metadata(const std::string& text) {
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw BadInput("--json is not valid JSON: " + std::string(e.what()));
  }
  if (!value.is_object()) {
    throw BadInput("--json must be a JSON object like {\"key\": \"value\"}, not " +
                   std::string(value.type_name()));
  }
  return value;
}

nlohmann::json time_or_null(const std::optional<TimePoint>& time) {
  if (!time) return nullptr;
  return format_time(time);
}

template <typename T>
nlohmann::json or_null(const std::optional<T>& value) {
  if (!value) return nullptr;
  return *value;
}

nlohmann::json job_json(const Job& job) {
  return {{"id", job.id},
          {"job_type", job.job_type},
          {"status", to_string(job.status)},
          {"requester", or_null(job.requester)},
          {"reason", or_null(job.reason)},
          {"priority", job.priority},
          {"scheduled_start", time_or_null(job.scheduled_start)},
          {"lease_expires", time_or_null(job.lease_expires)},
          {"lease_owner", or_null(job.lease_owner)},
          {"attempt_count", job.attempt_count},
          {"max_retries", job.max_retries},
          {"date_created", format_time(job.date_created)},
          {"date_started", time_or_null(job.date_started)},
          {"date_finished", time_or_null(job.date_finished)},
          {"json_data", job.json_data},
          {"log", job.log}};
}

void print_jobs(const std::vector<Job>& jobs, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& job : jobs) out.push_back(job_json(job));
    std::cout << out.dump(2) << '\n';
    return;
  }
  Table table({"ID", "TYPE", "STATUS", "ATTEMPTS", "CREATED", "STARTED", "FINISHED",
               "SCHEDULED"});
  for (const auto& job : jobs) {
    table.add_row({std::to_string(job.id), job.job_type, std::string(to_string(job.status)),
                   std::to_string(job.attempt_count) + "/" + std::to_string(job.max_retries + 1),
                   format_time(job.date_created), format_time(job.date_started),
                   format_time(job.date_finished), format_time(job.scheduled_start)});
  }
  table.print(std::cout);
  if (jobs.empty()) std::cout << "(no jobs)\n";
}

int show_job(pg::Connection& conn, std::int64_t id, bool json) {
  auto tx = conn.begin();
  auto job = pg::find_job(tx, id);
  if (!job) throw NotFound("no job with id " + std::to_string(id));
  for (const auto& type : jobs::all_job_types()) {
    if (type.spec.name == job->job_type) job = pg::JobStore(type.spec).get(tx, id);
  }
  const auto reports = pg::list_error_reports(tx, id, 20);
  tx.commit();
  auto out = job_json(*job);
  out["target_id"] = job->target_id;
  out["type_code"] = job->type_code;
  out["metadata"] = job->metadata;
  out["error_reports"] = nlohmann::json::array();
  for (const auto& r : reports) {
    out["error_reports"].push_back({{"id", "OOPS-" + std::to_string(r.id)},
                                    {"date_created", format_time(r.date_created)},
                                    {"error_type", r.error_type},
                                    {"message", r.message},
                                    {"variables", r.variables}});
  }
  if (json) {
    std::cout << out.dump(2) << '\n';
    return exit_code::ok;
  }
  for (const auto& [key, value] : out.items()) {
    if (key == "log" || key == "error_reports") continue;
    std::cout << key << ": " << (value.is_string() ? value.get<std::string>() : value.dump())
              << '\n';
  }
  std::cout << "error_reports:" << (reports.empty() ? " none" : "") << '\n';
  for (const auto& r : out["error_reports"]) std::cout << "  " << r.dump() << '\n';
  std::cout << "log:\n" << (job->log.empty() ? "  (empty)" : job->log) << '\n';
  return exit_code::ok;
}

// suspend, resume and retry share one shape: a move along the transition table.
void add_move_command(CLI::App& app, Context& ctx, const std::string& name, JobStatus to,
                      const std::string& help) {
  struct Options {
    std::int64_t id = 0;
    std::optional<std::string> reason;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(name, help);
  cmd->add_option("ID", opts->id, "The job id")->required();
  cmd->add_option("--reason", opts->reason, "Why (kept in job.reason and the job's log)");
  cmd->callback([&ctx, opts, to, name] {
    ctx.action = [opts, to, name](pg::Connection& conn) {
      auto tx = conn.begin();
      const auto job = pg::set_job_status(tx, opts->id, to, opts->reason);
      tx.commit();
      spdlog::info("job {} is now {}", job.id, to_string(job.status));
      return exit_code::ok;
    };
  });
}

}  // namespace

void add_job_commands(CLI::App& app, Context& ctx) {
  struct EnqueueOptions {
    std::string type;
    std::int64_t target = 0;
    std::string json = "{}";
    std::optional<std::string> at;
    std::optional<int> max_retries;
    int priority = 0;
    std::optional<std::string> requester;
    std::optional<std::string> reason;
  };
  auto e = std::make_shared<EnqueueOptions>();
  auto* enqueue = app.add_subcommand(
      "enqueue",
      "Create one job of TYPE about the given target (for foo: --foo ID). Refused if a job of "
      "that type is already pending for the target.");
  enqueue->add_option("TYPE", e->type, "The job type, e.g. foo")->required();
  std::string target_flags = "--target";
  for (const auto& type : jobs::all_job_types()) target_flags += ",--" + type.spec.target_column;
  enqueue->add_option(target_flags, e->target, "The id of what the job is about (e.g. a foo)")
      ->type_name("ID")
      ->required();
  enqueue->add_option("--json", e->json, "Metadata for the job, a JSON object")
      ->type_name("DATA")
      ->capture_default_str();
  enqueue->add_option("--at", e->at,
                      "Do not start before this time (ISO 8601, e.g. 2026-12-01T08:00:00Z)")
      ->type_name("TIME");
  enqueue->add_option("--max-retries", e->max_retries,
                      "Retries after the first attempt (default: the type's)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  enqueue->add_option("--priority", e->priority, "Lower runs first")->capture_default_str();
  enqueue->add_option("--requester", e->requester, "Who asked (notified of user errors)");
  enqueue->add_option("--reason", e->reason, "Why the job was requested");
  enqueue->callback([&ctx, e] {
    ctx.action = [e](pg::Connection& conn) {
      const auto& type = find_type(e->type);
      pg::EnqueueRequest request;
      request.target_id = e->target;
      request.metadata = parse_metadata(e->json);
      request.scheduled_start = e->at;
      request.max_retries = e->max_retries;
      request.priority = e->priority;
      request.requester = e->requester;
      request.reason = e->reason;
      auto tx = conn.begin();
      const auto id = pg::JobStore(type.spec).enqueue(tx, request);
      tx.commit();
      std::cout << id << '\n';
      spdlog::info("enqueued {} {} for {} {}", type.spec.display_name, id, type.spec.target_table,
                   e->target);
      return exit_code::ok;
    };
  });

  struct ListOptions {
    std::optional<std::string> type;
    std::optional<std::string> status;
    int limit = 50;
  };
  auto l = std::make_shared<ListOptions>();
  auto* list = app.add_subcommand("list", "List jobs, newest first");
  list->add_option("--type", l->type, "Only jobs of this type");
  list->add_option("--status", l->status,
                   "Only jobs in this status: WAITING, RUNNING, COMPLETED, FAILED, SUSPENDED");
  list->add_option("--limit", l->limit, "At most N jobs")->type_name("N")->check(
      CLI::PositiveNumber)->capture_default_str();
  list->add_flag("--json", ctx.json, "Print JSON");
  list->callback([&ctx, l] {
    ctx.action = [&ctx, l](pg::Connection& conn) {
      pg::JobFilter filter{l->type, std::nullopt, l->limit};
      if (l->type) find_type(*l->type);
      if (l->status) {
        filter.status = parse_status(*l->status);
        if (!filter.status) {
          throw BadInput("unknown status '" + *l->status +
                         "' (use WAITING, RUNNING, COMPLETED, FAILED or SUSPENDED)");
        }
      }
      auto tx = conn.begin();
      const auto jobs = pg::list_jobs(tx, filter);
      tx.commit();
      print_jobs(jobs, ctx.json);
      return exit_code::ok;
    };
  });

  auto show_id = std::make_shared<std::int64_t>(0);
  auto* show = app.add_subcommand("show", "Show every column of a job, its type's row and "
                                          "metadata, its error reports and its log");
  show->add_option("ID", *show_id, "The job id")->required();
  show->add_flag("--json", ctx.json, "Print JSON");
  show->callback([&ctx, show_id] {
    ctx.action = [&ctx, show_id](pg::Connection& conn) { return show_job(conn, *show_id, ctx.json); };
  });

  add_move_command(app, ctx, "suspend", JobStatus::suspended,
                   "Park a WAITING job (or take a RUNNING one from its runner) as SUSPENDED");
  add_move_command(app, ctx, "resume", JobStatus::waiting,
                   "Bring a SUSPENDED job back to WAITING, ready now");
  add_move_command(app, ctx, "retry", JobStatus::waiting,
                   "Run a FAILED or COMPLETED job again: WAITING, ready now");
}

}  // namespace jobrunner::jobctl
