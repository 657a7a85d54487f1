// (d) Latency from enqueue to start: how long a job committed into an idle
// daemon's queue waits before the daemon starts it (LISTEN/NOTIFY wake-up).
#include <chrono>
#include <map>
#include <thread>

#include <spdlog/spdlog.h>

#include "failure.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "measures.hpp"
#include "noop/noop_job.hpp"

namespace jobrunner::bench {
namespace {

using namespace std::chrono_literals;

// Between enqueues, so each job finds the daemon idle.
constexpr auto kPause = 5ms;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Latency measure_latency(MeasureContext& ctx) {
  auto& conn = ctx.conn;
  const int samples = ctx.options.latency_samples;
  BenchDatabase::clear_jobs(conn);
  const DaemonMode mode{.concurrency = 1, .isolate = false};
  spdlog::info("(d) latency: {} jobs one by one into an idle {}", samples, mode.label());
  auto daemon = ctx.runner.start_daemon(mode, conn);

  const pg::JobStore store(noop::noop_job_type().spec);
  const pg::EnqueueRequest request{.target_id = ctx.db.foo_id()};
  std::map<std::int64_t, std::int64_t> committed_us;  // job id -> client clock after commit
  std::vector<std::int64_t> ids;
  for (int i = 0; i < samples; ++i) {
    auto tx = conn.begin();
    const auto id = store.enqueue(tx, request);
    tx.commit();
    committed_us[id] = now_us();
    ids.push_back(id);
    std::this_thread::sleep_for(kPause);
  }
  wait_until_drained(conn, daemon);
  stop_daemon(daemon);

  // date_started is the server's now() in the claiming transaction; both
  // clocks are this machine's.
  auto tx = conn.begin();
  const auto rows = tx.exec(
      "SELECT id, (extract(epoch FROM date_started) * 1000000)::bigint AS started_us"
      " FROM job WHERE id = ANY($1::bigint[])",
      pg::to_array_param(ids));
  tx.commit();
  if (rows.size() != ids.size()) {
    throw MeasureFailed("found " + std::to_string(rows.size()) + " of the " +
                        std::to_string(ids.size()) + " jobs enqueued");
  }
  Latency result{.samples = samples};
  std::vector<double> ms;
  for (const auto& row : rows) {
    const auto started = row.opt_int("started_us");
    if (!started) throw MeasureFailed("job " + row.text("id") + " never started");
    const auto waited_us = *started - committed_us.at(row.integer("id"));
    const double latency = static_cast<double>(waited_us) / 1000.0;
    if (latency < 0) ++result.negative;
    ms.push_back(latency);
  }
  result.ms = summarize(std::move(ms));
  return result;
}

}  // namespace jobrunner::bench
