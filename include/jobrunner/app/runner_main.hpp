#pragma once
// The shared main of a runner executable (run-foo-jobs, ...):
//
//   int main(int argc, char** argv) {
//     return jobrunner::app::runner_main(argc, argv, jobrunner::foo::foo_job_type());
//   }

#include <functional>

#include "jobrunner/runtime/runnable_job.hpp"

namespace CLI {
class App;
}

namespace jobrunner::app {

// What a job type adds to its runner's command line, e.g. run-command-jobs'
// --commands FILE: options of its own, and a step that reads what they name.
struct RunnerExtension {
  // Called before the command line is parsed: adds the type's options (and
  // help text) to `app`.
  std::function<void(CLI::App& app)> add_options;
  // Called after parsing and logging are set up, before the database is
  // opened or anything is written: reads the configuration the options name
  // (e.g. an allowlist file), which the type's `make` then uses. Throws
  // ConfigError (exit 78) for a configuration that cannot be used, BadInput
  // (exit 64) for a bad option value.
  std::function<void()> configure;
};

int runner_main(int argc, char** argv, const JobType& type,
                const RunnerExtension& extension = {});

}  // namespace jobrunner::app
