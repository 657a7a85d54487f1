#include "jobrunner/app/metrics.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <spdlog/spdlog.h>

#include "jobrunner/core/errors.hpp"

namespace jobrunner::app {
namespace {

using metrics::Family;
using metrics::Kind;

metrics::Labels type_label(const std::string& job_type) { return {{"job_type", job_type}}; }

Family one(std::string name, std::string help, Kind kind, const std::string& job_type,
           double value) {
  return {std::move(name), std::move(help), kind, {{type_label(job_type), value}}, {}};
}

// The seven counts, by the suffix of their names and what they count.
struct Count {
  const char* name;
  const char* help;
  std::uint64_t RunnerMetricsSnapshot::*field;
};
constexpr Count kCounts[] = {
    {"claimed", "jobs claimed (RUNNING, attempt counted; prefetched ones included)",
     &RunnerMetricsSnapshot::claimed},
    {"completed", "jobs recorded COMPLETED", &RunnerMetricsSnapshot::completed},
    {"failed", "jobs recorded FAILED (errors, user errors, retries spent)",
     &RunnerMetricsSnapshot::failed},
    {"retried", "failed attempts queued again (WAITING) to be retried",
     &RunnerMetricsSnapshot::retried},
    {"suspended", "jobs recorded SUSPENDED at their own request",
     &RunnerMetricsSnapshot::suspended},
    {"rescued", "jobs of dead runners rescued after their lease expired",
     &RunnerMetricsSnapshot::rescued},
    {"lease_lost",
     "attempts whose end was not recorded because their lease was lost (refused or abandoned)",
     &RunnerMetricsSnapshot::lease_lost},
};

}  // namespace

double unix_seconds_now() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(now).count();
}

std::vector<Family> runner_families(const std::string& job_type,
                                    const RunnerMetricsSnapshot& counts,
                                    double started_unix_seconds) {
  std::vector<Family> out;
  for (const auto& c : kCounts) {
    out.push_back(one(std::string("jobrunner_jobs_") + c.name + "_total",
                      std::string("Since the runner started: ") + c.help + ".", Kind::counter,
                      job_type, static_cast<double>(counts.*c.field)));
  }
  metrics::HistogramSample runs{type_label(job_type), {}, counts.run_seconds, counts.runs};
  for (std::size_t i = 0; i < kRunDurationBuckets.size(); ++i) {
    runs.buckets.emplace_back(kRunDurationBuckets[i], counts.run_buckets[i]);
  }
  out.push_back({"jobrunner_job_run_duration_seconds",
                 "How long each attempt ran, from its start to its end, in seconds.",
                 Kind::histogram,
                 {},
                 {std::move(runs)}});
  if (counts.last_pass_unix_seconds) {
    out.push_back(one("jobrunner_runner_last_pass_timestamp_seconds",
                      "When the runner's last claim-and-flush transaction committed (an idle "
                      "daemon makes one every --poll-interval), in seconds since the epoch.",
                      Kind::gauge, job_type, *counts.last_pass_unix_seconds));
  }
  out.push_back(one("jobrunner_runner_start_timestamp_seconds",
                    "When the runner started, in seconds since the epoch.", Kind::gauge, job_type,
                    started_unix_seconds));
  return out;
}

