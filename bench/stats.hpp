#pragma once
// Timing and summaries shared by every measure.

#include <chrono>
#include <cstddef>
#include <vector>

namespace jobrunner::bench {

// Wall time on the monotonic clock since construction (or restart()).
class Stopwatch {
 public:
  Stopwatch() : start_(Clock::now()) {}
  void restart() { start_ = Clock::now(); }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  double milliseconds() const { return seconds() * 1000.0; }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_;
};

struct Summary {
  std::size_t count = 0;
  double mean = 0;
  double min = 0;
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};

// The p-th percentile (0 < p <= 100) by nearest rank: always one of the
// measured values. `sorted` must be sorted and non-empty.
double percentile(const std::vector<double>& sorted, double p);

// Summary of the values (any order); all zero when there are none.
Summary summarize(std::vector<double> values);

// count / seconds; 0 when no time passed.
double per_second(double count, double seconds);

}  // namespace jobrunner::bench
