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
#include "packages.hpp"
#include "table.hpp"

namespace jobrunner::jobctl {
namespace {

// jobrunner's own patches (built in), then every package's.
std::vector<pg::Patch> every_patch(const std::vector<std::string>& migrations_dirs) {
  return pg::all_patches(pg::embedded_patches(), packages(migrations_dirs));
}

// "0001-job.sql" for a core patch, "bar/0001-bar.sql" for a package's.
std::string patch_label(const pg::Patch& patch) {
  return patch.package == pg::kCorePackage ? patch.name : patch.package + "/" + patch.name;
}

std::string_view state_name(pg::PatchStatus::State state) {
  switch (state) {
    case pg::PatchStatus::State::applied: return "applied";
    case pg::PatchStatus::State::pending: return "pending";
    case pg::PatchStatus::State::changed: return "CHANGED";
  }
  return "?";
}

int show_status(pg::Connection& conn, const Context& ctx,
                const std::vector<std::string>& migrations_dirs) {
  const auto statuses = pg::migration_status(conn, every_patch(migrations_dirs));
  bool changed = false;
  nlohmann::json out = nlohmann::json::array();
  Table table({"PATCH", "STATE", "APPLIED"});
  for (const auto& s : statuses) {
    changed = changed || s.state == pg::PatchStatus::State::changed;
    const auto applied = s.date_applied ? format_time(s.date_applied) : "-";
    out.push_back({{"package", s.patch.package}, {"number", s.patch.number},
                   {"name", s.patch.name}, {"state", state_name(s.state)},
                   {"date_applied", applied}});
    table.add_row({patch_label(s.patch), std::string(state_name(s.state)), applied});
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
  // What db upgrade would refuse, said before it is tried.
  if (const auto unmet = pg::unmet_requirement(statuses)) {
    spdlog::error("{} db upgrade would apply nothing until then", *unmet);
    return exit_code::config;
  }
  return exit_code::ok;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The grants of one file, its name in any parse error.
std::vector<pg::RoleGrants> grants_of(const std::string& text, const std::string& file) {
  try {
    return pg::parse_security_config(text);
  } catch (const ConfigError& e) {
    throw ConfigError(file + ": " + e.what());
  }
}

}  // namespace

void add_db_commands(CLI::App& app, Context& ctx) {
  auto* db = app.add_subcommand(
      "db",
      "Schema migrations and database permissions: jobrunner's own (built in), and those of "
      "every job type package (installed under share/jobrunner, or named with "
      "--migrations-dir)");
  db->require_subcommand(1);

  struct Options {
    std::vector<std::string> migrations_dirs;
    std::optional<std::string> config_file;
  };
  auto opts = std::make_shared<Options>();  // outlives parsing, owned by the callbacks
  const std::string dir_help =
      "A job type package's directory: its patches DIR/NNNN-name.sql (numbered from 0001, in "
      "a sequence of their own) and its grants DIR/security.cfg; the package is named after "
      "DIR and replaces an installed package of that name. Repeat it for several packages";
  const auto add_dir_option = [&](CLI::App* command) {
    command->add_option("--migrations-dir", opts->migrations_dirs, dir_help)
        ->type_name("DIR")
        ->check(CLI::Validator(CLI::ExistingDirectory).description(""))  // no ":DIR" in --help
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  };
  auto* upgrade = db->add_subcommand(
      "upgrade",
      "Apply the pending schema patches in order, each in its own transaction: jobrunner's "
      "own first, then each package's, packages in name order. Refuses, applying nothing, if "
      "an applied patch has changed or a patch requires one that is missing. A no-op when up "
      "to date.");
  add_dir_option(upgrade);
  upgrade->footer(
      "\nInstalled packages: <datadir>/migrations/<package>/NNNN-name.sql and "
      "<datadir>/security.d/<package>.cfg, where <datadir> is " + data_dir().string() +
      " ($JOBRUNNER_DATA_DIR overrides it). A patch may have a line of its own\n"
      "  -- requires: jobrunner 0010\n"
      "(any package and patch number): it is applied only once that patch is.\n"
      "\nExamples:\n  jobctl db upgrade\n"
      "  jobctl db upgrade --migrations-dir build/jobrunner-package/bar"
      "   (a package staged by jobrunner_install_job_package, not installed yet)");
  upgrade->callback([&ctx, opts] {
    ctx.action = [opts](pg::Connection& conn) {
      const auto applied = pg::upgrade(conn, every_patch(opts->migrations_dirs));
      for (const auto& patch : applied) spdlog::info("applied schema patch {}", patch_label(patch));
      spdlog::info(applied.empty() ? "the schema is up to date; nothing to apply"
                                   : "the schema is up to date");
      return exit_code::ok;
    };
  });

  auto* status = db->add_subcommand(
      "status", "List applied and pending schema patches, jobrunner's own and every package's "
                "(package/NNNN-name.sql)");
  add_dir_option(status);
  status->add_flag("--json", ctx.json, "Print JSON");
  status->callback([&ctx, opts] {
    ctx.action = [&ctx, opts](pg::Connection& conn) {
      return show_status(conn, ctx, opts->migrations_dirs);
    };
  });

  auto* permissions = db->add_subcommand(
      "permissions",
      "Create the database roles of the permissions files (jobrunner's sql/security.cfg and "
      "every package's security fragment) and give each role exactly its declared grants, "
      "all files together (others are revoked). Run after db upgrade, as the schema owner.");
  permissions->add_option("--config", opts->config_file,
                          "A security.cfg-style file instead of the built-in sql/security.cfg "
                          "(the packages' fragments still apply)")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  add_dir_option(permissions);
  permissions->callback([&ctx, opts] {
    ctx.action = [opts](pg::Connection& conn) {
      std::vector<std::vector<pg::RoleGrants>> configs;
      configs.push_back(opts->config_file
                            ? grants_of(read_file(*opts->config_file), *opts->config_file)
                            : grants_of(pg::embedded_security_config(), "sql/security.cfg"));
      for (const auto& package : packages(opts->migrations_dirs)) {
        if (package.security) {
          configs.push_back(grants_of(*package.security, package.security_file.string()));
        }
      }
      const auto report = pg::apply_permissions(conn, pg::merge_security_configs(configs));
      for (const auto& role : report.created_roles) spdlog::info("created role {}", role);
      spdlog::info("applied {} table grants", report.grants);
      return exit_code::ok;
    };
  });
}

}  // namespace jobrunner::jobctl
