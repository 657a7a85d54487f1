#include "jobrunner/core/misfire.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <string>

#include "jobrunner/core/errors.hpp"

namespace jobrunner {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

// Occurrences fall on whole minutes, at most one per real minute: a window of
// d seconds holds at most d / 60 + 1 of them.
std::size_t most_in(seconds window) { return static_cast<std::size_t>(window.count() / 60 + 2); }

// The occurrences in [from, upto).
CronSchedule::Occurrences in_window(const CronSchedule& schedule, sys_seconds from,
                                    sys_seconds upto, std::size_t max_count) {
  if (upto <= from) return {};
  return schedule.between(from - seconds(1), upto - seconds(1), max_count);
}

}  // namespace

std::string_view to_string(MisfirePolicy policy) noexcept {
  switch (policy) {
    case MisfirePolicy::skip: return "skip";
    case MisfirePolicy::once: return "once";
    case MisfirePolicy::all: return "all";
  }
  return "once";
}

MisfirePolicy parse_misfire_policy(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "skip") return MisfirePolicy::skip;
  if (lower == "once") return MisfirePolicy::once;
  if (lower == "all") return MisfirePolicy::all;
  throw BadInput("unknown misfire policy '" + std::string(text) +
                 "' (use skip: no missed occurrence; once: the latest missed one; all: every "
                 "missed one, up to the misfire limit)");
}

OccurrencePlan plan_occurrences(const CronSchedule& schedule, sys_seconds next_due,
                                sys_seconds now, MisfirePolicy policy, std::size_t limit,
                                seconds grace) {
  OccurrencePlan plan;
  if (next_due > now) return plan;
  const sys_seconds cutoff = now - std::max(grace, seconds(0));

  // Missed: [next_due, cutoff). The policy keeps the latest `keep` of them;
  // they are found in windows that grow backwards from the cutoff, so a long
  // outage costs no more than the occurrences it looks at.
  if (next_due < cutoff) {
    const std::size_t keep = policy == MisfirePolicy::skip   ? 0
                             : policy == MisfirePolicy::once ? 1
                                                             : std::max<std::size_t>(limit, 1);
    seconds window(60);
    sys_seconds lo = next_due;
    std::vector<sys_seconds> found;
    for (;;) {
      lo = cutoff - window <= next_due ? next_due : cutoff - window;
      found = in_window(schedule, lo, cutoff, most_in(cutoff - lo)).times;
      if (found.size() > keep || lo == next_due) break;
      window *= 2;
    }
    const std::size_t kept_from = found.size() > keep ? found.size() - keep : 0;
    for (std::size_t i = kept_from; i < found.size(); ++i) {
      plan.enqueue.push_back({found[i], true});
    }
    // Left out: found[0, kept_from) and everything in [next_due, lo).
    const auto earlier = in_window(schedule, next_due, lo, static_cast<std::size_t>(kLeftOutCountCap));
    plan.left_out = static_cast<std::int64_t>(earlier.times.size() + kept_from);
    plan.left_out_at_least = earlier.truncated;
    if (plan.left_out > 0) {
      plan.left_out_first = earlier.times.empty() ? found.front() : earlier.times.front();
      plan.left_out_last = kept_from > 0 ? found[kept_from - 1] : earlier.times.back();
    }
  }

  // On time: [max(next_due, cutoff), now]; at most a day of minutes (the
  // grace is at most a day).
  const sys_seconds on_time_from = std::max(next_due, cutoff);
  for (const auto at : schedule.between(on_time_from - seconds(1), now, most_in(now - on_time_from)).times) {
    plan.enqueue.push_back({at, false});
  }
  return plan;
}

}  // namespace jobrunner

namespace jobrunner {

std::string format_instant(std::chrono::sys_seconds instant) {
  const std::time_t t = instant.time_since_epoch().count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[40];
  const auto n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buffer, n);
}

std::string caught_up_note(MisfirePolicy policy) {
  return " (missed; caught up by misfire policy " + std::string(to_string(policy)) + ")";
}

std::string describe_left_out(std::int64_t left_out, bool at_least, std::chrono::sys_seconds first,
                              std::chrono::sys_seconds last) {
  return "left out " + std::string(at_least ? "at least " : "") + std::to_string(left_out) +
         " missed occurrence" + (left_out == 1 && !at_least ? "" : "s") + " from " +
         format_instant(first) + " to " + format_instant(last);
}

}  // namespace jobrunner
