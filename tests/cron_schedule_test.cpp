// Occurrences of cron schedules in time zones: daylight saving in both
// directions, leap days, dates that never exist, bounded enumeration (pure:
// every instant is an argument; nothing reads the clock or the TZ variable).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "jobrunner/core/cron_schedule.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/core/time_zone.hpp"
#include "utc_time.hpp"

namespace jobrunner {
namespace {

using std::chrono::sys_seconds;
using namespace std::chrono_literals;

using testing::utc;

// The next `n` occurrences after `after`, as local times of the zone.
std::vector<std::string> next_local(const char* expression, const char* zone, sys_seconds after,
                                    std::size_t n) {
  const CronSchedule schedule = CronSchedule::parse(expression, zone);
  std::vector<std::string> out;
  for (sys_seconds at : schedule.next_n(after, n)) out.push_back(schedule.zone().format(at));
  return out;
}

using Times = std::vector<std::string>;

// ---- time zones ----------------------------------------------------------

TEST(TimeZone, formats_an_instant_as_local_time_with_offset_and_abbreviation) {
  EXPECT_EQ(TimeZone::named("Europe/Berlin").format(utc(2025, 1, 15, 12)),
            "2025-01-15 13:00:00+01:00 CET");
  EXPECT_EQ(TimeZone::named("Europe/Berlin").format(utc(2025, 7, 15, 12)),
            "2025-07-15 14:00:00+02:00 CEST");
  EXPECT_EQ(TimeZone::named("America/New_York").format(utc(2025, 7, 15, 12)),
            "2025-07-15 08:00:00-04:00 EDT");
  EXPECT_EQ(TimeZone::utc().format(utc(2025, 7, 15, 12, 34, 56)),
            "2025-07-15 12:34:56+00:00 UTC");
  EXPECT_EQ(TimeZone::named("Europe/Berlin").name(), "Europe/Berlin");
}

TEST(TimeZone, links_name_their_zone) {
  const TimeZone eastern = TimeZone::named("US/Eastern");
  EXPECT_EQ(eastern.format(utc(2025, 1, 15, 12)), "2025-01-15 07:00:00-05:00 EST");
}

TEST(TimeZone, refuses_an_unknown_zone_naming_it) {
  for (const char* name : {"Europe/Berln", "Mars/Olympus_Mons", "", "../../etc/passwd"}) {
    SCOPED_TRACE(name);
    try {
      TimeZone::named(name);
      ADD_FAILURE() << "accepted";
    } catch (const BadSchedule& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("unknown time zone \"" + std::string(name) + "\""),
                std::string::npos)
          << message;
      EXPECT_NE(message.find("/usr/share/zoneinfo"), std::string::npos) << message;
    }
  }
  EXPECT_THROW(CronSchedule::parse("0 0 * * *", "Europe/Berln"), BadSchedule);
  EXPECT_THROW(CronSchedule::parse("0 25 * * *", "UTC"), BadSchedule);
}

// ---- basics --------------------------------------------------------------

TEST(CronSchedule, the_next_occurrence_is_strictly_after_the_instant) {
  const auto s = CronSchedule::parse("*/15 * * * *", "UTC");
  EXPECT_EQ(s.next_after(utc(2025, 6, 1, 10, 0)), utc(2025, 6, 1, 10, 15));
  EXPECT_EQ(s.next_after(utc(2025, 6, 1, 10, 14, 59)), utc(2025, 6, 1, 10, 15));
  EXPECT_EQ(s.next_after(utc(2025, 6, 1, 10, 15)), utc(2025, 6, 1, 10, 30));
  EXPECT_EQ(s.next_after(utc(2025, 6, 1, 23, 50)), utc(2025, 6, 2, 0, 0));
  EXPECT_EQ(s.next_after(utc(2025, 12, 31, 23, 45)), utc(2026, 1, 1, 0, 0));
}

TEST(CronSchedule, local_times_follow_the_zone) {
  // 09:00 on weekdays in New York is 14:00 UTC in winter, 13:00 in summer.
  const auto s = CronSchedule::parse("0 9 * * mon-fri", "America/New_York");
  EXPECT_EQ(s.next_after(utc(2025, 1, 10, 0)), utc(2025, 1, 10, 14));  // a Friday
  EXPECT_EQ(s.next_after(utc(2025, 1, 10, 14)), utc(2025, 1, 13, 14));
  EXPECT_EQ(s.next_after(utc(2025, 7, 1, 0)), utc(2025, 7, 1, 13));
  // Midnight in Berlin is the previous evening in UTC.
  EXPECT_EQ(CronSchedule::parse("@daily", "Europe/Berlin").next_after(utc(2025, 7, 1, 12)),
            utc(2025, 7, 1, 22));
}

TEST(CronSchedule, macros_fire_when_their_fields_say) {
  const sys_seconds after = utc(2025, 6, 11, 10, 30);  // a Wednesday
  EXPECT_EQ(next_local("@hourly", "UTC", after, 2),
            (Times{"2025-06-11 11:00:00+00:00 UTC", "2025-06-11 12:00:00+00:00 UTC"}));
  EXPECT_EQ(next_local("@daily", "UTC", after, 1), (Times{"2025-06-12 00:00:00+00:00 UTC"}));
  EXPECT_EQ(next_local("@midnight", "UTC", after, 1), (Times{"2025-06-12 00:00:00+00:00 UTC"}));
  EXPECT_EQ(next_local("@weekly", "UTC", after, 2),
            (Times{"2025-06-15 00:00:00+00:00 UTC", "2025-06-22 00:00:00+00:00 UTC"}));
  EXPECT_EQ(next_local("@monthly", "UTC", after, 2),
            (Times{"2025-07-01 00:00:00+00:00 UTC", "2025-08-01 00:00:00+00:00 UTC"}));
  EXPECT_EQ(next_local("@yearly", "UTC", after, 2),
            (Times{"2026-01-01 00:00:00+00:00 UTC", "2027-01-01 00:00:00+00:00 UTC"}));
  EXPECT_EQ(next_local("@annually", "UTC", after, 1), (Times{"2026-01-01 00:00:00+00:00 UTC"}));
}

TEST(CronSchedule, month_and_weekday_names) {
  EXPECT_EQ(next_local("0 8 * JAN,jul Mon", "UTC", utc(2025, 6, 1), 3),
            (Times{"2025-07-07 08:00:00+00:00 UTC", "2025-07-14 08:00:00+00:00 UTC",
                   "2025-07-21 08:00:00+00:00 UTC"}));
  EXPECT_EQ(next_local("0 8 * dec sat-sun", "UTC", utc(2025, 6, 1), 2),
            (Times{"2025-12-06 08:00:00+00:00 UTC", "2025-12-07 08:00:00+00:00 UTC"}));
}

TEST(CronSchedule, day_of_month_or_day_of_week) {
  // Friday the 13th fires once, not twice.
  EXPECT_EQ(next_local("0 0 13 * fri", "UTC", utc(2025, 6, 1), 6),
            (Times{"2025-06-06 00:00:00+00:00 UTC", "2025-06-13 00:00:00+00:00 UTC",
                   "2025-06-20 00:00:00+00:00 UTC", "2025-06-27 00:00:00+00:00 UTC",
                   "2025-07-04 00:00:00+00:00 UTC", "2025-07-11 00:00:00+00:00 UTC"}));
  EXPECT_EQ(next_local("0 0 13 * fri", "UTC", utc(2025, 7, 11), 2),
            (Times{"2025-07-13 00:00:00+00:00 UTC", "2025-07-18 00:00:00+00:00 UTC"}));
  // With a star-led weekday both must match: Sunday the 13th.
  EXPECT_EQ(next_local("0 0 13 * */7", "UTC", utc(2025, 6, 14), 2),
            (Times{"2025-07-13 00:00:00+00:00 UTC", "2026-09-13 00:00:00+00:00 UTC"}));
  EXPECT_EQ(next_local("0 0 * * 5", "UTC", utc(2025, 6, 14), 1),
            (Times{"2025-06-20 00:00:00+00:00 UTC"}));
}

// ---- leap days and dates that never exist ---------------------------------

TEST(CronSchedule, a_leap_day_schedule_waits_for_the_next_leap_year) {
  const auto s = CronSchedule::parse("0 0 29 2 *", "UTC");
  EXPECT_EQ(s.next_after(utc(2025, 1, 1)), utc(2028, 2, 29));
  EXPECT_EQ(s.next_after(utc(2028, 2, 29)), utc(2032, 2, 29));
  // 2100 is not a leap year.
  EXPECT_EQ(s.next_after(utc(2096, 3, 1)), utc(2104, 2, 29));
}

TEST(CronSchedule, a_rare_date_and_weekday_is_found_decades_ahead) {
  // 29 February on a Sunday (the weekday field starts with *, so both must
  // match): 2032, 2060, 2088, then 2128 (2100 is no leap year).
  const auto s = CronSchedule::parse("0 0 29 2 */7", "UTC");
  EXPECT_EQ(s.next_after(utc(2025, 1, 1)), utc(2032, 2, 29));
  EXPECT_EQ(s.next_after(utc(2088, 3, 1)), utc(2128, 2, 29));
}

TEST(CronSchedule, thirty_february_never_matches) {
  // Accepted because 30 March exists; February is skipped every year.
  EXPECT_EQ(next_local("0 12 30 2,3 *", "Europe/Berlin", utc(2028, 1, 1), 2),
            (Times{"2028-03-30 12:00:00+02:00 CEST", "2029-03-30 12:00:00+02:00 CEST"}));
  // The 31st only in months that have one.
  EXPECT_EQ(next_local("0 0 31 * *", "UTC", utc(2025, 4, 1), 3),
            (Times{"2025-05-31 00:00:00+00:00 UTC", "2025-07-31 00:00:00+00:00 UTC",
                   "2025-08-31 00:00:00+00:00 UTC"}));
  EXPECT_THROW(CronSchedule::parse("0 0 30 2 *", "UTC"), BadSchedule);
}

// ---- daylight saving: Europe/Berlin ---------------------------------------
// 2025-03-30: 02:00 CET becomes 03:00 CEST at 01:00 UTC (02:00-02:59 skipped).
// 2025-10-26: 03:00 CEST becomes 02:00 CET at 01:00 UTC (02:00-02:59 twice).

TEST(CronScheduleBerlin, a_fixed_time_in_the_skipped_hour_runs_once_at_its_end) {
  EXPECT_EQ(next_local("30 2 * * *", "Europe/Berlin", utc(2025, 3, 29, 12), 3),
            (Times{"2025-03-30 03:00:00+02:00 CEST", "2025-03-31 02:30:00+02:00 CEST",
                   "2025-04-01 02:30:00+02:00 CEST"}));
  // Every minute of the skipped hour collapses onto 03:00, once.
  EXPECT_EQ(next_local("*/15 2 * * *", "Europe/Berlin", utc(2025, 3, 29, 12), 2),
            (Times{"2025-03-30 03:00:00+02:00 CEST", "2025-03-31 02:00:00+02:00 CEST"}));
  // ... as does 03:00 itself.
  EXPECT_EQ(next_local("0,30 2,3 * * *", "Europe/Berlin", utc(2025, 3, 29, 12), 3),
            (Times{"2025-03-30 03:00:00+02:00 CEST", "2025-03-30 03:30:00+02:00 CEST",
                   "2025-03-31 02:00:00+02:00 CEST"}));
}

TEST(CronScheduleBerlin, a_fixed_time_due_in_the_gap_is_not_repeated_after_it_ran) {
  const auto s = CronSchedule::parse("30 2 * * *", "Europe/Berlin");
  // Ran at 03:00 CEST (01:00 UTC); asked again from there or a little later.
  EXPECT_EQ(s.next_after(utc(2025, 3, 30, 1)), utc(2025, 3, 31, 0, 30));
  EXPECT_EQ(s.next_after(utc(2025, 3, 30, 0, 59, 59)), utc(2025, 3, 30, 1));
}

TEST(CronScheduleBerlin, star_and_step_hours_have_no_occurrence_in_the_skipped_hour) {
  EXPECT_EQ(next_local("30 * * * *", "Europe/Berlin", utc(2025, 3, 29, 23, 45), 3),
            (Times{"2025-03-30 01:30:00+01:00 CET", "2025-03-30 03:30:00+02:00 CEST",
                   "2025-03-30 04:30:00+02:00 CEST"}));
  EXPECT_EQ(next_local("0 */2 * * *", "Europe/Berlin", utc(2025, 3, 29, 23, 0), 2),
            (Times{"2025-03-30 04:00:00+02:00 CEST", "2025-03-30 06:00:00+02:00 CEST"}));
}

TEST(CronScheduleBerlin, a_fixed_time_in_the_repeated_hour_runs_once_at_its_first_pass) {
  EXPECT_EQ(next_local("30 2 * * *", "Europe/Berlin", utc(2025, 10, 25, 12), 2),
            (Times{"2025-10-26 02:30:00+02:00 CEST", "2025-10-27 02:30:00+01:00 CET"}));
  EXPECT_EQ(next_local("*/20 2 * * *", "Europe/Berlin", utc(2025, 10, 25, 12), 4),
            (Times{"2025-10-26 02:00:00+02:00 CEST", "2025-10-26 02:20:00+02:00 CEST",
                   "2025-10-26 02:40:00+02:00 CEST", "2025-10-27 02:00:00+01:00 CET"}));
  // Asked during the second pass, the first is past: tomorrow.
  EXPECT_EQ(next_local("30 2 * * *", "Europe/Berlin", utc(2025, 10, 26, 1, 10), 1),
            (Times{"2025-10-27 02:30:00+01:00 CET"}));
}

TEST(CronScheduleBerlin, star_and_step_hours_run_in_both_passes_of_the_repeated_hour) {
  EXPECT_EQ(next_local("30 * * * *", "Europe/Berlin", utc(2025, 10, 25, 23, 0), 4),
            (Times{"2025-10-26 01:30:00+02:00 CEST", "2025-10-26 02:30:00+02:00 CEST",
                   "2025-10-26 02:30:00+01:00 CET", "2025-10-26 03:30:00+01:00 CET"}));
  EXPECT_EQ(next_local("0,30 */2 * * *", "Europe/Berlin", utc(2025, 10, 25, 23, 0), 5),
            (Times{"2025-10-26 02:00:00+02:00 CEST", "2025-10-26 02:30:00+02:00 CEST",
                   "2025-10-26 02:00:00+01:00 CET", "2025-10-26 02:30:00+01:00 CET",
                   "2025-10-26 04:00:00+01:00 CET"}));
}

TEST(CronScheduleBerlin, the_second_pass_is_found_from_inside_the_first) {
  // 02:45 CEST (00:45 UTC): 02:15 and 02:30 come again, in CET.
  EXPECT_EQ(next_local("15,30 * * * *", "Europe/Berlin", utc(2025, 10, 26, 0, 45), 3),
            (Times{"2025-10-26 02:15:00+01:00 CET", "2025-10-26 02:30:00+01:00 CET",
                   "2025-10-26 03:15:00+01:00 CET"}));
  // From the second pass, on to the rest of it.
  EXPECT_EQ(next_local("30 * * * *", "Europe/Berlin", utc(2025, 10, 26, 1, 10), 2),
            (Times{"2025-10-26 02:30:00+01:00 CET", "2025-10-26 03:30:00+01:00 CET"}));
}

TEST(CronScheduleBerlin, every_half_hour_across_each_change_keeps_real_time) {
  const auto s = CronSchedule::parse("*/30 * * * *", "Europe/Berlin");
  // The local day of 30 March has 23 hours, that of 26 October 25.
  const auto spring = s.between(utc(2025, 3, 29, 23) - 1s, utc(2025, 3, 30, 22) - 1s, 1000);
  EXPECT_EQ(spring.times.size(), 46u);
  const auto autumn = s.between(utc(2025, 10, 25, 22) - 1s, utc(2025, 10, 26, 23) - 1s, 1000);
  EXPECT_EQ(autumn.times.size(), 50u);
  for (std::size_t i = 1; i < autumn.times.size(); ++i) {
    EXPECT_EQ(autumn.times[i] - autumn.times[i - 1], 30min) << i;
  }
  for (std::size_t i = 1; i < spring.times.size(); ++i) {
    EXPECT_EQ(spring.times[i] - spring.times[i - 1], 30min) << i;
  }
}

// ---- daylight saving: America/New_York ------------------------------------
// 2025-03-09: 02:00 EST becomes 03:00 EDT at 07:00 UTC (02:00-02:59 skipped).
// 2025-11-02: 02:00 EDT becomes 01:00 EST at 06:00 UTC (01:00-01:59 twice).

TEST(CronScheduleNewYork, spring_forward) {
  EXPECT_EQ(next_local("30 2 * * *", "America/New_York", utc(2025, 3, 8, 12), 2),
            (Times{"2025-03-09 03:00:00-04:00 EDT", "2025-03-10 02:30:00-04:00 EDT"}));
  EXPECT_EQ(next_local("0 * * * *", "America/New_York", utc(2025, 3, 9, 5, 30), 3),
            (Times{"2025-03-09 01:00:00-05:00 EST", "2025-03-09 03:00:00-04:00 EDT",
                   "2025-03-09 04:00:00-04:00 EDT"}));
  EXPECT_EQ(next_local("15 */2 * * *", "America/New_York", utc(2025, 3, 9, 5, 30), 2),
            (Times{"2025-03-09 04:15:00-04:00 EDT", "2025-03-09 06:15:00-04:00 EDT"}));
}

TEST(CronScheduleNewYork, fall_back) {
  EXPECT_EQ(next_local("30 1 * * *", "America/New_York", utc(2025, 11, 1, 12), 2),
            (Times{"2025-11-02 01:30:00-04:00 EDT", "2025-11-03 01:30:00-05:00 EST"}));
  EXPECT_EQ(next_local("30 * * * *", "America/New_York", utc(2025, 11, 2, 4, 0), 4),
            (Times{"2025-11-02 00:30:00-04:00 EDT", "2025-11-02 01:30:00-04:00 EDT",
                   "2025-11-02 01:30:00-05:00 EST", "2025-11-02 02:30:00-05:00 EST"}));
  EXPECT_EQ(next_local("0 */1 * * *", "America/New_York", utc(2025, 11, 2, 4, 30), 4),
            (Times{"2025-11-02 01:00:00-04:00 EDT", "2025-11-02 01:00:00-05:00 EST",
                   "2025-11-02 02:00:00-05:00 EST", "2025-11-02 03:00:00-05:00 EST"}));
}

// ---- every rule at once, against a minute-by-minute reading ----------------

// A local wall-clock reading, as minutes since 1970-01-01 00:00 local.
using LocalMinute = std::int64_t;

// The local minute that TimeZone::format shows for `at` ("2025-03-30 03:00:...").
LocalMinute local_minute_of(const TimeZone& zone, sys_seconds at) {
  const std::string text = zone.format(at);
  const int y = std::stoi(text.substr(0, 4));
  const auto mo = static_cast<unsigned>(std::stoi(text.substr(5, 2)));
  const auto d = static_cast<unsigned>(std::stoi(text.substr(8, 2)));
  const int h = std::stoi(text.substr(11, 2));
  const int mi = std::stoi(text.substr(14, 2));
  const std::chrono::sys_days day{std::chrono::year{y} / std::chrono::month{mo} /
                                  std::chrono::day{d}};
  return day.time_since_epoch().count() * 1440 + h * 60 + mi;
}

bool expression_matches(const CronExpression& e, LocalMinute local) {
  const std::chrono::sys_days day{std::chrono::days{local / 1440}};
  return e.matches_day(std::chrono::year_month_day{day}) &&
         e.matches_hour(static_cast<int>(local % 1440 / 60)) &&
         e.matches_minute(static_cast<int>(local % 60));
}

// The occurrences after `from` found by reading the local clock at every
// UTC minute and applying docs/schedules.md literally: a matching reading
// fires, except a fixed-time job's second reading of a minute; a fixed-time
// job whose minute was jumped over fires at the first instant after the jump.
// `readings[k]` is the local clock at `from` + k minutes.
std::vector<sys_seconds> brute_force(const CronExpression& e,
                                     const std::vector<LocalMinute>& readings, sys_seconds from) {
  std::vector<sys_seconds> out;
  for (std::size_t k = 1; k < readings.size(); ++k) {
    const LocalMinute now = readings[k];
    bool fires = false;
    if (expression_matches(e, now)) {
      fires = true;
      if (e.has_fixed_hour()) {
        for (std::size_t back = 1; back <= std::min<std::size_t>(k, 180); ++back) {
          if (readings[k - back] == now) fires = false;  // its second reading
        }
      }
    }
    if (e.has_fixed_hour()) {
      for (LocalMinute skipped = readings[k - 1] + 1; skipped < now; ++skipped) {
        if (expression_matches(e, skipped)) fires = true;
      }
    }
    if (fires) out.push_back(from + std::chrono::minutes(k));
  }
  return out;
}

TEST(CronSchedule, agrees_with_a_minute_by_minute_reading_around_each_change) {
  struct Change {
    const char* zone;
    sys_seconds day;  // the change happens on this UTC day or the next
  };
  const std::vector<Change> changes = {
      {"Europe/Berlin", utc(2025, 3, 30)},        {"Europe/Berlin", utc(2025, 10, 26)},
      {"America/New_York", utc(2025, 3, 9)},      {"America/New_York", utc(2025, 11, 2)},
      {"Australia/Sydney", utc(2025, 4, 5)},      {"Australia/Sydney", utc(2025, 10, 4)},
      {"Australia/Lord_Howe", utc(2025, 4, 5)},   // 30 minutes back
      {"Australia/Lord_Howe", utc(2025, 10, 4)},  // 30 minutes forward
      {"America/Sao_Paulo", utc(2018, 11, 4)},    // midnight skipped
      {"America/Sao_Paulo", utc(2019, 2, 17)},    // 23:00-23:59 twice
      {"Asia/Kolkata", utc(2025, 3, 30)},         // no change, +05:30
  };
  const std::vector<const char*> expressions = {
      "30 2 * * *",     "*/15 2 * * *",  "* 2 * * *",        "15 1,2,3 * * *", "0 0 * * *",
      "45 23 * * *",    "30 * * * *",    "0 */2 * * *",      "*/10 * * * *",   "*/7 */3 * * *",
      "0,30 0-3 * * *", "20 2 * * sun",  "0 0 1-31 * sun",
  };
  for (const Change& change : changes) {
    const TimeZone zone = TimeZone::named(change.zone);
    const sys_seconds from = change.day - std::chrono::days(1);
    const sys_seconds upto = change.day + std::chrono::days(2);
    std::vector<LocalMinute> readings;
    for (sys_seconds at = from; at <= upto; at += 1min) {
      readings.push_back(local_minute_of(zone, at));
    }
    for (const char* text : expressions) {
      SCOPED_TRACE(std::string(change.zone) + " " + zone.format(change.day) + ": " + text);
      const CronSchedule schedule(CronExpression::parse(text), zone);
      const auto got = schedule.between(from, upto, 100000);
      const auto want = brute_force(schedule.expression(), readings, from);
      ASSERT_EQ(got.times.size(), want.size());
      for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(zone.format(got.times[i]), zone.format(want[i])) << "occurrence " << i;
      }
    }
  }
}

