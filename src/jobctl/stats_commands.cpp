// jobctl stats | runs
#include <iostream>
#include <span>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "common.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/pg/admin.hpp"
#include "table.hpp"

namespace jobrunner::jobctl {
namespace {

// Counted exactly, from their partial indexes.
constexpr JobStatus kUnfinished[] = {JobStatus::waiting, JobStatus::running,
                                     JobStatus::suspended};
// Counted within the window only (no index holds them apart from the rest).
constexpr JobStatus kFinished[] = {JobStatus::completed, JobStatus::failed,
                                   JobStatus::cancelled};

std::int64_t count_of(const std::map<JobStatus, std::int64_t>& counts, JobStatus s) {
  const auto it = counts.find(s);
  return it == counts.end() ? 0 : it->second;
}

nlohmann::json counts_json(const std::map<JobStatus, std::int64_t>& counts,
                           std::span<const JobStatus> statuses) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto s : statuses) out[std::string(to_string(s))] = count_of(counts, s);
  return out;
}

nlohmann::json run_json(const pg::RunnerRun& r) {
  nlohmann::json duration = nullptr;
  if (r.date_finished) {
    duration = std::chrono::duration_cast<Duration>(*r.date_finished - r.date_started).count() / 1000.0;
  }
  return {{"id", r.id},
          {"job_type", r.job_type},
          {"hostname", r.hostname},
          {"pid", r.pid},
          {"date_started", format_time(r.date_started)},
          {"date_finished", time_or_null(r.date_finished)},
          {"duration_s", duration},
          {"jobs_run", or_null(r.jobs_run)},
          {"jobs_not_completed", or_null(r.jobs_not_completed)},
          {"exit_code", or_null(r.exit_code)},
          {"last_seen", time_or_null(r.last_seen)},
          {"alive", r.alive}};
}

std::string opt_number(const std::optional<int>& value) {
  return value ? std::to_string(*value) : "-";
}

std::string run_duration(const pg::RunnerRun& r) {
  if (!r.date_finished) return "(running, or died)";
  return format_age(std::chrono::duration_cast<Duration>(*r.date_finished - r.date_started));
}

nlohmann::json pause_json(const std::optional<pg::JobTypePause>& p) {
  if (!p) return nullptr;
  return {{"paused_at", format_time(p->paused_at)},
          {"paused_by", p->paused_by},
          {"reason", or_null(p->reason)}};
}

