// run-mail-jobs: sends the ready MailJobs (jobs/mail/mail_job.hpp) through
// the SMTP relay of its --relay file.
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "jobrunner/app/runner_main.hpp"
#include "mail_job.hpp"
#include "relay.hpp"

int main(int argc, char** argv) {
  using namespace jobrunner;
  auto relay = std::make_shared<mail::Relay>();
  std::string file = mail::kDefaultRelayFile;
  app::RunnerExtension extension{
      .add_options =
          [&file](CLI::App& app) {
            app.add_option("--relay", file,
                           "The SMTP relay (JSON: url, from, starttls, username, password or "
                           "password_file, timeout, message_id_domain, ca_file; "
                           "docs/mail-jobs.md). A job names recipients, never a relay. "
                           "May hold a password: mode 0600, owned by the runner's user")
                ->type_name("FILE")
                ->capture_default_str();
          },
      // Exits 78 naming the file and the field (ConfigError).
      .configure =
          [&file, relay] {
            *relay = mail::load_relay(file);
            for (const auto& warning : relay->warnings) spdlog::warn("{}", warning);
            spdlog::info("mail relay {} (from {}{}{}) from {}", relay->url, relay->from,
                         relay->starttls ? ", STARTTLS" : "",
                         relay->username.empty() ? "" : ", AUTH as " + relay->username, file);
          },
  };
  return app::runner_main(argc, argv, mail::mail_job_type(relay), extension);
}
