// (b) Drain throughput: how fast one run-noop-jobs process empties a queue
// of --jobs NoopJobs, in cron mode and as a daemon; and its peak RSS, of
// which (g) is the daemon at concurrency 16, in-process.
#include <spdlog/spdlog.h>

#include "measures.hpp"
#include "queue.hpp"

namespace jobrunner::bench {
namespace {

// The jobs go in one transaction of enqueue_many batches this big.
constexpr int kEnqueueBatch = 5000;
constexpr int kConcurrencies[] = {1, 4, kPeakRssConcurrency};

double to_mb(std::int64_t kib) { return static_cast<double>(kib) / 1024.0; }

// Enqueue first, then time the cron run from spawn to exit.
void drain_by_cron(MeasureContext& ctx, DrainRow& row) {
  enqueue_noop_jobs(ctx.conn, ctx.db.foo_id(), row.jobs, kEnqueueBatch, Commit::once);
  Stopwatch watch;
  auto cron = ctx.runner.start_cron();
  const auto exit = wait_for_exit(ctx.conn, cron);
  row.seconds = watch.seconds();
  expect_success(cron, exit, "the cron run");
  row.peak_rss_mb = to_mb(exit.max_rss_kib);
}

// Start the daemon and let it go idle, then commit all the jobs at once and
// time from that commit until none is WAITING or RUNNING.
void drain_by_daemon(MeasureContext& ctx, const DaemonMode& mode, DrainRow& row) {
  auto daemon = ctx.runner.start_daemon(mode, ctx.conn);
  enqueue_noop_jobs(ctx.conn, ctx.db.foo_id(), row.jobs, kEnqueueBatch, Commit::once);
  Stopwatch watch;
  wait_until_drained(ctx.conn, daemon);
  row.seconds = watch.seconds();
  row.peak_rss_mb = to_mb(stop_daemon(daemon));
}

// `letter` names the measure in progress lines: b, or g when run alone, or
// h; `jobs` is --jobs but for (h).
DrainRow drain(MeasureContext& ctx, char letter, bool daemon, int concurrency, bool isolated,
               bool durable_claims, int jobs) {
  const DaemonMode mode{
      .concurrency = concurrency, .isolate = isolated, .durable_claims = durable_claims};
  DrainRow row{.label = daemon ? mode.label() : drain_label(false, concurrency, isolated),
               .daemon = daemon,
               .concurrency = concurrency,
               .isolated = isolated,
               .jobs = jobs};
  spdlog::info("({}) drain: {} jobs, {}", letter, row.jobs, row.label);
  try {
    BenchDatabase::clear_jobs(ctx.conn);
    if (daemon) {
      drain_by_daemon(ctx, mode, row);
    } else {
      drain_by_cron(ctx, row);
    }
    check_all_completed(ctx.conn, row.jobs);
    row.jobs_per_s = per_second(row.jobs, row.seconds);
    spdlog::info("({}) drain: {}: {:.0f} jobs/s, peak RSS {:.1f} MB", letter, row.label,
                 row.jobs_per_s, row.peak_rss_mb);
  } catch (const std::exception& e) {
    row.error = e.what();
    spdlog::error("({}) drain: {}: {}", letter, row.label, e.what());
  }
  return row;
}

}  // namespace

std::vector<DrainRow> measure_drain(MeasureContext& ctx, bool all_rows) {
  const int jobs = ctx.options.jobs;
  if (!all_rows) return {drain(ctx, 'g', true, kPeakRssConcurrency, false, false, jobs)};
  std::vector<DrainRow> rows{drain(ctx, 'b', false, 1, false, false, jobs)};
  for (const int concurrency : kConcurrencies) {
    for (const bool isolated : {false, true}) {
      rows.push_back(drain(ctx, 'b', true, concurrency, isolated, false, jobs));
    }
  }
  return rows;
}

DrainRow measure_daemon_drain(MeasureContext& ctx, int concurrency, bool durable_claims,
                              int jobs) {
  return drain(ctx, 'h', true, concurrency, false, durable_claims, jobs);
}

}  // namespace jobrunner::bench
