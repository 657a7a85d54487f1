#pragma once
// What a runner did, counted as it happens, for /metrics and the textfile of
// a cron run (docs/metrics.md). One per Runner, so per job type. Every
// counter is an atomic written with relaxed order: the dispatcher adds a
// claim's jobs once per claim, the completer a written batch's ends once
// per batch, a worker one observation per attempt (no lock on the hot
// path). A reader (a scrape, on another thread) takes a snapshot; its
// figures are each exact but need not be of one instant.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace jobrunner {

// The upper bounds, in seconds, of the buckets of a run's duration: from a
// no-op job's microseconds to an hour-long report.
inline constexpr std::array<double, 16> kRunDurationBuckets = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600};

struct RunnerMetricsSnapshot {
  std::uint64_t claimed = 0;    // jobs claimed (RUNNING, attempt counted)
  std::uint64_t completed = 0;  // COMPLETED recorded
  std::uint64_t failed = 0;     // FAILED recorded (also retries spent, user errors)
  std::uint64_t retried = 0;    // WAITING again after a failed attempt, to run again
  std::uint64_t suspended = 0;  // SUSPENDED at the job's request
  std::uint64_t rescued = 0;    // expired leases of dead runners' jobs, rescued
  std::uint64_t lease_lost = 0; // attempts whose end was refused or abandoned: the lease was lost
  // Attempts timed (in this process or a child), how many took at most each
  // of kRunDurationBuckets (cumulative), and their total time.
  std::uint64_t runs = 0;
  std::array<std::uint64_t, kRunDurationBuckets.size()> run_buckets{};
  double run_seconds = 0;
  // The end of the last claim-and-flush transaction that committed (an idle
  // daemon makes one every --poll-interval), seconds since the Unix epoch.
  std::optional<double> last_pass_unix_seconds;
};

class RunnerMetrics {
 public:
  void add_claimed(std::uint64_t n) { claimed_.fetch_add(n, std::memory_order_relaxed); }
  void add_ended(std::uint64_t completed, std::uint64_t failed, std::uint64_t retried,
                 std::uint64_t suspended, std::uint64_t lease_lost);
  void add_rescued(std::uint64_t n) { rescued_.fetch_add(n, std::memory_order_relaxed); }
  void observe_run(std::chrono::nanoseconds took);
  // A pass committed now.
  void passed();

  RunnerMetricsSnapshot snapshot() const;

 private:
  std::atomic<std::uint64_t> claimed_{0}, completed_{0}, failed_{0}, retried_{0}, suspended_{0},
      rescued_{0}, lease_lost_{0}, runs_{0}, run_nanoseconds_{0};
  // Not cumulative: each observation adds to the first bucket that holds it
  // (none past the last bound); snapshot() sums them up.
  std::array<std::atomic<std::uint64_t>, kRunDurationBuckets.size()> run_buckets_{};
  std::atomic<std::int64_t> last_pass_unix_ns_{0};  // 0: none yet
};

}  // namespace jobrunner
