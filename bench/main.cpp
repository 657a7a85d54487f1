// jobrunner-bench: measures the runner against a real PostgreSQL, prints a
// report with the targets, and writes every figure as JSON (--json). What
// each measure means: docs/performance.md.
#include <fstream>
#include <functional>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "bench_database.hpp"
#include "jobrunner/app/cli_support.hpp"
#include "jobrunner/core/job.hpp"
#include "jobrunner/version.hpp"
#include "measures.hpp"
#include "options.hpp"
#include "report.hpp"
#include "system_info.hpp"
#include "targets.hpp"

namespace jobrunner::bench {
namespace {

// Exit code when a measurement could not be made (a missed target is 0).
constexpr int kMeasurementFailed = 1;

bool write_json(const std::filesystem::path& path, const nlohmann::ordered_json& json) {
  std::ofstream out(path);
  out << json.dump(2) << '\n';
  out.close();
  if (!out) spdlog::error("cannot write {}", path.string());
  return static_cast<bool>(out);
}

int run_bench(const BenchOptions& options) {
  Stopwatch total;
  Results results;
  results.run = {.version = std::string(kVersion),
                 .started_utc = format_time(std::chrono::system_clock::now()),
                 .jobs = options.jobs,
                 .quick = options.quick,
                 .only = options.only,
                 .prefetch = options.prefetch};
  results.machine = read_machine();
  const BenchDatabase db(options.server_conninfo);
  auto conn = db.connect();
  results.server = read_server(conn);
  RunnerUnderTest runner(options.bin_dir, db.conninfo(), options.prefetch);
  results.run.runner = runner.executable().string();
  MeasureContext ctx{options, db, conn, runner};

  // Runs one measure; one that cannot be made is recorded, and the rest go on.
  auto measure = [&](char letter, const char* name, const std::function<void()>& body) {
    if (!options.selected(letter)) return;
    try {
      body();
    } catch (const std::exception& e) {
      results.failures.push_back(fmt::format("({}) {}: {}", letter, name, e.what()));
      spdlog::error("({}) {} could not be measured: {}", letter, name, e.what());
    }
  };
  // Drain rows carry their own errors.
  auto add_drains = [&](std::vector<DrainRow> rows) {
    for (auto& row : rows) {
      if (row.error) {
        results.failures.push_back(
            fmt::format("({}) drain, {}: {}", row.measure, row.label, *row.error));
      }
      results.drain.push_back(std::move(row));
    }
  };
  measure('a', "SQL limit", [&] { results.sql_limit = measure_sql_limit(ctx); });
  measure('i', "schema-free limit", [&] { results.schema_free = measure_schema_free(ctx); });
  if (options.selected('b')) {
    add_drains(measure_drain(ctx, DrainSet::in_process));
  } else if (options.selected('g')) {
    add_drains(measure_drain(ctx, DrainSet::peak_rss_only));
  }
  if (options.selected('j')) add_drains({measure_transactional_drain(ctx)});
  if (options.selected('k')) add_drains(measure_drain(ctx, DrainSet::isolated));
  measure('c', "enqueue rate", [&] { results.enqueue = measure_enqueue(ctx); });
  measure('d', "latency", [&] { results.latency = measure_latency(ctx); });
  measure('e', "idle tick", [&] { results.idle_tick = measure_idle_tick(ctx); });
  measure('f', "claim scaling", [&] { results.claim_scaling = measure_claim_scaling(ctx); });
  measure('h', "claim durability", [&] {
    results.claim_durability = measure_claim_durability(ctx);
    for (const auto& row : results.claim_durability->rows) {
      if (row.error) results.failures.push_back(fmt::format("(h) {}: {}", row.what, *row.error));
    }
  });
  measure('r', "row costs", [&] { results.row_costs = measure_row_costs(ctx); });
  results.run.duration_s = total.seconds();

  const auto targets = evaluate_targets(results);
  print_report(std::cout, results, targets);
  std::cout.flush();
  bool written = true;
  if (options.json_path) written = write_json(*options.json_path, report_json(results, targets));
  if (!results.failures.empty()) {
    runner.keep_logs();
    spdlog::error("{} measurement(s) could not be made (listed at the end of the report); the "
                  "runners' stderr is kept in {}",
                  results.failures.size(), runner.log_dir().string());
    return kMeasurementFailed;
  }
  return written ? 0 : kMeasurementFailed;
}

}  // namespace
}  // namespace jobrunner::bench

int main(int argc, char** argv) {
  jobrunner::bench::BenchOptions options;
  if (auto code = jobrunner::bench::parse_options(argc, argv, options)) return *code;
  jobrunner::app::setup_logging("jobrunner-bench", options.log);
  return jobrunner::app::run_guarded([&] { return jobrunner::bench::run_bench(options); });
}
