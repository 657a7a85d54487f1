#include "report_job.hpp"

#include <map>
#include <string>

#include "jobrunner/core/duration.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/core/outcome.hpp"
#include "jobrunner/core/status.hpp"

namespace jobrunner::report {
namespace {

constexpr auto kDefaultPeriod = "1d";

std::string period_of(const Job& job) {
  const auto& meta = job.metadata;
  if (!meta.is_object() || !meta.contains("period")) return kDefaultPeriod;
  if (!meta["period"].is_string()) {
    throw UserError("\"period\" must be a duration such as \"1d\", not " + meta["period"].dump());
  }
  return meta["period"].get<std::string>();
}

}  // namespace

void ReportJob::run(pg::Statements& db) {
  const auto text = period_of(job());
  Duration period{};
  try {
    period = parse_duration(text);
  } catch (const BadInput& e) {
    throw UserError("\"period\": " + std::string(e.what()));
  }
  // {"foo": {"COMPLETED": 12, "FAILED": 1}, ...}: the jobs that finished in
  // the window, per type and status.
  nlohmann::json summary = nlohmann::json::object();
  for (const auto& row :
       db.exec("SELECT j.job_type, j.status, count(*) AS n FROM job AS j"
               " WHERE j.date_finished >= now() - $1::bigint * interval '1 millisecond'"
               " GROUP BY j.job_type, j.status ORDER BY j.job_type, j.status",
               period.count())) {
    const auto status = status_from_code(static_cast<int>(row.integer("status")));
    const auto name = status ? std::string(to_string(*status)) : std::to_string(row.integer("status"));
    summary[row.text("job_type")][name] = row.integer("n");
  }
  // The job's own work, in the job's transaction.
  db.exec("INSERT INTO report_run (job, period_start, period_end, summary)"
          " VALUES ($1, now() - $2::bigint * interval '1 millisecond', now(), $3::jsonb)",
          job().id, period.count(), summary);
}

nlohmann::json ReportJob::oops_vars() const {
  auto vars = RunnableJob::oops_vars();
  if (job().metadata.is_object() && job().metadata.contains("period")) {
    vars["period"] = job().metadata["period"];
  }
  return vars;
}

const JobType& report_job_type() {
  static const JobType type{
      JobTypeSpec{
          .name = "report",
          .display_name = "ReportJob",
          // No table, target column, target table or type code: its jobs
          // keep their metadata in job.json_data.
          .retry = RetryPolicy{.retry_delay = std::chrono::minutes(5)},
          .lease = std::chrono::minutes(10),
          .default_max_retries = 2,
          // One pending nightly report at a time.
          .one_pending_per_target = true,
      },
      [](Job job) -> std::unique_ptr<RunnableJob> {
        return std::make_unique<ReportJob>(std::move(job));
      },
  };
  return type;
}

}  // namespace jobrunner::report
