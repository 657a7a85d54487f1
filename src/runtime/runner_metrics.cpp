#include "jobrunner/runtime/runner_metrics.hpp"

#include <algorithm>

namespace jobrunner {
namespace {

void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
  if (n != 0) counter.fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t load(const std::atomic<std::uint64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

}  // namespace

void RunnerMetrics::add_ended(std::uint64_t completed, std::uint64_t failed,
                              std::uint64_t retried, std::uint64_t suspended,
                              std::uint64_t lease_lost) {
  add(completed_, completed);
  add(failed_, failed);
  add(retried_, retried);
  add(suspended_, suspended);
  add(lease_lost_, lease_lost);
}

void RunnerMetrics::observe_run(std::chrono::nanoseconds took) {
  const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(took.count(), 0));
  const double seconds = static_cast<double>(ns) / 1e9;
  const auto* bound =
      std::lower_bound(kRunDurationBuckets.begin(), kRunDurationBuckets.end(), seconds);
  if (bound != kRunDurationBuckets.end()) {
    run_buckets_[static_cast<std::size_t>(bound - kRunDurationBuckets.begin())].fetch_add(
        1, std::memory_order_relaxed);
  }
  run_nanoseconds_.fetch_add(ns, std::memory_order_relaxed);
  runs_.fetch_add(1, std::memory_order_relaxed);
}

void RunnerMetrics::passed() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  last_pass_unix_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count(),
                           std::memory_order_relaxed);
}

RunnerMetricsSnapshot RunnerMetrics::snapshot() const {
  RunnerMetricsSnapshot s;
  s.claimed = load(claimed_);
  s.completed = load(completed_);
  s.failed = load(failed_);
  s.retried = load(retried_);
  s.suspended = load(suspended_);
  s.rescued = load(rescued_);
  s.lease_lost = load(lease_lost_);
  // The buckets first, then the count: an observation in between counts in
  // +Inf only, so every bucket stays at or below the count.
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < run_buckets_.size(); ++i) {
    cumulative += load(run_buckets_[i]);
    s.run_buckets[i] = cumulative;
  }
  s.run_seconds = static_cast<double>(load(run_nanoseconds_)) / 1e9;
  s.runs = std::max(load(runs_), cumulative);
  if (const auto ns = last_pass_unix_ns_.load(std::memory_order_relaxed); ns != 0) {
    s.last_pass_unix_seconds = static_cast<double>(ns) / 1e9;
  }
  return s;
}

}  // namespace jobrunner
