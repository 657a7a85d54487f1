// jobctl suspend | resume | retry | cancel: moves along the transition table,
// by id or by filter, all or nothing.
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

struct MoveOptions {
  std::vector<std::int64_t> ids;
  FilterOptions filter;
  std::optional<std::string> reason;
  bool dry_run = false;
};

void print_moves(const std::vector<pg::JobMove>& moves, bool dry_run, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : moves) {
      out.push_back({{"id", m.id}, {"job_type", m.job_type}, {"from", to_string(m.from)},
                     {"to", to_string(m.to)}, {"dry_run", dry_run}});
    }
    print_json(out);
    return;
  }
  Table table({"ID", "TYPE", "FROM", "TO"});
  for (const auto& m : moves) {
    table.add_row({std::to_string(m.id), m.job_type, std::string(to_string(m.from)),
                   std::string(to_string(m.to))});
  }
  table.print(std::cout);
}

int move(pg::Connection& conn, const MoveOptions& o, const pg::MoveRequest& request, bool json) {
  auto tx = conn.begin();
  pg::JobMatch match;
  if (o.ids.empty()) {
    match = resolve_filter(tx, o.filter);
  } else {
    match.ids = o.ids;
  }
  const auto moves = pg::move_jobs(tx, match, request);
  if (moves.empty()) {
    throw NotFound("no job matches " + describe_filter(o.filter) + "; nothing was changed");
  }
  if (o.dry_run) {
    // Destroying tx rolls back: the checks ran, nothing is written.
    print_moves(moves, true, json);
    spdlog::info("dry run: {} job{} would move to {}; nothing was changed", moves.size(),
                 moves.size() == 1 ? "" : "s", to_string(request.to));
    return exit_code::ok;
  }
  tx.commit();
  print_moves(moves, false, json);
  if (moves.size() == 1) {
    spdlog::info("job {} is now {}", moves.front().id, to_string(request.to));
  } else {
    spdlog::info("moved {} jobs to {}", moves.size(), to_string(request.to));
  }
  return exit_code::ok;
}

// The move of `name` is pg::operator_move's, which the dashboard's actions
// make too.
void add_move_command(CLI::App& app, Context& ctx, const std::string& name,
                      const std::string& help, const std::string& examples) {
  const pg::MoveRequest request = *pg::operator_move(name);
  const auto to = request.to;
  const auto& from = request.from;
  auto o = std::make_shared<MoveOptions>();
  std::string from_names;
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (i > 0) from_names += i + 1 == from.size() ? " or " : ", ";
    from_names += to_string(from[i]);
  }
  auto* cmd = app.add_subcommand(name, help);
  cmd->add_option("ID", o->ids, "Job ids; or select the jobs with the filter options instead")
      ->type_name("ID ...");
  add_filter_options(cmd, o->filter);
  cmd->add_option("--reason", o->reason, "Why (kept in job.reason and each job's log)")
      ->type_name("WHY");
  cmd->add_flag("--dry-run", o->dry_run, "Check and print what would move; change nothing");
  cmd->add_flag("--json", ctx.json, "Print the moves as a JSON array");
  cmd->footer("\nMoves " + from_names + " jobs to " + std::string(to_string(to)) +
              ". All matched jobs move in one transaction, or none: a job in another state "
              "stops the command (exit 65) with a message naming it and both states. A filter "
              "that matches no job is an error too (exit 65).\n\nExamples:\n" + examples);
  cmd->callback([&ctx, o, request, name] {
    if (o->ids.empty() && !o->filter.any()) {
      throw CLI::ValidationError(name + ": give job ids, or filter options such as --type and "
                                        "--status (see --help)");
    }
    if (!o->ids.empty() && o->filter.any()) {
      throw CLI::ValidationError(name + ": give job ids or filter options, not both");
    }
    ctx.action = [&ctx, o, request](pg::Connection& conn) {
      auto r = request;
      r.reason = o->reason;
      return move(conn, *o, r, ctx.json);
    };
  });
}

}  // namespace

void add_move_commands(CLI::App& app, Context& ctx) {
  add_move_command(app, ctx, "suspend",
                   "Park jobs as SUSPENDED: WAITING ones, or RUNNING ones taken from their "
                   "runner (its finish is then refused and its work rolled back)",
                   "  jobctl suspend 17 --reason 'investigating'\n"
                   "  jobctl suspend --type foo --status WAITING");
  add_move_command(app, ctx, "resume",
                   "Bring SUSPENDED jobs back to WAITING, ready now",
                   "  jobctl resume 17\n  jobctl resume --type foo --status SUSPENDED");
  add_move_command(app, ctx, "retry",
                   "Run FAILED, COMPLETED or CANCELLED jobs again: WAITING, ready now",
                   "  jobctl retry 17 --reason 'fixed the upstream outage'\n"
                   "  jobctl retry --type foo --status FAILED --finished-after 2h --dry-run");
  add_move_command(app, ctx, "cancel",
                   "Cancel WAITING or SUSPENDED jobs that must not run: CANCELLED, a finished "
                   "state (retry brings a job back; prune deletes it). Suspend a RUNNING job "
                   "first.",
                   "  jobctl cancel 17 --reason 'requested by mistake'\n"
                   "  jobctl cancel --type foo --status WAITING,SUSPENDED --requester bob");
}

}  // namespace jobrunner::jobctl
