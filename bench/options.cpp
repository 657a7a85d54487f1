#include "options.hpp"

#include <algorithm>

#include "jobrunner/version.hpp"

namespace jobrunner::bench {
namespace {

constexpr std::string_view kMeasures = "abcdefghijkr";

// --only "a,c,f" (or "acf"): the measure letters, sorted, without duplicates.
CLI::Validator measure_list() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        std::string letters;
        for (const char c : value) {
          if (c == ',' || c == ' ') continue;
          if (kMeasures.find(c) == std::string_view::npos) {
            return std::string("unknown measure '") + c + "' (measures are a to k, and r)";
          }
          if (letters.find(c) == std::string::npos) letters += c;
        }
        if (letters.empty()) return "name at least one measure (a to k, r)";
        std::sort(letters.begin(), letters.end());
        value = letters;
        return {};
      },
      "LIST");
}

std::filesystem::path own_directory() {
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::current_path() : exe.parent_path();
}

}  // namespace

std::optional<int> parse_options(int argc, char** argv, BenchOptions& options) {
  CLI::App app(
      "Measures jobrunner against a PostgreSQL server: (a) the SQL limit of claim + finish on "
      "the job table, (b) drain throughput of NoopJobs by run-noop-jobs in-process (cron at "
      "concurrency 1 and 16, daemons at 1, 4, 16), (c) bulk enqueue rate, (d) latency from the "
      "enqueue commit to the job's own start, on an idle daemon c16 and during a drain, (e) the "
      "cost of an idle cron tick, (f) claim time with 10k and 1M finished jobs, (g) the daemon's "
      "peak RSS at concurrency 16, (h) what durable claims cost: claim + finish at batch 1 and "
      "16 and daemons at concurrency 1 and 16, with and without waiting for the WAL flush at the "
      "claim's commit (--durable-claims), (i) the schema-free SQL limit: job(id, status) alone, "
      "batched at 1 and 8 connections and single-row at 8, (j) a transactional drain: FooJobs "
      "by run-foo-jobs --daemon --concurrency 16, (k) isolated drains (--isolate) at "
      "concurrency 1 and 16, cron and daemon, (r) row costs: the batched claim + complete loop on a "
      "schema-free table and on the job table with each ingredient of its row left out, at 1 "
      "and 8 connections. Works in its own database, "
      "jobrunner_bench, created and dropped on the server (the role needs CREATEDB). Prints a "
      "table with targets (PASS/MISS); exits 0 even when a target is missed, 1 when a "
      "measurement could not be made.",
      "jobrunner-bench");
  app.set_version_flag("--version", std::string(kVersion));
  std::optional<std::string> db;
  std::optional<std::string> json_path;
  std::optional<std::string> bin_dir;
  app::add_db_option(app, db);
  app.add_option("--jobs", options.jobs,
                 "Jobs per throughput measure (a, b, c, i, j, k), and the backlog drained during "
                 "the second half of d; h takes at most 10000")
      ->type_name("N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--json", json_path, "Also write every figure to FILE as JSON")
      ->type_name("FILE");
  app.add_option("--bin-dir", bin_dir,
                 "Where run-noop-jobs and run-foo-jobs are (default: the directory of this "
                 "executable)")
      ->type_name("DIR");
  app.add_option("--only", options.only,
                 "Run only these measures, e.g. 'a,c' (g alone runs the one drain it needs)")
      ->transform(measure_list())
      ->capture_default_str();
  app.add_option("--prefetch", options.prefetch,
                 "Pass --prefetch N to every runner started (by default the option is not "
                 "passed, and runners use their own default)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--quick", options.quick,
               "Small sizes for a smoke run: 2000 jobs (unless --jobs), 100 latency samples, "
               "10 idle ticks, 20k finished rows instead of 1M");
  app::add_log_options(app, options.log);
  app.footer(
      "\nExamples:\n"
      "  jobrunner-bench --db 'host=/tmp/pg port=5432 user=jobrunner' --json bench-results.json\n"
      "  jobrunner-bench --quick --only a,e\n"
      "  jobrunner-bench --only i,j,k,d --jobs 20000 --prefetch 64\n"
      "  ./scripts/bench.sh        # install, build, start a throwaway PostgreSQL, run\n");

  if (auto code = app::parse_command_line(app, argc, argv)) return code;
  options.server_conninfo = app::resolve_conninfo(db);
  if (json_path) options.json_path = *json_path;
  options.bin_dir = bin_dir ? std::filesystem::path(*bin_dir) : own_directory();
  if (options.quick) {
    if (app.count("--jobs") == 0) options.jobs = 2000;
    options.latency_samples = 100;
    options.idle_ticks = 10;
    options.claim_table_sizes = {10000, 20000};
  }
  options.single_enqueue_jobs = std::min(options.jobs, options.single_enqueue_jobs);
  options.durability_jobs = std::min(options.jobs, options.durability_jobs);
  return std::nullopt;
}

}  // namespace jobrunner::bench
