#include "jobrunner/core/cron_expression.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <vector>

#include "jobrunner/core/errors.hpp"

namespace jobrunner {
namespace {

constexpr std::array<std::string_view, 12> kMonthNames = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {"sun", "mon", "tue", "wed",
                                                           "thu", "fri", "sat"};

// What one of the five fields accepts.
struct FieldSpec {
  std::string_view name;
  int low;
  int high;
  // Names for the values low, low+1, ... (empty: numbers only).
  const std::string_view* names = nullptr;
  std::size_t name_count = 0;
};

constexpr FieldSpec kMinute{"minute", 0, 59};
constexpr FieldSpec kHour{"hour", 0, 23};
constexpr FieldSpec kDayOfMonth{"day-of-month", 1, 31};
constexpr FieldSpec kMonth{"month", 1, 12, kMonthNames.data(), kMonthNames.size()};
// 7 is Sunday too; `*` means 0-6.
constexpr FieldSpec kDayOfWeek{"day-of-week", 0, 7, kWeekdayNames.data(), kWeekdayNames.size()};

struct Macro {
  std::string_view name;
  std::string_view fields;
};
constexpr std::array<Macro, 7> kMacros = {{{"@hourly", "0 * * * *"},
                                            {"@daily", "0 0 * * *"},
                                            {"@midnight", "0 0 * * *"},
                                            {"@weekly", "0 0 * * 0"},
                                            {"@monthly", "0 0 1 * *"},
                                            {"@yearly", "0 0 1 1 *"},
                                            {"@annually", "0 0 1 1 *"}}};

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Throws the BadSchedule of a field: invalid cron expression "<text>": <field> field "<item>": <why>
class FieldParser {
 public:
  FieldParser(std::string_view expression, const FieldSpec& spec, std::string_view text)
      : expression_(expression), spec_(spec), text_(text) {}

  // The values the field selects, as bits low..high.
  std::uint64_t parse() const {
    if (text_.empty()) reject("it is empty");
    std::uint64_t bits = 0;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = text_.find(',', start);
      const std::string_view item =
          text_.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                              : comma - start);
      if (item.empty()) reject("an empty list item (two commas, or one at an end)");
      bits |= parse_item(item);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return bits;
  }

 private:
  [[noreturn]] void reject(const std::string& why) const {
    throw BadSchedule("invalid cron expression \"" + std::string(expression_) + "\": " +
                      std::string(spec_.name) + " field \"" + std::string(text_) + "\": " + why);
  }

  std::string range_text() const {
    return std::to_string(spec_.low) + "-" + std::to_string(spec_.high);
  }

  // item := '*' ['/' step] | value ['-' value ['/' step]]
  std::uint64_t parse_item(std::string_view item) const {
    const std::size_t slash = item.find('/');
    const std::string_view range = item.substr(0, slash);
    int first = 0;
    int last = 0;
    if (range == "*") {
      first = spec_.low;
      last = spec_.name == kDayOfWeek.name ? 6 : spec_.high;
    } else {
      const std::size_t dash = range.find('-');
      first = parse_value(range.substr(0, dash));
      if (dash == std::string_view::npos) {
        if (slash != std::string_view::npos) {
          reject("a step needs * or a range before it (write " + std::string(range) + "-" +
                 std::to_string(spec_.high) + std::string(item.substr(slash)) + ")");
        }
        last = first;
      } else {
        const std::string_view end = range.substr(dash + 1);
        last = parse_value(end);
        // Sunday ends a week as 7: sat-sun, fri-sun (sun-sun stays Sunday).
        if (spec_.name == kDayOfWeek.name && lowercase(end) == "sun" && first > 0) last = 7;
        if (last < first) {
          reject("the range " + std::string(range) + " is reversed (the first value must not " +
                 "be above the last)");
        }
      }
    }
    int step = 1;
    if (slash != std::string_view::npos) step = parse_step(item.substr(slash + 1));
    std::uint64_t bits = 0;
    for (int value = first; value <= last; value += step) bits |= std::uint64_t{1} << value;
    return bits;
  }

  int parse_value(std::string_view text) const {
    if (text.empty()) reject("a range needs a value on each side of '-'");
    if (std::isalpha(static_cast<unsigned char>(text.front()))) {
      const std::string name = lowercase(text);
      for (std::size_t i = 0; i < spec_.name_count; ++i) {
        if (spec_.names[i] == name) return spec_.low + static_cast<int>(i);
      }
      if (spec_.name_count == 0) {
        reject("\"" + std::string(text) + "\" is not a number (expected " + range_text() + ")");
      }
      reject("\"" + std::string(text) + "\" is not a number (" + range_text() + ") or a name (" +
             std::string(spec_.names[0]) + ".." + std::string(spec_.names[spec_.name_count - 1]) +
             ")");
    }
    const int value = parse_number(text);
    if (value < spec_.low || value > spec_.high) {
      reject(std::string(text) + " is out of range " + range_text());
    }
    return value;
  }

