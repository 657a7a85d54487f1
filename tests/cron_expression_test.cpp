// Cron expressions: parsing, refusals that name the field, and which days,
// hours and minutes match (pure, no database, no clock, no time zone).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "jobrunner/core/cron_expression.hpp"
#include "jobrunner/core/errors.hpp"

namespace jobrunner {
namespace {

using std::chrono::year;
using std::chrono::year_month_day;

year_month_day ymd(int y, unsigned m, unsigned d) {
  return year_month_day{year{y}, std::chrono::month{m}, std::chrono::day{d}};
}

// The minutes of the day (hour * 60 + minute) that the expression matches.
std::vector<int> minutes_of_day(const CronExpression& e) {
  std::vector<int> out;
  for (int h = 0; h < 24; ++h) {
    for (int m = 0; m < 60; ++m) {
      if (e.matches_hour(h) && e.matches_minute(m)) out.push_back(h * 60 + m);
    }
  }
  return out;
}

// The days of `y`-`m` that the expression matches.
std::vector<unsigned> days_of(const CronExpression& e, int y, unsigned m) {
  std::vector<unsigned> out;
  for (unsigned d = 1; d <= 31; ++d) {
    const auto day = ymd(y, m, d);
    if (day.ok() && e.matches_day(day)) out.push_back(d);
  }
  return out;
}

// The BadSchedule message of parse(text); fails the test if it parses.
std::string rejection_of(const std::string& text) {
  try {
    CronExpression::parse(text);
    ADD_FAILURE() << "\"" << text << "\" was accepted";
  } catch (const BadSchedule& e) {
    return e.what();
  }
  return {};
}

struct Valid {
  const char* text;
  std::vector<int> minutes_of_day;  // hour * 60 + minute
};

TEST(CronExpression, parses_each_form_of_the_minute_and_hour_fields) {
  const std::vector<Valid> table = {
      {"0 0 * * *", {0}},
      {"5 4 * * *", {4 * 60 + 5}},
      {"0,30 9 * * *", {9 * 60, 9 * 60 + 30}},
      {"10-12 1 * * *", {70, 71, 72}},
      {"*/20 0 * * *", {0, 20, 40}},
      {"1-30/10 0 * * *", {1, 11, 21}},
      {"50-59/5,3 0 * * *", {3, 50, 55}},
      {"0 */8 * * *", {0, 8 * 60, 16 * 60}},
      {"0 9-17/4 * * *", {9 * 60, 13 * 60, 17 * 60}},
      {"59 23 * * *", {23 * 60 + 59}},
      {"*/60 0 * * *", {0}},
      {"0  \t 12   *  *  *", {12 * 60}},
      {" 0 12 * * * ", {12 * 60}},
  };
  for (const Valid& row : table) {
    SCOPED_TRACE(row.text);
    const CronExpression e = CronExpression::parse(row.text);
    EXPECT_EQ(e.text(), row.text);
    EXPECT_EQ(minutes_of_day(e), row.minutes_of_day);
  }
  EXPECT_EQ(minutes_of_day(CronExpression::parse("* * * * *")).size(), 24u * 60u);
}

TEST(CronExpression, parses_the_day_fields_names_and_ranges) {
  // June 2025 begins on a Sunday.
  struct DayRow {
    const char* text;
    std::vector<unsigned> june_2025;
  };
  const std::vector<DayRow> table = {
      {"0 0 1 * *", {1}},
      {"0 0 1,15,31 * *", {1, 15}},  // June has no 31st
      {"0 0 28-31 * *", {28, 29, 30}},
      {"0 0 */10 * *", {1, 11, 21}},
      {"0 0 * * 0", {1, 8, 15, 22, 29}},
      {"0 0 * * 7", {1, 8, 15, 22, 29}},  // 7 is Sunday too
      {"0 0 * * sun", {1, 8, 15, 22, 29}},
      {"0 0 * * SUN", {1, 8, 15, 22, 29}},
      {"0 0 * * Sat,sun", {1, 7, 8, 14, 15, 21, 22, 28, 29}},
      {"0 0 * * 6-7", {1, 7, 8, 14, 15, 21, 22, 28, 29}},
      {"0 0 * * sat-sun", {1, 7, 8, 14, 15, 21, 22, 28, 29}},
      {"0 0 * * sun-mon", {1, 2, 8, 9, 15, 16, 22, 23, 29, 30}},
      {"0 0 * * Sun-Sun", {1, 8, 15, 22, 29}},
      {"0 0 * * mon-fri", {2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26,
                           27, 30}},
      {"0 0 * * 1-5/2", {2, 4, 6, 9, 11, 13, 16, 18, 20, 23, 25, 27, 30}},
      {"0 0 * * */3", {1, 4, 7, 8, 11, 14, 15, 18, 21, 22, 25, 28, 29}},  // sun, wed, sat
      {"0 0 * jun *", {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                       16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30}},
      {"0 0 * JAN-may *", {}},
      {"0 0 1 jan,Jun,dec *", {1}},
      {"0 0 1 6 *", {1}},
      {"0 0 1 */5 *", {1}},  // months 1, 6, 11
      {"0 0 1 2-12/2 *", {1}},
      {"0 0 1 1-5,7-12 *", {}},
  };
  for (const DayRow& row : table) {
    SCOPED_TRACE(row.text);
    EXPECT_EQ(days_of(CronExpression::parse(row.text), 2025, 6), row.june_2025);
  }
}

TEST(CronExpression, day_of_month_or_day_of_week_when_both_are_restricted) {
  // The 13th, and every Friday (June 2025: Fridays 6, 13, 20, 27).
  EXPECT_EQ(days_of(CronExpression::parse("0 0 13 * fri"), 2025, 6),
            (std::vector<unsigned>{6, 13, 20, 27}));
  EXPECT_EQ(days_of(CronExpression::parse("0 0 1,15 * 5"), 2025, 6),
            (std::vector<unsigned>{1, 6, 13, 15, 20, 27}));
  // A full range is still a restriction (as in Vixie cron): every day.
  EXPECT_EQ(days_of(CronExpression::parse("0 0 1-31 * fri"), 2025, 6).size(), 30u);
}

TEST(CronExpression, the_restricted_day_field_decides_when_the_other_is_a_star) {
  EXPECT_EQ(days_of(CronExpression::parse("0 0 13 * *"), 2025, 6), (std::vector<unsigned>{13}));
  EXPECT_EQ(days_of(CronExpression::parse("0 0 * * fri"), 2025, 6),
            (std::vector<unsigned>{6, 13, 20, 27}));
  // A field that starts with * is not restricted, even with a step: both must
  // match (odd days that are Fridays; Fridays among days 1, 8, 15, 22, 29).
  EXPECT_EQ(days_of(CronExpression::parse("0 0 */2 * fri"), 2025, 6),
            (std::vector<unsigned>{13, 27}));
  EXPECT_EQ(days_of(CronExpression::parse("0 0 29 * */7"), 2025, 6),
            (std::vector<unsigned>{29}));  // the 29th, a Sunday
}

TEST(CronExpression, the_month_field_applies_under_either_day_rule) {
  const auto e = CronExpression::parse("0 0 13 jul fri");
  EXPECT_TRUE(days_of(e, 2025, 6).empty());
  EXPECT_EQ(days_of(e, 2025, 7), (std::vector<unsigned>{4, 11, 13, 18, 25}));
}

TEST(CronExpression, macros_are_their_five_field_equivalents) {
  const std::vector<std::pair<const char*, const char*>> table = {
      {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"}, {"@DAILY", "0 0 * * *"},    {" @Weekly ", "0 0 * * 0"},
  };
  for (const auto& [macro, fields] : table) {
    SCOPED_TRACE(macro);
    const auto a = CronExpression::parse(macro);
    const auto b = CronExpression::parse(fields);
    EXPECT_EQ(a.text(), macro);
    EXPECT_EQ(minutes_of_day(a), minutes_of_day(b));
    EXPECT_EQ(a.has_fixed_hour(), b.has_fixed_hour());
    for (unsigned month = 1; month <= 12; ++month) {
      EXPECT_EQ(days_of(a, 2025, month), days_of(b, 2025, month)) << "month " << month;
    }
  }
  EXPECT_FALSE(CronExpression::parse("@hourly").has_fixed_hour());
  EXPECT_TRUE(CronExpression::parse("@daily").has_fixed_hour());
}

TEST(CronExpression, a_fixed_hour_is_one_that_does_not_start_with_a_star) {
  EXPECT_TRUE(CronExpression::parse("30 2 * * *").has_fixed_hour());
  EXPECT_TRUE(CronExpression::parse("* 2 * * *").has_fixed_hour());
  EXPECT_TRUE(CronExpression::parse("0 1,2 * * *").has_fixed_hour());
  EXPECT_TRUE(CronExpression::parse("0 0-23 * * *").has_fixed_hour());
  EXPECT_TRUE(CronExpression::parse("0 0-23/2 * * *").has_fixed_hour());
  EXPECT_FALSE(CronExpression::parse("0 * * * *").has_fixed_hour());
  EXPECT_FALSE(CronExpression::parse("0 */2 * * *").has_fixed_hour());
}

TEST(CronExpression, dates_that_exist_in_some_months_or_years_are_accepted) {
  const auto leap_day = CronExpression::parse("0 0 29 2 *");
  EXPECT_TRUE(leap_day.matches_day(ymd(2028, 2, 29)));
  EXPECT_TRUE(days_of(leap_day, 2025, 2).empty());
  const auto thirty_first = CronExpression::parse("0 0 31 * *");
  EXPECT_TRUE(days_of(thirty_first, 2025, 4).empty());
  EXPECT_EQ(days_of(thirty_first, 2025, 5), (std::vector<unsigned>{31}));
  // 30 February never matches, but 30 March does.
  const auto thirtieth = CronExpression::parse("0 0 30 2,3 *");
  EXPECT_TRUE(days_of(thirtieth, 2028, 2).empty());
  EXPECT_EQ(days_of(thirtieth, 2028, 3), (std::vector<unsigned>{30}));
  // Under the OR rule the weekday still fires in February.
  EXPECT_EQ(days_of(CronExpression::parse("0 0 30 2 mon"), 2026, 2),
            (std::vector<unsigned>{2, 9, 16, 23}));
}

struct Invalid {
  const char* text;
  const char* message;  // a part of the message
};

// Each text is refused with a message that quotes it and contains `message`.
void expect_each_refused(const std::vector<Invalid>& table) {
  for (const Invalid& row : table) {
    SCOPED_TRACE(row.text);
    const std::string message = rejection_of(row.text);
    EXPECT_NE(message.find(row.message), std::string::npos) << message;
    EXPECT_EQ(message.rfind("invalid cron expression \"" + std::string(row.text) + "\": ", 0), 0u)
        << message;
  }
}

TEST(CronExpression, refuses_bad_fields_naming_the_field_and_its_text) {
  const std::vector<Invalid> table = {
      {"60 * * * *", "minute field \"60\": 60 is out of range 0-59"},
      {"0 25 * * *", "hour field \"25\": 25 is out of range 0-23"},
      {"0 0 0 * *", "day-of-month field \"0\": 0 is out of range 1-31"},
      {"0 0 32 * *", "day-of-month field \"32\": 32 is out of range 1-31"},
      {"0 0 * 0 *", "month field \"0\": 0 is out of range 1-12"},
      {"0 0 * 13 *", "month field \"13\": 13 is out of range 1-12"},
      {"0 0 * * 8", "day-of-week field \"8\": 8 is out of range 0-7"},
      {"99999999999 * * * *", "minute field \"99999999999\": 99999999999 is out of range 0-59"},
      {"x * * * *", "minute field \"x\": \"x\" is not a number (expected 0-59)"},
      {"0 noon * * *", "hour field \"noon\": \"noon\" is not a number"},
      {"0 0 * foo *", "month field \"foo\": \"foo\" is not a number (1-12) or a name (jan..dec)"},
      {"0 0 * * monday", "day-of-week field \"monday\": \"monday\" is not a number (0-7) or a "
                         "name (sun..sat)"},
      {"0 0 mon * *", "day-of-month field \"mon\": \"mon\" is not a number"},
      {"0 0 * * jan", "day-of-week field \"jan\""},
      {"1.5 * * * *", "minute field \"1.5\": \"1.5\" is not a number"},
      {"+5 * * * *", "minute field \"+5\": \"+5\" is not a number"},
      {"0 0 L * *", "day-of-month field \"L\""},
      {"0 0 ? * *", "day-of-month field \"?\": \"?\" is not a number"},
      {"0 0 15W * *", "day-of-month field \"15W\": \"15W\" is not a number"},
      {"0 0 * * 5#3", "day-of-week field \"5#3\": \"5#3\" is not a number"},
      {"*/0 * * * *", "minute field \"*/0\": the step 0 is out of range 1-60"},
      {"*/61 * * * *", "minute field \"*/61\": the step 61 is out of range 1-60"},
      {"0 */25 * * *", "hour field \"*/25\": the step 25 is out of range 1-24"},
      {"0 0 * */13 *", "month field \"*/13\": the step 13 is out of range 1-12"},
      {"0 0 * * */8", "day-of-week field \"*/8\": the step 8 is out of range 1-7"},
      {"*/x * * * *", "minute field \"*/x\": \"x\" is not a number"},
      {"0 */ * * *", "hour field \"*/\": a '/' without a step after it"},
      {"5/10 * * * *", "minute field \"5/10\": a step needs * or a range before it (write "
                       "5-59/10)"},
      {"30-10 * * * *", "minute field \"30-10\": the range 30-10 is reversed"},
      {"0 0 * * fri-mon", "day-of-week field \"fri-mon\": the range fri-mon is reversed"},
      {"1- * * * *", "minute field \"1-\": a range needs a value on each side of '-'"},
      {"-1 * * * *", "minute field \"-1\": a range needs a value on each side of '-'"},
      {"1-2-3 * * * *", "minute field \"1-2-3\": \"2-3\" is not a number"},
      {"*-5 * * * *", "minute field \"*-5\": \"*\" is not a number"},
      {"1,,2 * * * *", "minute field \"1,,2\": an empty list item"},
      {"0 1, * * *", "hour field \"1,\": an empty list item"},
      {"0 0 * * ,1", "day-of-week field \",1\": an empty list item"},
  };
  expect_each_refused(table);
}

TEST(CronExpression, refuses_bad_shapes_and_unknown_macros) {
  const std::vector<Invalid> table = {
      {"", "it is empty"},
      {"   ", "it is empty"},
      {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week) or a macro "
                  "such as @daily, got 4"},
      {"0 * * * * *", "expected 5 fields"},  // no seconds or years
      {"0 0 1 1 * 2030", "got 6"},
      {"@every 5m", "a macro such as @every stands alone"},
      {"@daily 0", "a macro such as @daily stands alone"},
      {"@reboot", "unknown macro @reboot (known: @hourly, @daily, @midnight, @weekly, @monthly, "
                  "@yearly, @annually)"},
      {"@fortnightly", "unknown macro @fortnightly"},
  };
  expect_each_refused(table);
}

TEST(CronExpression, refuses_an_expression_whose_dates_never_exist) {
  const std::vector<Invalid> table = {
      {"0 0 30 2 *", "day-of-month field \"30\" and month field \"2\" name only dates that "
                     "never exist, so it would never fire"},
      {"0 0 30,31 feb *", "day-of-month field \"30,31\" and month field \"feb\""},
      {"0 0 31 4,6,9,11 *", "day-of-month field \"31\" and month field \"4,6,9,11\""},
      {"0 0 31 apr */7", "day-of-month field \"31\" and month field \"apr\""},
  };
  expect_each_refused(table);
}

TEST(CronExpression, a_refusal_is_bad_input) {
  EXPECT_THROW(CronExpression::parse("0 25 * * *"), BadInput);
}

}  // namespace
}  // namespace jobrunner
