// (e) The cost of an idle cron tick: a cron run that finds nothing to do
// (start, connect, lock, record the run, rescue, claim nothing, exit). Two
// fixed parts of it are timed alone as well, for scale: starting the
// executable, and opening a connection.
#include <spdlog/spdlog.h>

#include "measures.hpp"

namespace jobrunner::bench {
namespace {

// Spawn-to-exit wall time of `start()`'s process, `runs` times, in ms.
template <typename Start>
Summary time_runs(MeasureContext& ctx, int runs, const char* what, Start start) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    Stopwatch watch;
    auto process = start();
    const auto exit = wait_for_exit(ctx.conn, process, job_type_name(Program::noop));
    ms.push_back(watch.milliseconds());
    expect_success(process, exit, what);
  }
  return summarize(std::move(ms));
}

}  // namespace

IdleTick measure_idle_tick(MeasureContext& ctx) {
  BenchDatabase::clear_jobs(ctx.conn);
  IdleTick result{.runs = ctx.options.idle_ticks};
  spdlog::info("(e) idle tick: {} cron runs with no ready job", result.runs);
  result.ms = time_runs(ctx, result.runs, "an idle cron run",
                        [&] { return ctx.runner.start_cron(); });
  result.startup_ms = time_runs(ctx, result.runs, "run-noop-jobs --version",
                                [&] { return ctx.runner.start_version_only(); });
  std::vector<double> connect_ms;
  for (int i = 0; i < result.runs; ++i) {
    Stopwatch watch;
    auto conn = ctx.db.connect();
    auto tx = conn.begin();
    tx.exec("SELECT 1");
    tx.commit();
    connect_ms.push_back(watch.milliseconds());
  }
  result.connect_ms = summarize(std::move(connect_ms));
  return result;
}

}  // namespace jobrunner::bench
