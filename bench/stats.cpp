#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace jobrunner::bench {

double percentile(const std::vector<double>& sorted, double p) {
  const auto n = static_cast<double>(sorted.size());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * n));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

Summary summarize(std::vector<double> values) {
  Summary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.count = values.size();
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(s.count);
  s.min = values.front();
  s.p50 = percentile(values, 50);
  s.p99 = percentile(values, 99);
  s.max = values.back();
  return s;
}

double per_second(double count, double seconds) { return seconds > 0 ? count / seconds : 0; }

}  // namespace jobrunner::bench
