#pragma once
// ReportJob: the example of a job type without a table of its own. A
// ReportJob is "the nightly report": it counts the jobs of every type that
// finished in the last period, by status, and writes one report_run row in
// the job's own transaction, so the report exists exactly when the job
// COMPLETED. It is about nothing in particular, so it has no target: its
// only data is its metadata (job.json_data), and its type's one-pending
// rule makes it a singleton (one pending ReportJob at a time).
//
// Its package (jobs/report/migrations/report/: the report_run table, the
// registration, the grants) is installed as share/jobrunner/migrations/report/
// and share/jobrunner/security.d/report.cfg, or named with
// `jobctl db upgrade --migrations-dir jobs/report/migrations/report`.
//
// Metadata (job.json_data):
//   "period": "1d"   the window counted, a duration (1d, 12h, 90m; default
//                    1d); anything else is a user error (FAILED, no retry)

#include "jobrunner/runtime/runnable_job.hpp"

namespace jobrunner::report {

class ReportJob : public RunnableJob {
 public:
  using RunnableJob::RunnableJob;
  void run(pg::Statements& db) override;
  // Adds the period to job_id and job_type.
  nlohmann::json oops_vars() const override;
};

// The type as runners know it: name "report", no table.
const JobType& report_job_type();

}  // namespace jobrunner::report
