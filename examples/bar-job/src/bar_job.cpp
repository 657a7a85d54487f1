#include "bar_job.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "jobrunner/core/outcome.hpp"

namespace bar {
namespace {
constexpr int kPolishLimit = 100;
constexpr std::string_view kLockNotAvailable = "55P03";  // SQLSTATE of NOWAIT
}  // namespace

void PolishBarJob::run(jobrunner::pg::Statements& db) {
  const jobrunner::Job& j = job();
  const std::int64_t bar = j.target_id.value();  // a type with a table: always set
  const auto bar_id = std::to_string(bar);
  const int coats = j.metadata.value("coats", 1);
  if (coats < 1 || coats > 10) {
    throw jobrunner::UserError("coats must be between 1 and 10, not " + std::to_string(coats));
  }
  jobrunner::pg::Rows rows;
  try {
    rows = db.exec("SELECT polish_count FROM bar WHERE id = $1 FOR UPDATE NOWAIT", bar);
  } catch (const jobrunner::pg::SqlError& e) {
    if (e.sqlstate() == kLockNotAvailable) throw jobrunner::RetryError("bar " + bar_id + " is busy");
    throw;
  }
  if (rows.empty()) throw std::runtime_error("bar " + bar_id + " does not exist");
  if (rows.front().integer("polish_count") >= kPolishLimit) {
    throw jobrunner::SuspendJob("bar " + bar_id + " has " + std::to_string(kPolishLimit) +
                                " coats or more; a person should look at it");
  }
  // The job's work, in the job's transaction: it commits with COMPLETED, or
  // not at all. A long job would look at stop_requested() between steps.
  for (int coat = 1; coat <= coats; ++coat) {
    if (stop_requested()) {
      throw jobrunner::RetryError("stopped after " + std::to_string(coat - 1) + " coats");
    }
    db.exec("UPDATE bar SET polish_count = polish_count + 1, date_polished = now() WHERE id = $1",
            bar);
  }
  // One row per completed job: a COMPLETED job that an operator retried
  // (jobctl retry) runs again, and its row then tells of the latest run.
  db.exec("INSERT INTO bar_polish (bar, job, coats) VALUES ($1, $2, $3)"
          " ON CONFLICT (job) DO UPDATE SET coats = excluded.coats, date_created = now()",
          bar, j.id, coats);
}

nlohmann::json PolishBarJob::oops_vars() const {
  auto vars = RunnableJob::oops_vars();
  if (job().target_id) vars["bar_id"] = *job().target_id;
  vars["bar_job_type"] = "POLISH_BAR";
  return vars;
}

const jobrunner::JobType& bar_job_type() {
  static const jobrunner::JobType type{
      jobrunner::JobTypeSpec{
          .name = "bar",
          .display_name = "BarJob",
          .table = "barjob",
          .target_column = "bar",
          .target_table = "bar",
          .type_code = static_cast<int>(BarJobType::polish_bar),
          .retry = jobrunner::RetryPolicy{.retry_delay = std::chrono::seconds(30)},
          .lease = std::chrono::minutes(5),
          .default_max_retries = 3,
          .one_pending_per_target = true,
      },
      [](jobrunner::Job job) -> std::unique_ptr<jobrunner::RunnableJob> {
        return std::make_unique<PolishBarJob>(std::move(job));
      },
  };
  return type;
}

}  // namespace bar