// ---- lists and bounded enumeration ----------------------------------------

TEST(CronSchedule, next_n_lists_consecutive_occurrences) {
  const auto s = CronSchedule::parse("0 12 * * *", "UTC");
  const auto times = s.next_n(utc(2025, 6, 1, 12), 3);
  EXPECT_EQ(times, (std::vector<sys_seconds>{utc(2025, 6, 2, 12), utc(2025, 6, 3, 12),
                                             utc(2025, 6, 4, 12)}));
  EXPECT_TRUE(s.next_n(utc(2025, 6, 1), 0).empty());
}

TEST(CronSchedule, between_lists_the_occurrences_after_and_up_to_inclusive) {
  const auto s = CronSchedule::parse("0 * * * *", "UTC");
  const auto got = s.between(utc(2025, 6, 1, 10), utc(2025, 6, 1, 13));
  EXPECT_EQ(got.times, (std::vector<sys_seconds>{utc(2025, 6, 1, 11), utc(2025, 6, 1, 12),
                                                 utc(2025, 6, 1, 13)}));
  EXPECT_FALSE(got.truncated);
  EXPECT_TRUE(s.between(utc(2025, 6, 1, 10), utc(2025, 6, 1, 10, 59)).times.empty());
  EXPECT_TRUE(s.between(utc(2025, 6, 1, 10), utc(2025, 6, 1, 10)).times.empty());
  EXPECT_TRUE(s.between(utc(2025, 6, 1, 13), utc(2025, 6, 1, 10)).times.empty());
}

