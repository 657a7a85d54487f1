// run-command-jobs: runs the ready CommandJobs (jobs/command/command_job.hpp)
// with the commands of the allowlist given by --commands FILE
// (docs/command-jobs.md).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "command_job.hpp"
#include "jobrunner/app/runner_main.hpp"

int main(int argc, char** argv) {
  using namespace jobrunner::command;
  static std::string file = kDefaultCommandsFile;
  static std::optional<Allowlist> allowlist;
  const auto type = command_job_type([]() -> const Allowlist& {
    if (!allowlist) throw std::logic_error("the allowlist was not loaded");
    return *allowlist;
  });
  jobrunner::app::RunnerExtension extension;
  extension.add_options = [](CLI::App& app) {
    app.add_option("--commands", file,
                   "The allowlist: a JSON file naming each command a job may run, its "
                   "executable, fixed arguments, the fields a job fills in, environment, "
                   "directory, user, timeout, memory limit and exit codes "
                   "(docs/command-jobs.md). A missing or bad file exits 78 before any job is "
                   "claimed")
        ->type_name("FILE")
        ->capture_default_str();
  };
  extension.configure = [] {
    std::vector<std::string> warnings;
    allowlist = Allowlist::load(file, Allowlist::Host::current(), &warnings);
    for (const auto& warning : warnings) spdlog::warn("{}", warning);
    spdlog::info("read {} command(s) from {}", allowlist->commands().size(), file);
  };
  return jobrunner::app::runner_main(argc, argv, type, extension);
}
