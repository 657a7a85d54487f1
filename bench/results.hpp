#pragma once
// Every figure of one run, as the measures return them; the table, the JSON
// and the targets are all made from this.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "row_costs.hpp"
#include "stats.hpp"

namespace jobrunner::bench {

struct RunInfo {
  std::string version;      // jobrunner's
  std::string started_utc;  // ISO 8601
  double duration_s = 0;
  int jobs = 0;
  bool quick = false;
  std::string only;  // the measures run, e.g. "abcdefg"
  std::string runner;  // the run-noop-jobs measured
};

struct Machine {
  unsigned nproc = 0;
  std::string cpu_model;
  std::int64_t ram_mb = 0;
  std::string kernel;
};

struct Server {
  std::string version;
  // SHOW fsync, synchronous_commit, shared_buffers, wal_level, max_connections.
  std::vector<std::pair<std::string, std::string>> settings;
};

// (a) bare claim + finish on the job table.
struct SqlLimit {
  int jobs = 0;
  int batch = 0;
  double single_jobs_per_s = 0;   // claim 1, commit; finish 1, commit
  double batched_jobs_per_s = 0;  // claim `batch`, commit; finish all in one UPDATE, commit
};

// (b) one drain of the whole queue by one runner process.
// Row labels: "cron", "daemon c4 in-process", "daemon c16 isolated".
std::string drain_label(bool daemon, int concurrency, bool isolated);
// (g) is the peak RSS of this daemon row.
inline constexpr int kPeakRssConcurrency = 16;
struct DrainRow {
  std::string label;  // "cron", "daemon c4 isolated"
  bool daemon = false;
  int concurrency = 1;
  bool isolated = false;
  int jobs = 0;
  std::optional<std::string> error;  // set when this row could not be measured
  double seconds = 0;
  double jobs_per_s = 0;
  double peak_rss_mb = 0;
};

// (c)
struct EnqueueRate {
  int bulk_jobs = 0;
  int bulk_batch = 0;
  double bulk_jobs_per_s = 0;
  int single_jobs = 0;
  double single_jobs_per_s = 0;
};

// (d) job.date_started minus the client's clock after commit, in ms.
struct Latency {
  int samples = 0;
  Summary ms;
  int negative = 0;  // samples where the daemon started before commit() returned
};

// (e) wall time of a cron run with nothing to do, spawn to exit, in ms;
// with its two fixed costs measured alone, for scale.
struct IdleTick {
  int runs = 0;
  Summary ms;
  Summary startup_ms;  // run-noop-jobs --version, spawn to exit
  Summary connect_ms;  // the bench opening a connection and running SELECT 1
};

// (f) claim-statement time against a table of `finished_rows` finished jobs.
struct ClaimAtSize {
  std::int64_t finished_rows = 0;
  int claims = 0;
  Summary ms;
};
struct ClaimScaling {
  std::vector<ClaimAtSize> sizes;  // small table first
  double p50_ratio = 0;            // largest / smallest
};

// (h) one comparison: the same loop or drain with the claim committed
// without waiting for the WAL flush (the runner's default) and durably.
struct DurabilityPair {
  std::string what;  // "SQL claim 1 + finish 1", "daemon c16 in-process"
  int jobs = 0;
  std::optional<std::string> error;  // set when either side could not be measured
  double flush_wait_off_jobs_per_s = 0;
  double durable_jobs_per_s = 0;
  // WAL flushes the server made meanwhile (pg_stat_wal.wal_sync, the whole
  // server's: the bench's own), per 1,000 jobs; a drain's include starting
  // and stopping the daemon and the enqueue.
  double flush_wait_off_flushes_per_1k = 0;
  double durable_flushes_per_1k = 0;
  double ratio() const {  // durable / off
    return flush_wait_off_jobs_per_s > 0 ? durable_jobs_per_s / flush_wait_off_jobs_per_s : 0;
  }
};
struct ClaimDurability {
  std::vector<DurabilityPair> rows;  // SQL batch 1, SQL batch 16, daemon c1, daemon c16
};

struct Results {
  RunInfo run;
  Machine machine;
  Server server;
  std::optional<SqlLimit> sql_limit;
  std::vector<DrainRow> drain;
  std::optional<EnqueueRate> enqueue;
  std::optional<Latency> latency;
  std::optional<IdleTick> idle_tick;
  std::optional<ClaimScaling> claim_scaling;
  std::optional<ClaimDurability> claim_durability;
  std::optional<RowCosts> row_costs;  // (r)
  // "(x) what: why", one per measurement that could not be made.
  std::vector<std::string> failures;

  // The drain row with that label; nullptr when it was not run.
  const DrainRow* drain_row(const std::string& label) const;
};

}  // namespace jobrunner::bench
