#pragma once
// A cron expression in a time zone: the instants (UTC) at which it fires.
// Pure: every instant is an argument, nothing reads the clock.
//
// The expression matches local wall-clock minutes of the zone. Each matching
// local minute M becomes an occurrence as ISC/Vixie cron runs it across
// daylight-saving changes, with "fixed time" meaning the hour field does not
// start with `*` (CronExpression::has_fixed_hour(): `2`, `1,2`, `1-3`, even
// `0-23`; whereas `*` and `*/2` are not fixed):
//   - M exists once: the instant M has.
//   - M is skipped (spring forward, e.g. 02:30 in Europe/Berlin on the last
//     Sunday of March): a fixed-time job runs at the first instant after the
//     gap (03:00 local), once, however many of its minutes fell in the gap
//     (they all map to that one instant, as does 03:00 itself); a job whose
//     hour is `*` or a step has no occurrence there (the minute does not exist,
//     and its hours on either side run as usual).
//   - M happens twice (fall back, e.g. 02:30 on the last Sunday of October): a
//     fixed-time job runs once, at the first of the two; a job whose hour is
//     `*` or a step runs at both (so `30 * * * *` still runs every real hour).
// Unlike ISC cron, a `*` minute does not make a job "wildcard": `* 2 * * *`
// is fixed-time (it runs at 03:00 once on the spring-forward day, and during
// the first 02:00-02:59 only on the fall-back day).
//
// Dates that never exist simply never match. A search runs at most
// kSearchYears local years ahead (a whole Gregorian cycle, so every
// expression that CronExpression::parse accepts is found well before), then
// throws BadSchedule rather than loop.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "jobrunner/core/cron_expression.hpp"
#include "jobrunner/core/time_zone.hpp"

namespace jobrunner {

class CronSchedule {
 public:
  static constexpr int kSearchYears = 400;
  // The bound on a catch-up of every missed occurrence (misfire policy `all`).
  static constexpr std::size_t kDefaultMaxOccurrences = 100;

  CronSchedule(CronExpression expression, TimeZone zone);
  // Parses both; throws BadSchedule naming the field or the zone.
  static CronSchedule parse(std::string_view expression, std::string_view zone_name);

  const CronExpression& expression() const noexcept { return expression_; }
  const TimeZone& zone() const noexcept { return zone_; }

  // The first occurrence strictly after `after`.
  std::chrono::sys_seconds next_after(std::chrono::sys_seconds after) const;

  // The first `count` occurrences strictly after `after`, in order.
  std::vector<std::chrono::sys_seconds> next_n(std::chrono::sys_seconds after,
                                               std::size_t count) const;

  // The occurrences in (after, upto], in order, at most `max_count` of them
  // (the earliest); `truncated` says that more were left out.
  struct Occurrences {
    std::vector<std::chrono::sys_seconds> times;
    bool truncated = false;
  };
  Occurrences between(std::chrono::sys_seconds after, std::chrono::sys_seconds upto,
                      std::size_t max_count = kDefaultMaxOccurrences) const;

  // The latest occurrence at or before `upto` and after `upto - lookback`;
  // nullopt when there is none in that span. Looks backwards in windows
  // that double from an hour, so a frequent schedule costs little.
  std::optional<std::chrono::sys_seconds> latest_at_or_before(std::chrono::sys_seconds upto,
                                                              std::chrono::seconds lookback) const;

 private:
  CronExpression expression_;
  TimeZone zone_;
};

}  // namespace jobrunner
