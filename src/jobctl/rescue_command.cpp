// jobctl rescue: what any runner does at its start, on demand.
#include <iostream>
#include <memory>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "command.hpp"
#include "common.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/runtime/runner.hpp"

namespace jobrunner::jobctl {
namespace {

// jobctl knows a type only by its registry row: a rescue decides and records
// a job's next state without running it, and files an error report with the
// job's generic variables (plus <target_table>_id), not the type's own.
class RescuedJob final : public RunnableJob {
 public:
  RescuedJob(Job job, std::string target_table)
      : RunnableJob(std::move(job)), target_table_(std::move(target_table)) {}
  void run(pg::Statements&) override { throw std::logic_error("jobctl does not run jobs"); }
  nlohmann::json oops_vars() const override {
    auto vars = RunnableJob::oops_vars();
    if (!target_table_.empty() && job().target_id) vars[target_table_ + "_id"] = *job().target_id;
    return vars;
  }

 private:
  std::string target_table_;
};

JobType rescuable(const JobTypeSpec& spec) {
  return JobType{spec, [table = spec.target_table](Job job) -> std::unique_ptr<RunnableJob> {
                   return std::make_unique<RescuedJob>(std::move(job), table);
                 }};
}

}  // namespace

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
      std::vector<pg::RegisteredType> types;
      if (*type) {
        types.push_back(find_type(conn, **type));
      } else {
        auto tx = conn.begin();
        types = pg::registered_types(tx);
        tx.commit();
      }
      RecordingNotificationHook hook;
      int total = 0;
      for (const auto& registered : types) {
        const auto job_type = rescuable(registered.spec);
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
