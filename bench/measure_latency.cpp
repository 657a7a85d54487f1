// (d) Latency from enqueue to start: from the client's clock just after its
// enqueue commit returned to the job's own clock when its run began (a
// NoopJob with "report_start" writes that instant to the runner's stderr).
// One daemon c16 in-process: first idle, then while it drains a backlog of
// --jobs NoopJobs, behind which the latency jobs are more urgent.
#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include <spdlog/spdlog.h>

#include "failure.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "measures.hpp"
#include "noop/noop_job.hpp"
#include "queue.hpp"

namespace jobrunner::bench {
namespace {

using namespace std::chrono_literals;

// Between enqueues: 200 jobs/s, which an idle daemon takes one by one.
constexpr auto kPause = 5ms;
constexpr int kConcurrency = 16;
// The backlog's priority is the default, 0; the latency jobs during the
// drain come first (claims order by priority, then id).
constexpr int kUrgent = -1;
constexpr int kBacklogBatch = 5000;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Sent {
  std::vector<std::int64_t> ids;
  std::map<std::int64_t, std::int64_t> committed_us;  // job id -> client clock after commit
};

// Enqueues `samples` NoopJobs that report their start, one per transaction,
// kPause apart.
Sent enqueue_samples(MeasureContext& ctx, int samples, int priority) {
  const pg::JobStore store(noop::noop_job_type().spec);
  const pg::EnqueueRequest request{.target_id = ctx.db.foo_id(),
                                   .metadata = nlohmann::json::object({{"report_start", true}}),
                                   .priority = priority};
  Sent sent;
  for (int i = 0; i < samples; ++i) {
    auto tx = ctx.conn.begin();
    const auto id = store.enqueue(tx, request);
    tx.commit();
    sent.committed_us[id] = now_us();
    sent.ids.push_back(id);
    std::this_thread::sleep_for(kPause);
  }
  return sent;
}

// job id -> the job's own clock at its start, from the runner's stderr.
std::map<std::int64_t, std::int64_t> read_start_reports(const Process& daemon) {
  std::map<std::int64_t, std::int64_t> started;
  std::ifstream in(daemon.stderr_path());
  std::string line;
  while (std::getline(in, line)) {
    if (const auto report = noop::parse_start_report(line)) {
      started[report->job_id] = report->started_us;
    }
  }
  return started;
}

// The server's date_started of each job (microseconds since the epoch).
std::map<std::int64_t, std::int64_t> read_date_started(pg::Connection& conn,
                                                       const std::vector<std::int64_t>& ids) {
  auto tx = conn.begin();
  const auto rows = tx.exec(
      "SELECT id, (extract(epoch FROM date_started) * 1000000)::bigint AS started_us"
      " FROM job WHERE id = ANY($1::bigint[])",
      pg::to_array_param(ids));
  tx.commit();
  std::map<std::int64_t, std::int64_t> started;
  for (const auto& row : rows) {
    if (const auto us = row.opt_int("started_us")) started[row.integer("id")] = *us;
  }
  return started;
}

// When the last job with an id in (after, before) was claimed: the end of
// the backlog, by the server's clock.
std::int64_t last_claim_between(pg::Connection& conn, std::int64_t after, std::int64_t before) {
  auto tx = conn.begin();
  const auto us = tx.exec(
                        "SELECT (extract(epoch FROM max(date_started)) * 1000000)::bigint AS us"
                        " FROM job WHERE id > $1 AND id < $2",
                        after, before)
                      .at(0)
                      .opt_int("us");
  tx.commit();
  return us.value_or(0);
}

LatencyPhase summarize_phase(std::string name, const Sent& sent, int priority,
                             const std::map<std::int64_t, std::int64_t>& reported,
                             const std::map<std::int64_t, std::int64_t>& date_started) {
  LatencyPhase phase{.phase = std::move(name),
                     .samples = static_cast<int>(sent.ids.size()),
                     .priority = priority};
  std::vector<double> ms, after_claim_ms;
  for (const auto id : sent.ids) {
    const auto own = reported.find(id);
    if (own == reported.end()) {
      throw MeasureFailed("job " + std::to_string(id) +
                          " wrote no start report to the runner's stderr (does this NoopJob "
                          "know report_start?)");
    }
    const double latency = static_cast<double>(own->second - sent.committed_us.at(id)) / 1000.0;
    if (latency < 0) ++phase.negative;
    ms.push_back(latency);
    if (const auto claimed = date_started.find(id); claimed != date_started.end()) {
      after_claim_ms.push_back(static_cast<double>(own->second - claimed->second) / 1000.0);
    }
  }
  phase.ms = summarize(std::move(ms));
  phase.after_claim_ms = summarize(std::move(after_claim_ms));
  return phase;
}

void log_phase(const LatencyPhase& p) {
  spdlog::info("(d) latency, {}: p50 {:.3f} ms, p99 {:.3f} ms, max {:.3f} ms", p.phase, p.ms.p50,
               p.ms.p99, p.ms.max);
}

}  // namespace

Latency measure_latency(MeasureContext& ctx) {
  auto& conn = ctx.conn;
  const int samples = ctx.options.latency_samples;
  const int backlog = ctx.options.jobs;
  const auto& type = noop::noop_job_type().spec.name;
  BenchDatabase::clear_jobs(conn);
  const RunMode mode{.concurrency = kConcurrency};
  Latency result{.runner = mode.label(), .pause_ms = static_cast<int>(kPause.count())};
  auto daemon = ctx.runner.start_daemon(mode, conn);

  spdlog::info("(d) latency: {} jobs one by one, {} ms apart, into an idle {}", samples,
               kPause.count(), mode.label());
  const auto idle = enqueue_samples(ctx, samples, 0);
  wait_until_drained(conn, daemon, type);

  spdlog::info("(d) latency: {} NoopJobs at once, then {} jobs at priority {} one by one", backlog,
               samples, kUrgent);
  enqueue_noop_jobs(conn, ctx.db.foo_id(), backlog, kBacklogBatch, Commit::once);
  const auto busy = enqueue_samples(ctx, samples, kUrgent);
  wait_until_drained(conn, daemon, type);
  stop_daemon(daemon);

  const auto reported = read_start_reports(daemon);
  auto all_ids = idle.ids;
  all_ids.insert(all_ids.end(), busy.ids.begin(), busy.ids.end());
  const auto date_started = read_date_started(conn, all_ids);

  result.phases.push_back(summarize_phase("idle", idle, 0, reported, date_started));
  auto during = summarize_phase("during a drain", busy, kUrgent, reported, date_started);
  during.backlog = backlog;
  const auto backlog_end = last_claim_between(conn, idle.ids.back(), busy.ids.front());
  for (const auto id : busy.ids) {
    if (reported.at(id) < backlog_end) ++during.during_backlog;
  }
  result.phases.push_back(std::move(during));
  for (const auto& p : result.phases) log_phase(p);
  return result;
}

}  // namespace jobrunner::bench
