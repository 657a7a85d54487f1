// jobctl prune: deletes old finished jobs and ended runner runs in short batches.
#include <iostream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "common.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/pg/admin.hpp"

namespace jobrunner::jobctl {
namespace {

struct PruneOptions {
  std::string older_than;
  std::vector<std::string> statuses;
  std::optional<std::string> type;
  int batch_size = 1000;
  bool dry_run = false;
  bool abandoned_runs = false;
};

int prune(pg::Connection& conn, const PruneOptions& o, bool json) {
  pg::PruneRequest request;
  request.older_than = parse_duration(o.older_than);
  request.statuses = parse_statuses(o.statuses, "--status");
  if (o.type) find_type(conn, *o.type);
  request.job_type = o.type;
  request.batch_size = o.batch_size;
  request.dry_run = o.dry_run;
  request.abandoned_runs = o.abandoned_runs;
  const auto result = pg::prune_jobs(conn, request);

  constexpr JobStatus kFinished[] = {JobStatus::completed, JobStatus::failed,
                                     JobStatus::cancelled};
  if (json) {
    nlohmann::json by_status = nlohmann::json::object();
    for (const auto s : kFinished) {
      const auto it = result.by_status.find(s);
      by_status[std::string(to_string(s))] = it == result.by_status.end() ? 0 : it->second;
    }
    print_json({{"dry_run", o.dry_run},
                {"finished_before", result.cutoff},
                {"deleted", o.dry_run ? 0 : result.total},
                {"matched", result.total},
                {"by_status", by_status},
                {"batches", result.batches},
                {"runs",
                 {{"deleted", o.dry_run ? 0 : result.runs},
                  {"matched", result.runs},
                  {"unfinished_matched", result.unfinished_runs},
                  {"unfinished_kept", result.unfinished_runs_kept}}},
                {"skipped_occurrences",
                 {{"deleted", o.dry_run ? 0 : result.occurrences},
                  {"matched", result.occurrences},
                  {"not_permitted", result.occurrences_not_permitted}}}});
  } else {
    std::string detail;
    for (const auto s : kFinished) {
      const auto it = result.by_status.find(s);
      detail += (detail.empty() ? "" : ", ") + std::string(to_string(s)) + " " +
                std::to_string(it == result.by_status.end() ? 0 : it->second);
    }
    std::cout << (o.dry_run ? "would delete " : "deleted ") << result.total << " job"
              << (result.total == 1 ? "" : "s") << " finished before " << result.cutoff << " ("
              << detail << ") and " << result.runs << " runner run"
              << (result.runs == 1 ? "" : "s") << " that ended before it";
    if (result.unfinished_runs > 0) {
      std::cout << " or never recorded an end (" << result.unfinished_runs << ")";
    }
    if (result.unfinished_runs_kept > 0) {
      std::cout << "; kept " << result.unfinished_runs_kept << " run"
                << (result.unfinished_runs_kept == 1 ? "" : "s")
                << " without an end that started before it (running, or died: "
                   "--abandoned-runs deletes them)";
    }
    if (result.occurrences > 0) {
      std::cout << "; " << (o.dry_run ? "would delete " : "deleted ") << result.occurrences
                << " skipped schedule occurrence record" << (result.occurrences == 1 ? "" : "s")
                << " recorded before it";
    }
    std::cout << (o.dry_run ? "; nothing was changed" : "") << '\n';
  }
  if (!o.dry_run) {
    spdlog::info("pruned {} finished jobs in {} batches and {} runner runs", result.total,
                 result.batches, result.runs);
  }
  return exit_code::ok;
}

}  // namespace

void add_prune_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<PruneOptions>();
  auto* cmd = app.add_subcommand(
      "prune",
      "Delete finished jobs (COMPLETED, FAILED, CANCELLED) whose date_finished is older than "
      "DURATION, with their type rows, error reports and notices, and the runner runs "
      "(jobctl runs) that ended that long ago, in short batches; the occurrence records of "
      "schedules go with their jobs, and skipped ones recorded that long ago are deleted too. "
      "Never touches WAITING, "
      "RUNNING or SUSPENDED jobs, nor a run without an end unless --abandoned-runs.");
  cmd->add_option("--older-than", o->older_than,
                  "Delete jobs that finished more than DURATION ago (e.g. 30d, 12h)")
      ->required()
      ->check(app::duration_validator());
  cmd->add_option("--status", o->statuses,
                  "Only jobs in this status (repeat it, or separate with commas): COMPLETED, "
                  "FAILED, CANCELLED (default: all three); runs are pruned by age alone")
      ->type_name("STATUS")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--type", o->type,
                  "Only jobs of this type, runs of its runner and its schedules' skipped "
                  "occurrence records")
      ->type_name("TYPE");
  cmd->add_option("--batch-size", o->batch_size,
                  "Jobs deleted per transaction (each batch holds its row locks only briefly)")
      ->type_name("N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--abandoned-runs", o->abandoned_runs,
                "Also delete runs that never recorded an end and started more than DURATION "
                "ago (runners killed before they could record it). Only when no runner, "
                "daemons included, has been up that long: a running one's run has no end "
                "either");
  cmd->add_flag("--dry-run", o->dry_run, "Count what would be deleted; delete nothing");
  cmd->add_flag("--json", ctx.json, "Print the result as a JSON object");
  cmd->footer(
      "\nNothing to delete is not an error (exit 0). Runners can prune their own type at the "
      "end of each run: run-<type>-jobs --retention DURATION.\n"
      "\nExamples:\n"
      "  jobctl prune --older-than 30d --dry-run\n"
      "  jobctl prune --older-than 7d --status COMPLETED,CANCELLED --type foo\n"
      "  jobctl prune --older-than 90d --batch-size 500 --json\n"
      "  jobctl prune --older-than 90d --abandoned-runs");
  cmd->callback([&ctx, o] {
    ctx.action = [&ctx, o](pg::Connection& conn) { return prune(conn, *o, ctx.json); };
  });
}

}  // namespace jobrunner::jobctl