int show_stats(pg::Connection& conn, const std::optional<std::string>& type,
               const std::string& window, bool json) {
  if (type) find_type(conn, *type);
  const auto finished_window = parse_duration(window);
  auto tx = conn.begin();
  const auto stats = pg::queue_stats(tx, type, known_type_names(tx), finished_window);
  tx.commit();

  if (json) {
    nlohmann::json estimate = nullptr;
    if (stats.job_rows_estimate) estimate = *stats.job_rows_estimate;
    nlohmann::json out = {{"types", nlohmann::json::array()},
                          {"running", nlohmann::json::array()},
                          {"running_total", stats.running_total},
                          {"finished_window",
                           {{"duration_s", stats.finished_window.count() / 1000.0},
                            {"since", stats.finished_since}}},
                          {"job_rows_estimate", estimate}};
    for (const auto& t : stats.types) {
      nlohmann::json lag = nullptr;
      if (t.oldest_ready_age) lag = t.oldest_ready_age->count() / 1000.0;
      out["types"].push_back({{"job_type", t.job_type},
                              {"counts", counts_json(t.counts, kUnfinished)},
                              {"finished_in_window", counts_json(t.finished_in_window, kFinished)},
                              {"ready", t.ready},
                              {"oldest_ready_age_s", lag},
                              {"failed_last_hour", t.failed_last_hour},
                              {"paused", pause_json(t.pause)},
                              {"last_run", t.last_run ? run_json(*t.last_run) : nullptr}});
    }
    for (const auto& r : stats.running) {
      out["running"].push_back({{"id", r.job.id},
                                {"job_type", r.job.job_type},
                                {"lease_owner", or_null(r.job.lease_owner)},
                                {"date_started", time_or_null(r.job.date_started)},
                                {"attempt_count", r.job.attempt_count},
                                {"lease_expires", time_or_null(r.job.lease_expires)},
                                {"lease_left_s", r.lease_left.count() / 1000.0},
                                {"lease_expired", r.lease_left < Duration::zero()}});
    }
    print_json(out);
    return exit_code::ok;
  }

  auto& o = std::cout;
  const auto window_label = format_duration(stats.finished_window);
  o << "Jobs by type (WAITING, RUNNING, SUSPENDED: all of them; COMPLETED, FAILED, CANCELLED: "
       "only those finished in the last "
    << window_label << ", since " << stats.finished_since
    << "; READY: WAITING and due; LAG: how long the oldest ready job has waited):\n";
  std::vector<std::string> headers = {"TYPE"};
  for (const auto s : kUnfinished) headers.emplace_back(to_string(s));
  for (const auto s : kFinished) headers.push_back(std::string(to_string(s)) + " " + window_label);
  // FAILED 1h says whether something fails now, whatever the window; with a
  // window of 1h it is the FAILED column already there.
  const bool failed_1h_column = stats.finished_window != std::chrono::hours(1);
  headers.insert(headers.end(), {"READY", "LAG"});
  if (failed_1h_column) headers.insert(headers.end(), {"FAILED 1h"});
  Table counts(headers);
  for (const auto& t : stats.types) {
    std::vector<std::string> row = {t.job_type};
    for (const auto s : kUnfinished) row.push_back(std::to_string(count_of(t.counts, s)));
    for (const auto s : kFinished) {
      row.push_back(std::to_string(count_of(t.finished_in_window, s)));
    }
    row.push_back(std::to_string(t.ready));
    row.push_back(t.oldest_ready_age ? format_age(*t.oldest_ready_age) : "-");
    if (failed_1h_column) row.push_back(std::to_string(t.failed_last_hour));
    counts.add_row(std::move(row));
  }
  counts.print(o);
  o << "Rows in job, finished ones included: "
    << (stats.job_rows_estimate ? "about " + std::to_string(*stats.job_rows_estimate)
                                : std::string("unknown"))
    << " (the planner's estimate, as of the last ANALYZE; not a count)\n";

  o << "\nRunning jobs (" << stats.running_total << "):\n";
  if (stats.running.empty()) {
    o << "  none\n";
  } else {
    Table running({"ID", "TYPE", "OWNER", "STARTED", "ATTEMPT", "LEASE EXPIRES", "LEASE"});
    for (const auto& r : stats.running) {
      const std::string left = r.lease_left < Duration::zero()
                                   ? "expired " + format_age(-r.lease_left) + " ago: to be rescued"
                                   : "in " + format_age(r.lease_left);
      running.add_row({std::to_string(r.job.id), r.job.job_type, r.job.lease_owner.value_or("-"),
                       format_time(r.job.date_started),
                       std::to_string(r.job.attempt_count) + "/" +
                           std::to_string(r.job.max_retries + 1),
                       format_time(r.job.lease_expires), left});
    }
    running.print(o);
    if (stats.running_total > static_cast<std::int64_t>(stats.running.size())) {
      o << "  (" << stats.running.size() << " shown; jobctl list --status RUNNING for all)\n";
    }
  }

  o << "\nRunners (the last run of each type; jobctl runs for more):\n";
  Table runners({"TYPE", "STATE", "LAST RUN", "FINISHED", "HOST", "PID", "RAN", "NOT COMPLETED",
                 "EXIT"});
  for (const auto& t : stats.types) {
    const std::string state = t.pause ? pg::describe_pause(*t.pause) : "active";
    if (!t.last_run) {
      runners.add_row({t.job_type, state, "never", "-", "-", "-", "-", "-", "-"});
      continue;
    }
    const auto& r = *t.last_run;
    runners.add_row({t.job_type, state, format_time(r.date_started),
                     r.date_finished ? format_time(r.date_finished) : "(running, or died)",
                     r.hostname, std::to_string(r.pid), opt_number(r.jobs_run),
                     opt_number(r.jobs_not_completed), opt_number(r.exit_code)});
  }
  runners.print(o);
  return exit_code::ok;
}

