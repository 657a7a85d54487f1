// (b) Drain throughput: how fast one run-noop-jobs process empties a queue
// of --jobs NoopJobs, in cron mode and as a daemon, in-process; (k) the same
// with --isolate; (j) a transactional drain, FooJobs by run-foo-jobs; and
// their peak RSS, of which (g) is the daemon at concurrency 16, in-process.
#include <spdlog/spdlog.h>

#include "failure.hpp"
#include "measures.hpp"
#include "queue.hpp"

namespace jobrunner::bench {
namespace {

// The jobs go in one transaction of enqueue_many batches this big.
constexpr int kEnqueueBatch = 5000;
constexpr int kDaemonConcurrencies[] = {1, 4, kPeakRssConcurrency};
// (k) and the cron rows of (b).
constexpr int kFewConcurrencies[] = {1, kPeakRssConcurrency};
// (j)
constexpr int kTransactionalConcurrency = 16;

double to_mb(std::int64_t kib) { return static_cast<double>(kib) / 1024.0; }

void enqueue(MeasureContext& ctx, const RunMode& mode, int jobs) {
  if (mode.program == Program::foo) {
    enqueue_foo_jobs(ctx.conn, jobs, kEnqueueBatch);
  } else {
    enqueue_noop_jobs(ctx.conn, ctx.db.foo_id(), jobs, kEnqueueBatch, Commit::once);
  }
}

// Enqueue first, then time the cron run from spawn to exit.
void drain_by_cron(MeasureContext& ctx, const RunMode& mode, DrainRow& row) {
  enqueue(ctx, mode, row.jobs);
  Stopwatch watch;
  auto cron = ctx.runner.start_cron(mode);
  const auto exit = wait_for_exit(ctx.conn, cron, job_type_name(mode.program));
  row.seconds = watch.seconds();
  expect_success(cron, exit, "the cron run");
  row.peak_rss_mb = to_mb(exit.max_rss_kib);
}

// Start the daemon and let it go idle, then commit all the jobs at once and
// time from that commit until none is WAITING or RUNNING.
void drain_by_daemon(MeasureContext& ctx, const RunMode& mode, DrainRow& row) {
  auto daemon = ctx.runner.start_daemon(mode, ctx.conn);
  enqueue(ctx, mode, row.jobs);
  Stopwatch watch;
  wait_until_drained(ctx.conn, daemon, job_type_name(mode.program));
  row.seconds = watch.seconds();
  row.peak_rss_mb = to_mb(stop_daemon(daemon));
}

// FooJobs: one foo_frozzle row per job, written in the job's transaction.
void check_frozzles(pg::Connection& conn, int expected) {
  auto tx = conn.begin();
  const auto n = tx.exec("SELECT count(*) AS n FROM foo_frozzle").at(0).integer("n");
  tx.commit();
  if (n != expected) {
    throw MeasureFailed("expected " + std::to_string(expected) + " foo_frozzle rows, found " +
                        std::to_string(n));
  }
}

// `letter` names the measure: b, g, h, j or k; `jobs` is --jobs but for (h).
DrainRow drain(MeasureContext& ctx, char letter, const RunMode& mode, int jobs) {
  DrainRow row{.measure = letter,
               .label = mode.label(),
               .program = std::string(executable_name(mode.program)),
               .daemon = mode.daemon,
               .concurrency = mode.concurrency,
               .isolated = mode.isolate,
               .jobs = jobs};
  spdlog::info("({}) drain: {} jobs, {}", letter, row.jobs, row.label);
  try {
    BenchDatabase::clear_jobs(ctx.conn);
    if (mode.daemon) {
      drain_by_daemon(ctx, mode, row);
    } else {
      drain_by_cron(ctx, mode, row);
    }
    check_all_completed(ctx.conn, row.jobs, job_type_name(mode.program));
    if (mode.program == Program::foo) check_frozzles(ctx.conn, row.jobs);
    row.jobs_per_s = per_second(row.jobs, row.seconds);
    spdlog::info("({}) drain: {}: {:.0f} jobs/s, peak RSS {:.1f} MB", letter, row.label,
                 row.jobs_per_s, row.peak_rss_mb);
  } catch (const std::exception& e) {
    row.error = e.what();
    spdlog::error("({}) drain: {}: {}", letter, row.label, e.what());
  }
  if (mode.program == Program::foo) {
    BenchDatabase::clear_jobs(ctx.conn);
    delete_other_foos(ctx.conn, ctx.db.foo_id());
  }
  return row;
}

}  // namespace

std::vector<DrainRow> measure_drain(MeasureContext& ctx, DrainSet set) {
  const int jobs = ctx.options.jobs;
  std::vector<DrainRow> rows;
  switch (set) {
    case DrainSet::peak_rss_only:
      rows.push_back(drain(ctx, 'g', {.concurrency = kPeakRssConcurrency}, jobs));
      break;
    case DrainSet::in_process:
      for (const int c : kFewConcurrencies) {
        rows.push_back(drain(ctx, 'b', {.daemon = false, .concurrency = c}, jobs));
      }
      for (const int c : kDaemonConcurrencies) {
        rows.push_back(drain(ctx, 'b', {.concurrency = c}, jobs));
      }
      break;
    case DrainSet::isolated:
      for (const bool daemon : {false, true}) {
        for (const int c : kFewConcurrencies) {
          rows.push_back(
              drain(ctx, 'k', {.daemon = daemon, .concurrency = c, .isolate = true}, jobs));
        }
      }
      break;
  }
  return rows;
}

DrainRow measure_transactional_drain(MeasureContext& ctx) {
  return drain(ctx, 'j', {.program = Program::foo, .concurrency = kTransactionalConcurrency},
               ctx.options.jobs);
}

DrainRow measure_daemon_drain(MeasureContext& ctx, int concurrency, bool durable_claims,
                              int jobs) {
  return drain(ctx, 'h', {.concurrency = concurrency, .durable_claims = durable_claims}, jobs);
}

}  // namespace jobrunner::bench
