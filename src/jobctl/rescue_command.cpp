// jobctl rescue: what any runner does at its start, on demand.
#include <iostream>

#include <spdlog/spdlog.h>

#include "command.hpp"
#include "common.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/runtime/runner.hpp"
#include "registry.hpp"

namespace jobrunner::jobctl {

void add_rescue_command(CLI::App& app, Context& ctx) {
  auto type = std::make_shared<std::optional<std::string>>();
  auto* rescue = app.add_subcommand(
      "rescue",
      "Rescue jobs whose runner died: RUNNING jobs whose lease has expired become WAITING "
      "again (their attempt_count shows the lost try), or FAILED with an error report when "
      "their attempts are spent. Runners do this at every start; this does it now.");
  rescue->add_option("--type", *type, "Only jobs of this type (default: every type)");
  rescue->footer("\nExamples:\n  jobctl rescue\n  jobctl rescue --type foo");
  rescue->callback([&ctx, type] {
    ctx.action = [type](pg::Connection& conn) {
      if (*type) find_type(**type);
      RecordingNotificationHook hook;
      int total = 0;
      for (const auto& job_type : jobs::all_job_types()) {
        if (*type && job_type.spec.name != **type) continue;
        Runner runner(conn, job_type, RunnerOptions{}, hook);
        const int rescued = runner.rescue_expired();
        spdlog::info("rescued {} {}s", rescued, job_type.spec.display_name);
        total += rescued;
      }
      std::cout << total << '\n';
      return exit_code::ok;
    };
  });
}

}  // namespace jobrunner::jobctl
