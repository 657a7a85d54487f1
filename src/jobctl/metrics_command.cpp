// jobctl metrics: the queue depths of every registered type in the
// Prometheus text format, for installations with no daemon to scrape
// (docs/metrics.md).
#include <iostream>

#include "command.hpp"
#include "common.hpp"
#include "jobrunner/app/exit_codes.hpp"
#include "jobrunner/app/metrics.hpp"

namespace jobrunner::jobctl {
namespace {

int print_metrics(pg::Connection& conn, const std::optional<std::string>& type,
                  const std::optional<std::string>& file) {
  if (type) find_type(conn, *type);
  auto tx = conn.begin();
  const auto depths = pg::queue_depths(tx, type, known_type_names(tx));
  tx.commit();
  const auto text = metrics::render(app::queue_families(depths, app::unix_seconds_now()));
  if (file) {
    app::write_file_atomically(*file, text);
  } else {
    std::cout << text;
  }
  return exit_code::ok;
}

}  // namespace

void add_metrics_command(CLI::App& app, Context& ctx) {
  struct MetricsOptions {
    std::optional<std::string> type;
    std::optional<std::string> file;
  };
  auto mo = std::make_shared<MetricsOptions>();
  auto* metrics = app.add_subcommand(
      "metrics",
      "The queue of every registered job type in the Prometheus text format: WAITING, "
      "RUNNING and SUSPENDED jobs, ready jobs and the age of the oldest (the lag). Reads the "
      "partial indexes of unfinished jobs only, as jobctl stats does. For installations "
      "without a daemon to scrape (a daemon serves these on --metrics-listen): run it from "
      "cron with --file into node_exporter's textfile directory.");
  metrics->add_option("--type", mo->type, "Only this job type")->type_name("TYPE");
  metrics->add_option("--file", mo->file,
                      "Write to PATH atomically (temporary file, then rename) instead of "
                      "standard output")
      ->type_name("PATH");
  metrics->footer(
      "\nExamples:\n  jobctl metrics\n  jobctl metrics --type foo | promtool check metrics\n"
      "  jobctl metrics --file /var/lib/prometheus/node-exporter/jobrunner-queue.prom");
  metrics->callback([&ctx, mo] {
    ctx.action = [mo](pg::Connection& conn) { return print_metrics(conn, mo->type, mo->file); };
  });
}

}  // namespace jobrunner::jobctl