int show_runs(pg::Connection& conn, const std::optional<std::string>& type, int limit, bool json) {
  if (type) find_type(conn, *type);
  auto tx = conn.begin();
  const auto runs = pg::list_runner_runs(tx, type, limit);
  tx.commit();
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : runs) out.push_back(run_json(r));
    print_json(out);
    return exit_code::ok;
  }
  Table table({"ID", "TYPE", "HOST", "PID", "STARTED", "FINISHED", "DURATION", "RAN",
               "NOT COMPLETED", "EXIT"});
  for (const auto& r : runs) {
    table.add_row({std::to_string(r.id), r.job_type, r.hostname, std::to_string(r.pid),
                   format_time(r.date_started), format_time(r.date_finished), run_duration(r),
                   opt_number(r.jobs_run), opt_number(r.jobs_not_completed),
                   opt_number(r.exit_code)});
  }
  table.print(std::cout);
  if (runs.empty()) std::cout << "(no runs)\n";
  return exit_code::ok;
}

}  // namespace

void add_stats_commands(CLI::App& app, Context& ctx) {
  struct StatsOptions {
    std::optional<std::string> type;
    std::string window = "24h";
  };
  auto so = std::make_shared<StatsOptions>();
  auto* stats = app.add_subcommand(
      "stats",
      "The state of the queue: WAITING, RUNNING and SUSPENDED jobs per type, the jobs that "
      "finished within --window per final status, ready jobs and the age of the oldest "
      "(queue lag), failures in the last hour, running jobs with their lease expiry, and each "
      "type's pause and last runner run. Reads indexes only, never every finished job.");
  stats->add_option("--type", so->type, "Only this job type")->type_name("TYPE");
  stats->add_option("--window", so->window,
                    "Count COMPLETED, FAILED and CANCELLED jobs that finished this recently "
                    "(its cost grows with the jobs finished in it)")
      ->type_name("DURATION")
      ->check(app::duration_validator())
      ->capture_default_str();
  stats->add_flag("--json", ctx.json, "Print a JSON object");
  stats->footer("\nExamples:\n  jobctl stats\n  jobctl stats --window 1h\n"
                "  jobctl stats --type foo --json | jq '.types[0].oldest_ready_age_s'");
  stats->callback([&ctx, so] {
    ctx.action = [&ctx, so](pg::Connection& conn) {
      return show_stats(conn, so->type, so->window, ctx.json);
    };
  });

  struct RunsOptions {
    std::optional<std::string> type;
    int limit = 20;
  };
  auto r = std::make_shared<RunsOptions>();
  auto* runs = app.add_subcommand(
      "runs",
      "Runner runs, newest first (Launchpad's ScriptActivity): host, pid, start, end, jobs run, "
      "jobs not completed, exit code. A run without an end is still running, or died.");
  runs->add_option("--type", r->type, "Only runs of this job type's runner")->type_name("TYPE");
  runs->add_option("--limit", r->limit, "At most N runs")
      ->type_name("N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  runs->add_flag("--json", ctx.json, "Print a JSON array");
  runs->footer("\nExamples:\n  jobctl runs\n  jobctl runs --type foo --limit 5 --json");
  runs->callback([&ctx, r] {
    ctx.action = [&ctx, r](pg::Connection& conn) {
      return show_runs(conn, r->type, r->limit, ctx.json);
    };
  });
}

}  // namespace jobrunner::jobctl
