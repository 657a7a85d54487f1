#pragma once
// The command line of jobrunner-bench, and the sizes --quick shrinks.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "jobrunner/app/cli_support.hpp"

namespace jobrunner::bench {

struct BenchOptions {
  std::string server_conninfo;  // the server; the bench works in its own database
  int jobs = 50000;  // (a) to (c), (i) to (k), the backlog of (d); (h) at most durability_jobs
  std::optional<std::filesystem::path> json_path;
  std::filesystem::path bin_dir;  // where run-noop-jobs and run-foo-jobs are
  std::string only = "abcdefghijkr";  // the measures to run, sorted, no duplicates
  // --prefetch N for every runner the bench starts; unset: the option is not
  // passed, and runners use their default (or have no such option).
  std::optional<int> prefetch;
  bool quick = false;
  app::LogOptions log;

  // Sizes; --quick makes them smoke-test small.
  int single_enqueue_jobs = 5000;  // (c), at most --jobs
  int latency_samples = 1000;      // (d), per phase (idle, during the drain)
  int idle_ticks = 30;             // (e)
  std::vector<std::int64_t> claim_table_sizes{10000, 1000000};  // (f), finished rows
  int claim_ready_jobs = 2000;                                  // (f)
  int claim_samples = 1000;                                     // (f)
  int durability_jobs = 10000;  // (h), per loop and per drain, at most --jobs

  bool selected(char measure) const { return only.find(measure) != std::string::npos; }
};

// Parses argv into `options`. Returns an exit code when the bench should
// stop now: 0 after --help, 64 after a usage error.
std::optional<int> parse_options(int argc, char** argv, BenchOptions& options);

}  // namespace jobrunner::bench
