#include "jobrunner/core/cron_schedule.hpp"

#include <date/tz.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "jobrunner/core/errors.hpp"

namespace jobrunner {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::sys_seconds;
using LocalMinutes = date::local_time<minutes>;

// No zone's offset has ever changed by more than this at once: a local
// minute this far before the local time of an instant maps to an earlier
// instant under any offset in effect around it.
constexpr minutes kLargestOffsetChange = hours(3);

constexpr days kGregorianCycle{146097};  // 400 years
static_assert(CronSchedule::kSearchYears == 400, "kGregorianCycle is 400 years");

// The occurrences of the local minute `local` (the expression matches it),
// as the header describes: none, one, or two (a repeated minute of a job
// whose hour is not fixed).
struct Resolved {
  std::optional<sys_seconds> first;
  std::optional<sys_seconds> second;
};

Resolved resolve(const date::time_zone& zone, LocalMinutes local, bool fixed_hour) {
  const date::local_seconds at = local;
  const date::local_info info = zone.get_info(at);
  const sys_seconds as_first{at.time_since_epoch() - info.first.offset};
  switch (info.result) {
    case date::local_info::unique:
      return {as_first, std::nullopt};
    case date::local_info::nonexistent:
      // The first instant after the gap (its wall clock reads the end of the gap).
      if (fixed_hour) return {info.second.begin, std::nullopt};
      return {};
    case date::local_info::ambiguous:
      if (fixed_hour) return {as_first, std::nullopt};
      return {as_first, sys_seconds{at.time_since_epoch() - info.second.offset}};
  }
  return {};
}

// The first occurrence after `after` whose local date is at most
// `last_day`, or none. Local minutes are visited in order; an occurrence's
// first instant grows with its local minute (a skipped minute maps to the end
// of its gap), so the first one after `after` ends the search, except that a
// second pass of an earlier repeated minute may come before it.
std::optional<sys_seconds> first_after(const CronExpression& expression,
                                       const date::time_zone& zone, sys_seconds after,
                                       date::local_days last_day) {
  const std::chrono::seconds offset = zone.get_info(after).offset;
  const LocalMinutes start =
      std::chrono::floor<minutes>(date::local_seconds{after.time_since_epoch() + offset}) -
      kLargestOffsetChange;
  const bool fixed_hour = expression.has_fixed_hour();
  std::optional<sys_seconds> second_pass;
  const auto earliest = [&second_pass](sys_seconds first) {
    return second_pass ? std::min(first, *second_pass) : first;
  };
  for (date::local_days day = std::chrono::floor<days>(start); day <= last_day; day += days(1)) {
    if (!expression.matches_day(std::chrono::year_month_day{
            std::chrono::sys_days{day.time_since_epoch()}})) {
      continue;
    }
    for (int hour = 0; hour < 24; ++hour) {
      if (!expression.matches_hour(hour)) continue;
      for (int minute = 0; minute < 60; ++minute) {
        if (!expression.matches_minute(minute)) continue;
        const LocalMinutes local = day + hours(hour) + minutes(minute);
        if (local < start) continue;
        const Resolved resolved = resolve(zone, local, fixed_hour);
        if (resolved.second && *resolved.second > after) {
          second_pass = second_pass ? std::min(*second_pass, *resolved.second) : *resolved.second;
        }
        if (resolved.first && *resolved.first > after) return earliest(*resolved.first);
      }
    }
  }
  return second_pass;
}

}  // namespace

CronSchedule::CronSchedule(CronExpression expression, TimeZone zone)
    : expression_(std::move(expression)), zone_(zone) {}

CronSchedule CronSchedule::parse(std::string_view expression, std::string_view zone_name) {
  CronExpression parsed = CronExpression::parse(expression);
  return CronSchedule(std::move(parsed), TimeZone::named(zone_name));
}

sys_seconds CronSchedule::next_after(sys_seconds after) const {
  const std::chrono::seconds offset = zone_.zone().get_info(after).offset;
  const date::local_days last_day =
      std::chrono::floor<days>(date::local_seconds{after.time_since_epoch() + offset}) +
      kGregorianCycle;
  if (const auto next = first_after(expression_, zone_.zone(), after, last_day)) return *next;
  throw BadSchedule("cron expression \"" + expression_.text() + "\" in time zone " +
                    zone_.name() + " has no occurrence within " + std::to_string(kSearchYears) +
                    " years after " + zone_.format(after));
}

std::vector<sys_seconds> CronSchedule::next_n(sys_seconds after, std::size_t count) const {
  std::vector<sys_seconds> out;
  out.reserve(count);
  for (sys_seconds at = after; out.size() < count;) {
    at = next_after(at);
    out.push_back(at);
  }
  return out;
}

CronSchedule::Occurrences CronSchedule::between(sys_seconds after, sys_seconds upto,
                                                std::size_t max_count) const {
  Occurrences out;
  if (upto <= after) return out;
  // No occurrence at or before `upto` has a later local date than this.
  const std::chrono::seconds offset = zone_.zone().get_info(upto).offset;
  const date::local_days last_day = std::chrono::floor<days>(
      date::local_seconds{upto.time_since_epoch() + offset} + kLargestOffsetChange);
  for (sys_seconds at = after;;) {
    const auto next = first_after(expression_, zone_.zone(), at, last_day);
    if (!next || *next > upto) return out;
    if (out.times.size() == max_count) {
      out.truncated = true;
      return out;
    }
    out.times.push_back(*next);
    at = *next;
  }
}

std::optional<sys_seconds> CronSchedule::latest_at_or_before(sys_seconds upto,
                                                             std::chrono::seconds lookback) const {
  std::chrono::seconds window = std::chrono::hours(1);
  for (sys_seconds after = upto;;) {
    const auto from = upto - std::min(window, lookback);
    // (from, after]: the part of this window that the last one did not look at.
    const auto found = between(from, after, std::numeric_limits<std::size_t>::max());
    if (!found.times.empty()) return found.times.back();
    if (window >= lookback) return std::nullopt;
    after = from;
    window *= 2;
  }
}

}  // namespace jobrunner
