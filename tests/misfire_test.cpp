// The misfire policy (core/misfire.hpp): which occurrences a tick enqueues
// after an outage, and what it leaves out. Pure: the tick's instant is an
// argument.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "jobrunner/core/cron_schedule.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/core/misfire.hpp"
#include "utc_time.hpp"

namespace jobrunner {
namespace {

using std::chrono::sys_seconds;
using namespace std::chrono_literals;

using testing::utc;

std::vector<std::string> times_of(const OccurrencePlan& plan, bool catch_up) {
  std::vector<std::string> out;
  for (const auto& item : plan.enqueue) {
    if (item.catch_up == catch_up) out.push_back(format_instant(item.at));
  }
  return out;
}

using Times = std::vector<std::string>;

const CronSchedule kEveryMinute = CronSchedule::parse("* * * * *", "UTC");
const CronSchedule kHourly = CronSchedule::parse("@hourly", "UTC");

TEST(Misfire, an_on_time_tick_enqueues_the_due_occurrence_under_every_policy) {
  for (const auto policy : {MisfirePolicy::skip, MisfirePolicy::once, MisfirePolicy::all}) {
    const auto plan = plan_occurrences(kHourly, utc(2026, 1, 5, 10), utc(2026, 1, 5, 10, 0, 30),
                                       policy, 100, 300s);
    EXPECT_EQ(times_of(plan, false), Times{"2026-01-05T10:00:00Z"}) << to_string(policy);
    EXPECT_TRUE(times_of(plan, true).empty());
    EXPECT_EQ(plan.left_out, 0);
  }
}

TEST(Misfire, nothing_is_due_before_next_due) {
  const auto plan = plan_occurrences(kHourly, utc(2026, 1, 5, 10), utc(2026, 1, 5, 9, 59, 59),
                                     MisfirePolicy::all, 100, 300s);
  EXPECT_TRUE(plan.enqueue.empty());
  EXPECT_EQ(plan.left_out, 0);
}

TEST(Misfire, skip_enqueues_only_the_on_time_occurrences_and_counts_the_missed_ones) {
  // Down from 10:00 to 15:02: 10:00 ... 14:00 are missed, 15:00 is on time.
  const auto plan = plan_occurrences(kHourly, utc(2026, 1, 5, 10), utc(2026, 1, 5, 15, 2),
                                     MisfirePolicy::skip, 100, 300s);
  EXPECT_EQ(times_of(plan, false), Times{"2026-01-05T15:00:00Z"});
  EXPECT_TRUE(times_of(plan, true).empty());
  EXPECT_EQ(plan.left_out, 5);
  EXPECT_FALSE(plan.left_out_at_least);
  EXPECT_EQ(format_instant(*plan.left_out_first), "2026-01-05T10:00:00Z");
  EXPECT_EQ(format_instant(*plan.left_out_last), "2026-01-05T14:00:00Z");
}

TEST(Misfire, once_enqueues_the_latest_missed_occurrence_and_the_on_time_ones) {
  const auto plan = plan_occurrences(kHourly, utc(2026, 1, 5, 10), utc(2026, 1, 5, 15, 2),
                                     MisfirePolicy::once, 100, 300s);
  EXPECT_EQ(times_of(plan, true), Times{"2026-01-05T14:00:00Z"});
  EXPECT_EQ(times_of(plan, false), Times{"2026-01-05T15:00:00Z"});
  EXPECT_EQ(plan.left_out, 4);
  EXPECT_EQ(format_instant(*plan.left_out_last), "2026-01-05T13:00:00Z");
}

TEST(Misfire, all_enqueues_every_missed_occurrence_within_the_limit) {
  const auto plan = plan_occurrences(kHourly, utc(2026, 1, 5, 10), utc(2026, 1, 5, 15, 2),
                                     MisfirePolicy::all, 100, 300s);
  EXPECT_EQ(times_of(plan, true),
            (Times{"2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", "2026-01-05T12:00:00Z",
                   "2026-01-05T13:00:00Z", "2026-01-05T14:00:00Z"}));
  EXPECT_EQ(times_of(plan, false), Times{"2026-01-05T15:00:00Z"});
  EXPECT_EQ(plan.left_out, 0);
  EXPECT_FALSE(plan.left_out_first);
}

TEST(Misfire, all_keeps_the_latest_missed_occurrences_up_to_the_limit_and_says_what_it_left_out) {
  // A day of every-minute occurrences missed (00:00 the next day is 10 s
  // late, with no grace), limit 3.
  const auto plan = plan_occurrences(kEveryMinute, utc(2026, 1, 5, 0), utc(2026, 1, 6, 0, 0, 10),
                                     MisfirePolicy::all, 3, 0s);
  EXPECT_EQ(times_of(plan, true), (Times{"2026-01-05T23:58:00Z", "2026-01-05T23:59:00Z",
                                         "2026-01-06T00:00:00Z"}));
  EXPECT_EQ(times_of(plan, false), Times{});
  EXPECT_EQ(plan.left_out, 24 * 60 + 1 - 3);
  EXPECT_EQ(format_instant(*plan.left_out_first), "2026-01-05T00:00:00Z");
  EXPECT_EQ(format_instant(*plan.left_out_last), "2026-01-05T23:57:00Z");
}

TEST(Misfire, the_grace_decides_what_is_on_time) {
  // Ticked at 10:05:00 with 5 minutes of grace: 10:00 is on time, 9:59 not.
  const auto plan = plan_occurrences(kEveryMinute, utc(2026, 1, 5, 9, 58), utc(2026, 1, 5, 10, 5),
                                     MisfirePolicy::skip, 100, 300s);
  EXPECT_EQ(times_of(plan, false).front(), "2026-01-05T10:00:00Z");
  EXPECT_EQ(times_of(plan, false).size(), 6U);
  EXPECT_EQ(plan.left_out, 2);
}

TEST(Misfire, a_sparse_schedule_missed_for_years_is_planned_without_visiting_every_minute) {
  const auto yearly = CronSchedule::parse("@yearly", "Europe/Berlin");
  const auto plan = plan_occurrences(yearly, utc(2000, 12, 31, 23), utc(2026, 6, 1),
                                     MisfirePolicy::once, 100, 300s);
  EXPECT_EQ(times_of(plan, true), Times{"2025-12-31T23:00:00Z"});
  EXPECT_EQ(plan.left_out, 25);  // the new years 2001 ... 2025; 2026's is the catch-up
}

TEST(Misfire, policies_read_case_insensitively_and_refuse_others) {
  EXPECT_EQ(parse_misfire_policy("ALL"), MisfirePolicy::all);
  EXPECT_EQ(parse_misfire_policy("skip"), MisfirePolicy::skip);
  EXPECT_THROW(parse_misfire_policy("latest"), BadInput);
}

TEST(Misfire, left_out_occurrences_are_described_with_their_number_and_span) {
  EXPECT_EQ(describe_left_out(1, false, utc(2026, 6, 1, 10), utc(2026, 6, 1, 10)),
            "left out 1 missed occurrence from 2026-06-01T10:00:00Z to 2026-06-01T10:00:00Z");
  EXPECT_EQ(describe_left_out(3, false, utc(2026, 6, 1, 10), utc(2026, 6, 1, 12)),
            "left out 3 missed occurrences from 2026-06-01T10:00:00Z to 2026-06-01T12:00:00Z");
  EXPECT_EQ(describe_left_out(kLeftOutCountCap, true, utc(2000, 1, 1), utc(2026, 6, 1)),
            "left out at least 100000 missed occurrences from 2000-01-01T00:00:00Z to "
            "2026-06-01T00:00:00Z");
  EXPECT_EQ(caught_up_note(MisfirePolicy::once), " (missed; caught up by misfire policy once)");
}

}  // namespace
}  // namespace jobrunner
