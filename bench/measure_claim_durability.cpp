// (h) What durable claims would cost. The runner commits its claim
// transaction (claims plus batched completions) without waiting for the WAL
// flush unless it runs with --durable-claims (docs/crash-safety.md). Each
// pair here measures the same work both ways, one right after the other:
// the bare claim + finish loop of (a) at batch 1 and 16, and run-noop-jobs
// daemons at concurrency 1 and 16, in-process.
#include <spdlog/spdlog.h>

#include "bare_sql.hpp"
#include "failure.hpp"
#include "measures.hpp"

namespace jobrunner::bench {
namespace {

constexpr int kSqlBatches[] = {1, 16};
constexpr int kDaemonConcurrencies[] = {1, 16};

// The server's WAL flushes so far (every backend's and the WAL writer's).
std::int64_t wal_flushes(pg::Connection& conn) {
  auto tx = conn.begin();
  const auto n = tx.exec("SELECT wal_sync FROM pg_stat_wal").at(0).integer("wal_sync");
  tx.commit();
  return n;
}

// Runs `body`, returning the WAL flushes it caused per 1,000 of `jobs`.
template <typename Body>
double flushes_per_1k(pg::Connection& conn, int jobs, Body&& body) {
  const auto before = wal_flushes(conn);
  body();
  return static_cast<double>(wal_flushes(conn) - before) * 1000.0 / jobs;
}

// The loop of (a): claim `batch` in one transaction, finish them in
// another; only the claim's commit changes. The finish always waits for the
// flush, as a job's own transaction does. Returns jobs per second.
double claim_finish_rate(MeasureContext& ctx, int batch, bool durable, int jobs) {
  auto& conn = ctx.conn;
  BenchDatabase::clear_jobs(conn);
  insert_ready_jobs(conn, jobs);
  BenchDatabase::vacuum_analyze(conn);
  const double seconds = claim_and_finish_all(conn, batch, durable, jobs);
  return per_second(static_cast<double>(jobs), seconds);
}

DurabilityPair sql_pair(MeasureContext& ctx, int batch, int jobs) {
  DurabilityPair pair{.what = "SQL claim " + std::to_string(batch) + " + finish " +
                              std::to_string(batch),
                      .jobs = jobs};
  try {
    spdlog::info("(h) claim durability: {}, flush wait off", pair.what);
    pair.flush_wait_off_flushes_per_1k = flushes_per_1k(ctx.conn, jobs, [&] {
      pair.flush_wait_off_jobs_per_s = claim_finish_rate(ctx, batch, false, jobs);
    });
    spdlog::info("(h) claim durability: {}, durable", pair.what);
    pair.durable_flushes_per_1k = flushes_per_1k(ctx.conn, jobs, [&] {
      pair.durable_jobs_per_s = claim_finish_rate(ctx, batch, true, jobs);
    });
  } catch (const std::exception& e) {
    pair.error = e.what();
    spdlog::error("(h) claim durability: {}: {}", pair.what, e.what());
  }
  return pair;
}

DurabilityPair daemon_pair(MeasureContext& ctx, int concurrency, int jobs) {
  DrainRow off, durable;
  DurabilityPair pair{.jobs = jobs};
  pair.flush_wait_off_flushes_per_1k = flushes_per_1k(
      ctx.conn, jobs, [&] { off = measure_daemon_drain(ctx, concurrency, false, jobs); });
  pair.durable_flushes_per_1k = flushes_per_1k(
      ctx.conn, jobs, [&] { durable = measure_daemon_drain(ctx, concurrency, true, jobs); });
  pair.what = off.label;
  if (off.error || durable.error) {
    pair.error = off.error ? off.label + ": " + *off.error : durable.label + ": " + *durable.error;
  }
  pair.flush_wait_off_jobs_per_s = off.jobs_per_s;
  pair.durable_jobs_per_s = durable.jobs_per_s;
  return pair;
}

}  // namespace

ClaimDurability measure_claim_durability(MeasureContext& ctx) {
  const int jobs = ctx.options.durability_jobs;
  ClaimDurability result;
  for (const int batch : kSqlBatches) result.rows.push_back(sql_pair(ctx, batch, jobs));
  for (const int concurrency : kDaemonConcurrencies) {
    result.rows.push_back(daemon_pair(ctx, concurrency, jobs));
  }
  return result;
}

}  // namespace jobrunner::bench
