// run-bar-jobs: runs the ready BarJobs (see bar_job.hpp). What cron starts:
//   run-bar-jobs --db 'dbname=app user=jobrunner_bar_runner'
#include "bar_job.hpp"
#include "jobrunner/app/runner_main.hpp"

int main(int argc, char** argv) {
  return jobrunner::app::runner_main(argc, argv, bar::bar_job_type());
}
