// run-report-jobs: runs the ready ReportJobs (see jobs/report/report_job.hpp).
#include "jobrunner/app/runner_main.hpp"
#include "report_job.hpp"

int main(int argc, char** argv) {
  return jobrunner::app::runner_main(argc, argv, jobrunner::report::report_job_type());
}
