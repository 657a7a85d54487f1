#pragma once
// The measures a to k (docs/performance.md says what each one means). Each
// starts from an empty queue and throws MeasureFailed (or a database error)
// when it cannot be made.

#include <vector>

#include "bench_database.hpp"
#include "jobrunner/pg/connection.hpp"
#include "options.hpp"
#include "results.hpp"
#include "runner_under_test.hpp"

namespace jobrunner::bench {

// What every measure works with.
struct MeasureContext {
  const BenchOptions& options;
  const BenchDatabase& db;
  pg::Connection& conn;  // the bench's own connection to the bench database
  RunnerUnderTest& runner;
};

// (a) bare claim + finish SQL on the job table, 1 and 100 jobs at a time.
SqlLimit measure_sql_limit(MeasureContext& ctx);

// Which drains measure_drain runs.
enum class DrainSet {
  in_process,     // (b): cron at concurrency 1 and 16, daemons at 1, 4 and 16
  isolated,       // (k): the same with --isolate, cron and daemon at 1 and 16
  peak_rss_only,  // (g) alone: the daemon at concurrency 16, in-process
};

// (b), (k), (g): drain throughput and peak RSS of run-noop-jobs. Never throws
// for one row: a row that cannot be measured carries its error.
std::vector<DrainRow> measure_drain(MeasureContext& ctx, DrainSet set);

// (j) a transactional drain: --jobs FooJobs, each about a foo of its own,
// by run-foo-jobs --daemon --concurrency 16. Never throws.
DrainRow measure_transactional_drain(MeasureContext& ctx);

// One drain of `jobs` NoopJobs by an in-process daemon, with or without
// --durable-claims, for (h). Never throws: a failed row carries its error.
DrainRow measure_daemon_drain(MeasureContext& ctx, int concurrency, bool durable_claims, int jobs);

// (c) JobStore::enqueue_many in batches of 1000, and JobStore::enqueue one
// at a time.
EnqueueRate measure_enqueue(MeasureContext& ctx);

// (d) latency from the enqueue commit to the job's own start, on an idle
// daemon c16 in-process and while it drains a backlog of --jobs NoopJobs.
Latency measure_latency(MeasureContext& ctx);

// (e) wall time of cron runs that find nothing to do.
IdleTick measure_idle_tick(MeasureContext& ctx);

// (f) claim time with few and with many finished jobs in the table.
ClaimScaling measure_claim_scaling(MeasureContext& ctx);

// (h) what durable claims cost: the bare claim + finish loop at batch 1 and
// 16, and daemons c1 and c16 in-process, each with the claim committed
// without waiting for the WAL flush (as the runner does by default) and
// with waiting (--durable-claims).
ClaimDurability measure_claim_durability(MeasureContext& ctx);

// (i) the schema-free limit: claim + complete on a bare job(id, status)
// table, batched at 1 and 8 connections, single-row at 8.
SchemaFreeLimit measure_schema_free(MeasureContext& ctx);

// (r) what each ingredient of a job row costs: the batched claim + complete
// loop on a schema-free table, on the job table with the 0008 statements and
// each ingredient left out, and with the store as built; 1 and 8 connections.
RowCosts measure_row_costs(MeasureContext& ctx);

}  // namespace jobrunner::bench