TEST(CronSchedule, between_stops_at_its_bound_and_says_so) {
  const auto s = CronSchedule::parse("* * * * *", "UTC");
  // A day's outage: 1440 missed minutes, the first 100 by default.
  const auto got = s.between(utc(2025, 6, 1), utc(2025, 6, 2));
  ASSERT_EQ(got.times.size(), CronSchedule::kDefaultMaxOccurrences);
  EXPECT_EQ(got.times.front(), utc(2025, 6, 1, 0, 1));
  EXPECT_EQ(got.times.back(), utc(2025, 6, 1, 1, 40));
  EXPECT_TRUE(got.truncated);
  const auto exact = s.between(utc(2025, 6, 1), utc(2025, 6, 1, 0, 5), 5);
  EXPECT_EQ(exact.times.size(), 5u);
  EXPECT_FALSE(exact.truncated);
  const auto cut = s.between(utc(2025, 6, 1), utc(2025, 6, 1, 0, 6), 5);
  EXPECT_EQ(cut.times.size(), 5u);
  EXPECT_TRUE(cut.truncated);
  EXPECT_TRUE(s.between(utc(2025, 6, 1), utc(2025, 6, 2), 0).truncated);
}

TEST(CronSchedule, between_an_occurrence_years_away_returns_nothing_quickly) {
  const auto s = CronSchedule::parse("0 0 29 2 *", "Europe/Berlin");
  EXPECT_TRUE(s.between(utc(2025, 3, 1), utc(2027, 3, 1)).times.empty());
  EXPECT_EQ(s.between(utc(2025, 3, 1), utc(2028, 3, 1)).times,
            (std::vector<sys_seconds>{utc(2028, 2, 28, 23)}));
}

