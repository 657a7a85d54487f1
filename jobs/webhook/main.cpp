// run-webhook-jobs: delivers the ready WebhookJobs (jobs/webhook/webhook_job.hpp)
// to the endpoints of its --endpoints file.
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "endpoints.hpp"
#include "jobrunner/app/runner_main.hpp"
#include "webhook_job.hpp"

int main(int argc, char** argv) {
  using namespace jobrunner;
  auto endpoints = std::make_shared<webhook::Endpoints>();
  std::string file = webhook::kDefaultEndpointsFile;
  app::RunnerExtension extension{
      .add_options =
          [&file](CLI::App& app) {
            app.add_option("--endpoints", file,
                           "The allowlist of webhook endpoints (JSON: name -> url, method, "
                           "headers, secret(s), timeout, allow_redirects, ca_file; "
                           "docs/webhook-jobs.md). A job names an endpoint, never a URL. "
                           "Holds secrets: readable by the runner's user only")
                ->type_name("FILE")
                ->capture_default_str();
          },
      // Exits 78 naming the file and the problem (ConfigError).
      .configure =
          [&file, endpoints] {
            std::vector<std::string> warnings;
            *endpoints = webhook::load_endpoints(file, &warnings);
            for (const auto& warning : warnings) spdlog::warn("{}", warning);
            spdlog::info("{} webhook endpoints from {}", endpoints->size(), file);
          },
  };
  return app::runner_main(argc, argv, webhook::webhook_job_type(endpoints), extension);
}
