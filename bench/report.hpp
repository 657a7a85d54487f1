#pragma once
// The two views of one run's figures: a readable report for the terminal and
// JSON for tools (and for docs/performance.md). Both show the same figures.

#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "results.hpp"
#include "targets.hpp"

namespace jobrunner::bench {

void print_report(std::ostream& out, const Results& results, const std::vector<Target>& targets);

nlohmann::ordered_json report_json(const Results& results, const std::vector<Target>& targets);

}  // namespace jobrunner::bench