TEST(CronSchedule, latest_at_or_before_looks_back_within_its_span) {
  const auto minutely = CronSchedule::parse("* * * * *", "UTC");
  EXPECT_EQ(minutely.latest_at_or_before(utc(2025, 6, 1, 10, 7, 30), 3600s),
            utc(2025, 6, 1, 10, 7));
  EXPECT_EQ(minutely.latest_at_or_before(utc(2025, 6, 1, 10, 7), 3600s),
            utc(2025, 6, 1, 10, 7));  // at: included
  const auto daily = CronSchedule::parse("30 2 * * *", "Europe/Berlin");
  // 15:00 UTC on 1 June: 02:30 CEST that day was 00:30 UTC, found in a
  // window far beyond the first hour.
  EXPECT_EQ(daily.latest_at_or_before(utc(2025, 6, 1, 15), 86400s * 366),
            utc(2025, 6, 1, 0, 30));
  EXPECT_EQ(daily.latest_at_or_before(utc(2025, 6, 1, 0, 29), 86400s * 366),
            utc(2025, 5, 31, 0, 30));
  // Nothing in the span: not looked for further back.
  EXPECT_EQ(daily.latest_at_or_before(utc(2025, 6, 1, 15), 3600s), std::nullopt);
  const auto leap = CronSchedule::parse("0 0 29 2 *", "UTC");
  EXPECT_EQ(leap.latest_at_or_before(utc(2027, 3, 1), 86400s * 366), std::nullopt);
  EXPECT_EQ(leap.latest_at_or_before(utc(2028, 3, 1), 86400s * 366), utc(2028, 2, 29));
}

}  // namespace
}  // namespace jobrunner