  int parse_step(std::string_view text) const {
    // A step larger than the field's count of values would select its first
    // value only: almost certainly not what was meant.
    const int most = spec_.name == kDayOfWeek.name ? 7 : spec_.high - spec_.low + 1;
    if (text.empty()) reject("a '/' without a step after it");
    const int step = parse_number(text);
    if (step < 1 || step > most) {
      reject("the step " + std::string(text) + " is out of range 1-" + std::to_string(most));
    }
    return step;
  }

  // A decimal number of digits only; far too large ones come back as -1
  // (out of every range).
  int parse_number(std::string_view text) const {
    int value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    const bool digits_only = std::isdigit(static_cast<unsigned char>(text.front())) != 0;
    if (ec == std::errc::result_out_of_range && digits_only) return -1;
    if (ec != std::errc() || !digits_only || end != text.data() + text.size()) {
      reject("\"" + std::string(text) + "\" is not a number");
    }
    return value;
  }

  std::string_view expression_;
  const FieldSpec& spec_;
  std::string_view text_;
};

std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && is_blank(text[pos])) ++pos;
    const std::size_t start = pos;
    while (pos < text.size() && !is_blank(text[pos])) ++pos;
    if (pos > start) fields.push_back(text.substr(start, pos - start));
  }
  return fields;
}

[[noreturn]] void reject_expression(std::string_view text, const std::string& why) {
  throw BadSchedule("invalid cron expression \"" + std::string(text) + "\": " + why);
}

// The five fields of `text`, a macro expanded.
std::vector<std::string_view> fields_of(std::string_view text) {
  std::vector<std::string_view> fields = split_fields(text);
  if (fields.empty()) reject_expression(text, "it is empty");
  if (fields.front().front() == '@') {
    if (fields.size() != 1) {
      reject_expression(text, "a macro such as " + std::string(fields.front()) +
                                  " stands alone, without fields after it");
    }
    const std::string name = lowercase(fields.front());
    for (const Macro& macro : kMacros) {
      if (macro.name == name) return split_fields(macro.fields);
    }
    std::string known;
    for (const Macro& macro : kMacros) known += (known.empty() ? "" : ", ") + std::string(macro.name);
    reject_expression(text, "unknown macro " + std::string(fields.front()) + " (known: " + known +
                                ")");
  }
  if (fields.size() != 5) {
    reject_expression(text, "expected 5 fields (minute hour day-of-month month day-of-week) " +
                                std::string("or a macro such as @daily, got ") +
                                std::to_string(fields.size()));
  }
  return fields;
}

// The most days `month` (1-12) ever has: 29 for February.
int max_days_in(int month) {
  if (month == 2) return 29;
  if (month == 4 || month == 6 || month == 9 || month == 11) return 30;
  return 31;
}

}  // namespace

CronExpression CronExpression::parse(std::string_view text) {
  const std::vector<std::string_view> fields = fields_of(text);
  CronExpression out;
  out.text_ = std::string(text);
  out.minutes_ = FieldParser(text, kMinute, fields[0]).parse();
  out.hours_ = FieldParser(text, kHour, fields[1]).parse();
  out.days_of_month_ = FieldParser(text, kDayOfMonth, fields[2]).parse();
  out.months_ = FieldParser(text, kMonth, fields[3]).parse();
  std::uint64_t weekdays = FieldParser(text, kDayOfWeek, fields[4]).parse();
  if (weekdays & (std::uint64_t{1} << 7)) weekdays |= 1;  // 7 is Sunday
  out.days_of_week_ = weekdays & 0x7f;
  out.fixed_hour_ = fields[1].front() != '*';
  out.day_of_month_restricted_ = fields[2].front() != '*';
  out.day_of_week_restricted_ = fields[4].front() != '*';

  // Under the OR rule any weekday occurs in every month, and an unrestricted
  // day-of-month includes the 1st: only a restricted day-of-month that
  // decides alone (or with a `*/N` weekday) can name dates that never exist.
  if (out.day_of_month_restricted_ && !out.day_of_week_restricted_) {
    bool some_date_exists = false;
    for (int month = 1; month <= 12 && !some_date_exists; ++month) {
      if (!out.months_.test(static_cast<std::size_t>(month))) continue;
      for (int day = 1; day <= max_days_in(month); ++day) {
        if (out.days_of_month_.test(static_cast<std::size_t>(day))) some_date_exists = true;
      }
    }
    if (!some_date_exists) {
      reject_expression(text, "day-of-month field \"" + std::string(fields[2]) +
                                  "\" and month field \"" + std::string(fields[3]) +
                                  "\" name only dates that never exist, so it would never fire");
    }
  }
  return out;
}

bool CronExpression::matches_day(std::chrono::year_month_day day) const {
  if (!months_.test(static_cast<unsigned>(day.month()))) return false;
  const bool day_of_month = days_of_month_.test(static_cast<unsigned>(day.day()));
  const bool day_of_week =
      days_of_week_.test(std::chrono::weekday(std::chrono::sys_days(day)).c_encoding());
  if (day_of_month_restricted_ && day_of_week_restricted_) return day_of_month || day_of_week;
  return day_of_month && day_of_week;
}

}  // namespace jobrunner
