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
  std::optional<int> prefetch;  // --prefetch given to every runner; unset: not passed
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

// (i) the schema-free limit: claim + complete on a bare job(id, status)
// table, with 1 or more connections (a thread each).
struct SchemaFreeRow {
  std::string label;  // "8 connections, batched"
  int connections = 1;
  int batch = 1;
  double seconds = 0;
  double jobs_per_s = 0;
};
struct SchemaFreeLimit {
  int jobs = 0;
  std::vector<SchemaFreeRow> rows;  // 1 conn batched, 8 conns batched, 8 conns single
  // The row with that many connections and that batch; nullptr if absent.
  const SchemaFreeRow* row(int connections, int batch) const;
};
// The rows the targets divide by.
inline constexpr int kSchemaFreeBatch = 100;
inline constexpr int kSchemaFreeConnections = 8;

// (b), (j), (k): one drain of the whole queue by one runner process.
// Row labels: "cron c1 in-process", "daemon c4 in-process", "daemon c16
// isolated"; FooJob rows end in ", FooJobs".
std::string drain_label(bool daemon, int concurrency, bool isolated);
// (g) is the peak RSS of this daemon row.
inline constexpr int kPeakRssConcurrency = 16;
struct DrainRow {
  char measure = 'b';  // the measure it belongs to: b, g, h, j or k
  std::string label;   // "cron c1 in-process", "daemon c4 isolated"
  std::string program;  // "run-noop-jobs", "run-foo-jobs"
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
  // jobrunner_enqueue_many() of `sql_jobs` FooJobs about as many distinct
  // foos in one call, against a bare INSERT ... SELECT of the same rows into
  // job (with pending_key) and foojob: the median of `sql_rounds` each, and
  // the median of the rounds' ratios (function / bare, the two run back to
  // back in each round): the target's figure, since the disk's speed drifts
  // more between rounds than within one.
  int sql_jobs = 0;
  int sql_rounds = 0;
  double sql_function_jobs_per_s = 0;
  double sql_bare_insert_jobs_per_s = 0;
  double sql_ratio = 0;
};

// (d) one phase: the job's own clock when it started (its "report_start"
// line) minus the client's clock right after the enqueue commit, in ms.
struct LatencyPhase {
  std::string phase;  // "idle", "during a drain"
  int samples = 0;
  int priority = 0;  // of the latency jobs
  Summary ms;
  int negative = 0;  // samples whose job started before commit() returned
  // The job's start minus its date_started (the server's now() in the
  // claiming transaction): the time from the claim's start to run().
  Summary after_claim_ms;
  int backlog = 0;         // NoopJobs enqueued just before the samples (0 when idle)
  int during_backlog = 0;  // samples that started before the last backlog job was claimed
};
struct Latency {
  std::string runner;               // "daemon c16 in-process"
  int pause_ms = 0;                 // between two enqueues
  std::vector<LatencyPhase> phases;  // idle, during a drain
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
  std::optional<SchemaFreeLimit> schema_free;
  std::vector<DrainRow> drain;  // (b), (g), (j), (k), in the order run
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
  // The latency phase of that name; nullptr when it was not measured.
  const LatencyPhase* latency_phase(const std::string& phase) const;
};

}  // namespace jobrunner::bench
