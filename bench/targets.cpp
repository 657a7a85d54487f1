#include "targets.hpp"

#include <fmt/format.h>

namespace jobrunner::bench {
namespace {

const DrainRow* measured_row(const Results& results, const std::string& label) {
  const auto* row = results.drain_row(label);
  return row != nullptr && !row->error ? row : nullptr;
}

// measured / reference must be at least `limit`.
Target share_of(std::string name, std::string requirement, const DrainRow* measured,
                std::optional<double> reference, const std::string& reference_name, double limit) {
  Target t{.name = std::move(name), .requirement = std::move(requirement),
           .need = Target::Need::at_least, .limit = limit};
  if (measured != nullptr && reference && *reference > 0) {
    t.ratio = measured->jobs_per_s / *reference;
    t.figures = fmt::format("{} {:.0f} vs {} {:.0f} jobs/s", measured->label,
                            measured->jobs_per_s, reference_name, *reference);
  }
  return t;
}

// value / limit must be below 1.
Target below(std::string name, std::string requirement, std::optional<double> value,
             double limit, const std::string& unit) {
  Target t{.name = std::move(name), .requirement = std::move(requirement),
           .need = Target::Need::below, .limit = 1};
  if (value) {
    t.ratio = *value / limit;
    t.figures = fmt::format("{:.3f} {} vs {} {}", *value, unit, limit, unit);
  }
  return t;
}

}  // namespace

std::string Target::verdict() const {
  if (!ratio) return "n/a";
  switch (need) {
    case Need::at_least: return *ratio >= limit ? "PASS" : "MISS";
    case Need::below: return *ratio < limit ? "PASS" : "MISS";
    case Need::at_most: return *ratio <= limit ? "PASS" : "MISS";
  }
  return "n/a";
}

std::string Target::ratio_text() const {
  const char* op = need == Need::at_least ? ">=" : need == Need::below ? "<" : "<=";
  // Three decimals, so that a ratio just short of its limit does not print
  // as equal to it.
  if (!ratio) return fmt::format("- (needs {} {:.2f})", op, limit);
  return fmt::format("{:.3f} (needs {} {:.2f})", *ratio, op, limit);
}

std::vector<Target> evaluate_targets(const Results& r) {
  std::vector<Target> targets;
  const auto* c1 = measured_row(r, drain_label(true, 1, false));
  const auto* c16 = measured_row(r, drain_label(true, kPeakRssConcurrency, false));
  const auto* cron = measured_row(r, drain_label(false, 1, false));

  std::optional<double> batched;
  if (r.sql_limit) batched = r.sql_limit->batched_jobs_per_s;
  targets.push_back(share_of("daemon throughput",
                             "daemon c16 in-process >= 50% of the batched SQL limit (b/a)", c16,
                             batched, "SQL batched", 0.5));
  std::optional<double> c1_rate;
  if (c1 != nullptr) c1_rate = c1->jobs_per_s;
  targets.push_back(share_of("cron throughput", "cron >= 80% of daemon c1 in-process (b)", cron,
                             c1_rate, c1 != nullptr ? c1->label : "daemon c1", 0.8));

  std::optional<double> p50, p99;
  if (r.latency) {
    p50 = r.latency->ms.p50;
    p99 = r.latency->ms.p99;
  }
  targets.push_back(below("latency p50", "enqueue-to-start p50 < 5 ms (d)", p50, 5, "ms"));
  targets.push_back(below("latency p99", "enqueue-to-start p99 < 25 ms (d)", p99, 25, "ms"));

  std::optional<double> tick;
  if (r.idle_tick) tick = r.idle_tick->ms.p50;
  targets.push_back(below("idle tick", "idle cron run p50 < 20 ms (e)", tick, 20, "ms"));

  Target claim{.name = "claim scaling",
               .requirement = "claim p50 with the large table within 1.5x of the small (f)",
               .need = Target::Need::at_most,
               .limit = 1.5};
  if (r.claim_scaling && r.claim_scaling->sizes.size() >= 2) {
    const auto& small = r.claim_scaling->sizes.front();
    const auto& large = r.claim_scaling->sizes.back();
    claim.ratio = r.claim_scaling->p50_ratio;
    claim.figures = fmt::format("{:.3f} ms at {} rows vs {:.3f} ms at {} rows", large.ms.p50,
                                large.finished_rows, small.ms.p50, small.finished_rows);
  }
  targets.push_back(std::move(claim));

  std::optional<double> rss;
  if (c16 != nullptr) rss = c16->peak_rss_mb;
  targets.push_back(below("peak RSS", "daemon c16 in-process peak RSS < 30 MB (g)", rss, 30, "MB"));
  return targets;
}

}  // namespace jobrunner::bench
