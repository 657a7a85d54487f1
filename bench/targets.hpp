#pragma once
// The performance targets, judged on the figures of one run. A missed target
// is a finding, not an error: the bench still exits 0.

#include <optional>
#include <string>
#include <vector>

#include "results.hpp"

namespace jobrunner::bench {

struct Target {
  enum class Need { at_least, below, at_most };
  std::string name;         // "drain vs SQL limit"
  std::string requirement;  // "daemon c16 in-process >= 50% of the batched SQL limit"
  std::string figures;      // "12000 vs 20000 jobs/s"; empty when not measured
  std::optional<double> ratio;  // nullopt: a figure it needs was not measured
  Need need = Need::at_least;
  double limit = 1;

  // "PASS", "MISS" or "n/a".
  std::string verdict() const;
  // "0.620 (needs >= 0.50)".
  std::string ratio_text() const;
};

std::vector<Target> evaluate_targets(const Results& results);

}  // namespace jobrunner::bench