std::vector<Family> run_families(const std::string& job_type, const RunnerMetricsSnapshot& counts,
                                 const RunFigures& run) {
  std::vector<Family> out;
  for (const auto& c : kCounts) {
    out.push_back(one(std::string("jobrunner_run_jobs_") + c.name,
                      std::string("In the last cron run: ") + c.help + ".", Kind::gauge, job_type,
                      static_cast<double>(counts.*c.field)));
  }
  out.push_back(one("jobrunner_run_busy_seconds",
                    "In the last cron run: the time its attempts ran, added up, in seconds.",
                    Kind::gauge, job_type, counts.run_seconds));
  out.push_back(one("jobrunner_run_start_timestamp_seconds",
                    "When the last cron run started, in seconds since the epoch.", Kind::gauge,
                    job_type, run.started_unix_seconds));
  out.push_back(one("jobrunner_run_end_timestamp_seconds",
                    "When the last cron run ended, in seconds since the epoch.", Kind::gauge,
                    job_type, run.ended_unix_seconds));
  out.push_back(one("jobrunner_run_exit_code",
                    "The exit code of the last cron run (0: ok, 69: another run held the lock, "
                    "75: database unavailable; docs/exit-codes.md).",
                    Kind::gauge, job_type, run.exit_code));
  if (counts.last_pass_unix_seconds) {
    out.push_back(one("jobrunner_runner_last_pass_timestamp_seconds",
                      "When the runner's last claim-and-flush transaction committed, in seconds "
                      "since the epoch.",
                      Kind::gauge, job_type, *counts.last_pass_unix_seconds));
  }
  return out;
}

std::vector<Family> queue_families(const std::vector<pg::QueueDepth>& depths,
                                   double read_unix_seconds) {
  Family jobs{"jobrunner_queue_jobs",
              "Unfinished jobs by status (WAITING, RUNNING, SUSPENDED), counted exactly from "
              "their partial indexes.",
              Kind::gauge, {}, {}};
  Family ready{"jobrunner_queue_ready_jobs",
               "WAITING jobs that are due now (no future scheduled_start, no live lease).",
               Kind::gauge, {}, {}};
  Family lag{"jobrunner_queue_lag_seconds",
             "How long the oldest ready job has been ready, in seconds (0: none is ready).",
             Kind::gauge, {}, {}};
  for (const auto& d : depths) {
    const std::pair<const char*, std::int64_t> by_status[] = {
        {"WAITING", d.waiting}, {"RUNNING", d.running}, {"SUSPENDED", d.suspended}};
    for (const auto& [status, n] : by_status) {
      jobs.samples.push_back({{{"job_type", d.job_type}, {"status", status}},
                              static_cast<double>(n)});
    }
    ready.samples.push_back({type_label(d.job_type), static_cast<double>(d.ready)});
    const double age = d.oldest_ready_age
                           ? std::chrono::duration<double>(*d.oldest_ready_age).count()
                           : 0.0;
    lag.samples.push_back({type_label(d.job_type), age});
  }
  Family read{"jobrunner_queue_read_timestamp_seconds",
              "When the queue figures were read from the database, in seconds since the epoch.",
              Kind::gauge,
              {{{}, read_unix_seconds}},
              {}};
  return {std::move(jobs), std::move(ready), std::move(lag), std::move(read)};
}

QueueMetrics::QueueMetrics(std::string conninfo, std::string job_type, Duration interval)
    : conninfo_(std::move(conninfo)), job_type_(std::move(job_type)), interval_(interval) {}

std::vector<Family> QueueMetrics::families() {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  if (!next_read_ || now >= *next_read_) {
    next_read_ = now + interval_;
    try {
      if (!conn_) conn_.emplace(pg::Connection::open(conninfo_));
      auto tx = conn_->begin();
      depths_ = pg::queue_depths(tx, job_type_, {job_type_});
      tx.commit();
      read_at_ = unix_seconds_now();
    } catch (const std::exception& e) {
      conn_.reset();  // opened again at the next read
      spdlog::warn("metrics: cannot read the queue depths of job type '{}' (serving the last "
                   "figures, read again in {}): {}",
                   job_type_, format_duration(interval_), e.what());
    }
  }
  if (!read_at_) return {};
  return queue_families(depths_, *read_at_);
}

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temp = path + "." + std::to_string(getpid()) + ".tmp";
  const auto refuse = [&](const std::string& what) {
    const std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    throw ConfigError("cannot write the metrics file " + path + ": " + what + " " + temp +
                      ": " + why);
  };
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) refuse("cannot create");
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      refuse("cannot write");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    refuse("cannot flush");
  }
  if (::close(fd) != 0) refuse("cannot close");
  if (std::rename(temp.c_str(), path.c_str()) != 0) refuse("cannot rename");
}

}  // namespace jobrunner::app
