// jobctl db upgrade | status | permissions
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/pg/migrations.hpp"
#include "jobrunner/pg/permissions.hpp"
#include "table.hpp"

namespace jobrunner::jobctl {
namespace {

std::vector<pg::Patch> patches_from(const std::optional<std::string>& directory) {
  return directory ? pg::load_patches(*directory) : pg::embedded_patches();
}

std::string_view state_name(pg::PatchStatus::State state) {
  switch (state) {
    case pg::PatchStatus::State::applied: return "applied";
    case pg::PatchStatus::State::pending: return "pending";
    case pg::PatchStatus::State::changed: return "CHANGED";
  }
  return "?";
}

int show_status(pg::Connection& conn, const Context& ctx, const std::optional<std::string>& dir) {
  const auto statuses = pg::migration_status(conn, patches_from(dir));
  bool changed = false;
  nlohmann::json out = nlohmann::json::array();
  Table table({"PATCH", "STATE", "APPLIED"});
  for (const auto& s : statuses) {
    changed = changed || s.state == pg::PatchStatus::State::changed;
    const auto applied = s.date_applied ? format_time(s.date_applied) : "-";
    out.push_back({{"number", s.patch.number}, {"name", s.patch.name},
                   {"state", state_name(s.state)}, {"date_applied", applied}});
    table.add_row({s.patch.name, std::string(state_name(s.state)), applied});
  }
  if (ctx.json) {
    std::cout << out.dump(2) << '\n';
  } else {
    table.print(std::cout);
  }
  if (changed) {
    spdlog::error("a schema patch was changed after it was applied: restore it and put the "
                  "change in a new patch");
    return exit_code::config;
  }
  return exit_code::ok;
}

}  // namespace

void add_db_commands(CLI::App& app, Context& ctx) {
  auto* db = app.add_subcommand("db", "Schema migrations and database permissions");
  db->require_subcommand(1);

  struct Options {
    std::optional<std::string> migrations_dir;
    std::optional<std::string> config_file;
  };
  auto opts = std::make_shared<Options>();  // outlives parsing, owned by the callbacks
  auto& migrations_dir = opts->migrations_dir;
  auto& config_file = opts->config_file;
  auto* upgrade = db->add_subcommand(
      "upgrade",
      "Apply the pending schema patches in order, each in its own transaction. Refuses, "
      "applying nothing, if an applied patch has changed. A no-op when up to date.");
  upgrade->add_option("--migrations-dir", migrations_dir,
                      "Read NNNN-name.sql patches from DIR instead of those built in")
      ->type_name("DIR");
  upgrade->callback([&ctx, opts] {
    ctx.action = [opts](pg::Connection& conn) {
      const auto applied = pg::upgrade(conn, patches_from(opts->migrations_dir));
      for (const auto& patch : applied) spdlog::info("applied schema patch {}", patch.name);
      spdlog::info(applied.empty() ? "the schema is up to date; nothing to apply"
                                   : "the schema is up to date");
      return exit_code::ok;
    };
  });

  auto* status = db->add_subcommand("status", "List applied and pending schema patches");
  status->add_option("--migrations-dir", migrations_dir, "As for upgrade")->type_name("DIR");
  status->add_flag("--json", ctx.json, "Print JSON");
  status->callback([&ctx, opts] {
    ctx.action = [&ctx, opts](pg::Connection& conn) {
      return show_status(conn, ctx, opts->migrations_dir);
    };
  });

  auto* permissions = db->add_subcommand(
      "permissions",
      "Create the database roles of the permissions file and give each exactly its declared "
      "grants (others are revoked). Run after db upgrade, as the schema owner.");
  permissions->add_option("--config", config_file,
                          "A security.cfg-style file instead of the built-in sql/security.cfg")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  permissions->callback([&ctx, opts] {
    ctx.action = [opts](pg::Connection& conn) {
      std::string text = pg::embedded_security_config();
      if (opts->config_file) {
        std::ifstream in(*opts->config_file);
        std::stringstream buffer;
        buffer << in.rdbuf();
        text = buffer.str();
      }
      const auto report = pg::apply_permissions(conn, pg::parse_security_config(text));
      for (const auto& role : report.created_roles) spdlog::info("created role {}", role);
      spdlog::info("applied {} table grants", report.grants);
      return exit_code::ok;
    };
  });
}

}  // namespace jobrunner::jobctl
