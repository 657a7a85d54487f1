#pragma once
// Cron expressions as Vixie/ISC cron reads them: which local calendar minutes
// match. Time zones and daylight saving are CronSchedule's business
// (cron_schedule.hpp); this is calendar arithmetic only.
//
// Syntax: five fields separated by blanks,
//   minute (0-59)  hour (0-23)  day-of-month (1-31)  month (1-12)  day-of-week (0-7)
// each a comma-separated list of items: `*`, a value `5`, a range `1-5`, or
// `*` or a range with a step: `*/15`, `1-30/5` (every 5th value of the range,
// starting at its first). Months may be named jan..dec and weekdays sun..sat
// (case-insensitive, also as range ends: mon-fri). Day-of-week 0 and 7 are
// both Sunday; `sun` ending a range that starts after Sunday is 7 (sat-sun).
// Macros: @hourly (0 * * * *), @daily and @midnight (0 0 * * *), @weekly
// (0 0 * * 0), @monthly (0 0 1 * *), @yearly and @annually (0 0 1 1 *).
//
// The day rule (Vixie cron): a field is *restricted* unless its text starts
// with `*` (so `*/2` is not restricted, `1-31` is). When both day-of-month and
// day-of-week are restricted, a day matches if EITHER matches
// (`0 0 1,15 * fri`: the 1st, the 15th and every Friday); otherwise a day
// matches if both match, so the restricted one decides.

#include <bitset>
#include <chrono>
#include <string>
#include <string_view>

namespace jobrunner {

class CronExpression {
 public:
  // Parses `text`. Throws BadSchedule for anything else (a reversed range,
  // a step after a single value such as `5/10`, a step above the field's
  // number of values, Quartz's L W # ?); the message quotes the expression
  // and names the field and its offending text, e.g.
  //   invalid cron expression "0 25 * * *": hour field "25": 25 is out of range 0-23
  // Also refused: an expression that can never fire because its dates never
  // exist (`0 0 30 2 *`, `0 0 31 4,6,9,11 *`); dates that exist only in some
  // months (`0 0 31 * *`) or years (`0 0 29 2 *`) are fine, and simply do not
  // match where they do not exist.
  static CronExpression parse(std::string_view text);

  // The text as given (a macro stays a macro).
  const std::string& text() const noexcept { return text_; }

  // Whether the local date `day` matches the month, day-of-month and
  // day-of-week fields under the day rule above.
  bool matches_day(std::chrono::year_month_day day) const;
  bool matches_hour(int hour) const { return hours_.test(static_cast<std::size_t>(hour)); }
  bool matches_minute(int minute) const {
    return minutes_.test(static_cast<std::size_t>(minute));
  }

  // Whether the job is at a fixed time of day for daylight saving: its hour
  // field does not start with `*` (a value, a list or a range, even 0-23),
  // as ISC cron's HR_STAR flag. `*` and `*/N` hours are not fixed.
  bool has_fixed_hour() const noexcept { return fixed_hour_; }

 private:
  CronExpression() = default;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // bit 0 unused
  std::bitset<13> months_;         // bit 0 unused
  std::bitset<7> days_of_week_;    // 0 = Sunday (7 is folded onto 0)
  bool day_of_month_restricted_ = false;
  bool day_of_week_restricted_ = false;
  bool fixed_hour_ = false;
};

}  // namespace jobrunner
